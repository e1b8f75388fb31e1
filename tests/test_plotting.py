"""Tests for minivae.plotting: real PNGs on disk, exact tiling, the grid's ppf rule."""

import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread
from scipy.stats import norm

from minivae.latent import principal_components
from minivae.plotting import (latent_grid_points, plot_history, plot_image_grid,
                              plot_interpolation, plot_latent_grid, plot_latent_scatter,
                              plot_reconstructions, tile_images)
from tests.conftest import PNG, exact_pca_data

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def assert_real_png(path, returned):
    """The file exists, is a PNG, reads back with a non-empty, non-blank picture."""
    assert returned == path
    assert path.read_bytes()[:8] == PNG
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 0 and pixels.shape[1] > 0
    assert pixels[..., :3].var() > 0
    return pixels


def stripes(N, C=1, size=12):
    """N distinct images in [0, 1]: stripes at N angles (and shifted copies per channel)."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    angles = np.linspace(0.0, np.pi, N, endpoint=False)
    gray = np.stack([0.5 + 0.5 * np.sin(5 * (xx * np.cos(a) + yy * np.sin(a))) for a in angles])
    return np.stack([np.roll(gray, c, axis=2) for c in range(C)], axis=-1)


def ramp_decode(points, size=8):
    """A stand-in decoder: the image is a sigmoid ramp whose slope is z_1, z_2."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    t = points[:, 0, None, None] * xx + points[:, 1, None, None] * yy
    return (1.0 / (1.0 + np.exp(-4 * t)))[..., None]


# ------------------------------------------------------------------ tile_images

def test_tile_images_exact_layout_grayscale():
    x = np.arange(5 * 2 * 3).reshape(5, 2, 3)           # 5 images of 2 x 3
    out = tile_images(x, ncols=3, fill=-1)
    assert out.shape == (2 * 2, 3 * 3) and out.dtype == x.dtype
    for k in range(5):
        i, j = divmod(k, 3)
        np.testing.assert_array_equal(out[2 * i:2 * i + 2, 3 * j:3 * j + 3], x[k])
    np.testing.assert_array_equal(out[2:, 6:], -1)      # the empty sixth cell


def test_tile_images_keeps_channels_and_pads_between_cells_only():
    x = np.arange(4 * 2 * 2 * 3, dtype=float).reshape(4, 2, 2, 3)
    out = tile_images(x, ncols=2, pad=1, fill=9.5)
    assert out.shape == (2 * 2 + 1, 2 * 2 + 1, 3)
    np.testing.assert_array_equal(out[0:2, 0:2], x[0])
    np.testing.assert_array_equal(out[0:2, 3:5], x[1])
    np.testing.assert_array_equal(out[3:5, 0:2], x[2])
    np.testing.assert_array_equal(out[3:5, 3:5], x[3])
    np.testing.assert_array_equal(out[2], 9.5)          # the gap row
    np.testing.assert_array_equal(out[:, 2], 9.5)       # the gap column


def test_tile_images_one_row_and_one_column():
    x = np.arange(3 * 2 * 2).reshape(3, 2, 2)
    np.testing.assert_array_equal(tile_images(x, 3), np.concatenate(list(x), axis=1))
    np.testing.assert_array_equal(tile_images(x, 1), np.concatenate(list(x), axis=0))


@pytest.mark.parametrize("images, ncols, pad, match", [
    (np.zeros((2, 3)), 1, 0, r"images must have shape \(N, H, W\)"),
    (np.zeros((0, 3, 3)), 1, 0, "images is empty"),
    (np.zeros((2, 3, 3)), 0, 0, "ncols must be a positive integer"),
    (np.zeros((2, 3, 3)), 1, -1, "pad must be an integer >= 0"),
])
def test_tile_images_rejects_bad_input(images, ncols, pad, match):
    with pytest.raises(ValueError, match=match):
        tile_images(images, ncols, pad=pad)


# ------------------------------------------------------------ latent_grid_points

@pytest.mark.parametrize("n", [2, 7, 15, 101])
def test_latent_grid_points_are_the_book_ppf_values(n):
    g = norm.ppf(np.linspace(0.01, 0.99, n))
    points = latent_grid_points(n)
    assert points.shape == (n * n, 2) and np.all(np.isfinite(points))
    rows = points.reshape(n, n, 2)
    for i in range(n):                                  # z_1 runs left to right on every row
        np.testing.assert_array_equal(rows[i, :, 0], g)
    for j in range(n):                                  # z_2 runs downwards, largest on top
        np.testing.assert_array_equal(rows[:, j, 1], g[::-1])
    # ppf is odd and linspace(0.01, 0.99) is symmetric about 0.5 up to the
    # rounding of its steps (~1e-17), which ppf's slope (< 40 here) keeps ~1e-15.
    np.testing.assert_allclose(g + g[::-1], 0.0, atol=1e-12)
    assert abs(points).max() == pytest.approx(norm.ppf(0.99))


def test_latent_grid_points_in_higher_dim_without_components_use_first_two_axes():
    points = latent_grid_points(5, latent_dim=4, mean=np.array([0.0, 0.0, 1.0, -2.0]))
    np.testing.assert_array_equal(points[:, :2], latent_grid_points(5))
    np.testing.assert_array_equal(points[:, 2:], np.tile([1.0, -2.0], (25, 1)))


def test_latent_grid_points_span_the_principal_plane():
    rng = np.random.default_rng(4)
    z, Q, _, _ = exact_pca_data(rng, d=5)
    _, components, mean, ratio = principal_components(z, k=2)
    scale = np.sqrt(ratio)
    n = 6
    points = latent_grid_points(n, components=components, mean=mean, scale=scale)
    assert points.shape == (n * n, 5)
    # Components are orthonormal rows: projecting back recovers the scaled grid
    # exactly up to round-off, and nothing is left outside the PC plane.
    coords = (points - mean) @ components.T
    np.testing.assert_allclose(coords, latent_grid_points(n) * scale, atol=1e-12)
    residual = (points - mean) - coords @ components
    np.testing.assert_allclose(residual, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(components @ Q[:, :2]), np.eye(2), atol=1e-10)


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 1}, "n must be at least 2"),
    ({"latent_dim": 1}, "latent_dim >= 2"),
    ({"components": np.eye(3)}, r"components must have shape \(2, latent_dim\)"),
    ({"components": np.eye(2, 4), "latent_dim": 3}, r"components must have shape \(2, 3\)"),
    ({"mean": np.zeros(3)}, r"mean must have shape \(2,\)"),
    ({"scale": -1.0}, "scale must be a positive number"),
    ({"scale": [1.0, 2.0, 3.0]}, "scale must be a positive number"),
])
def test_latent_grid_points_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        latent_grid_points(**kwargs)


# --------------------------------------------------------------------- figures

@pytest.mark.parametrize("C", [1, 3])
def test_plot_reconstructions_writes_png_wider_than_tall(tmp_path, C):
    x = stripes(12, C)
    path = tmp_path / "deep" / "folder" / "recon.png"   # parents are created
    pixels = assert_real_png(path, plot_reconstructions(x, x[::-1], path, n=10))
    assert pixels.shape[1] > 3 * pixels.shape[0]        # 10 columns over 2 rows


@pytest.mark.parametrize("C", [1, 3])
def test_plot_image_grid_writes_png(tmp_path, C):
    path = tmp_path / "grid.png"
    assert_real_png(path, plot_image_grid(stripes(7, C), path, ncols=4, title="samples"))


def test_plot_image_grid_accepts_str_path_and_fewer_images_than_columns(tmp_path):
    path = tmp_path / "few.png"
    assert plot_image_grid(stripes(3), str(path), ncols=10) == path
    assert path.read_bytes()[:8] == PNG


def test_plot_interpolation_writes_one_row_strip(tmp_path):
    path = tmp_path / "interp.png"
    pixels = assert_real_png(path, plot_interpolation(stripes(8), path))
    assert pixels.shape[1] > 5 * pixels.shape[0]


@pytest.mark.parametrize("d", [1, 2, 5])
def test_plot_latent_scatter_writes_png_for_each_dimension(tmp_path, d):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, 300)
    z = rng.normal(size=(300, d)) + labels[:, None] * 0.3
    path = tmp_path / f"scatter{d}.png"
    assert_real_png(path, plot_latent_scatter(z, labels, path, class_names=FASHION))


def test_plot_latent_scatter_without_labels(tmp_path):
    path = tmp_path / "plain.png"
    z = np.random.default_rng(6).normal(size=(100, 2))
    assert_real_png(path, plot_latent_scatter(z, None, path))


def test_plot_latent_grid_decodes_once_in_two_dims(tmp_path):
    calls = []

    def decode(points):
        calls.append(points.copy())
        return ramp_decode(points)

    path = tmp_path / "grid2.png"
    assert_real_png(path, plot_latent_grid(decode, path, n=7))
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], latent_grid_points(7))


def test_plot_latent_grid_through_principal_components(tmp_path):
    rng = np.random.default_rng(7)
    z = rng.normal(size=(200, 6)) * [3.0, 2.0, 1.0, 1.0, 0.5, 0.1]
    _, components, mean, _ = principal_components(z)
    seen = []

    def decode(points):
        seen.append(points.shape)
        return ramp_decode(points[:, :2])

    path = tmp_path / "grid_pca.png"
    assert_real_png(path, plot_latent_grid(decode, path, n=5, components=components, mean=mean))
    assert seen == [(25, 6)]


def test_plot_history_full_partial_and_other_metrics(tmp_path):
    epochs = 6
    full = {"total_loss": list(np.linspace(200, 150, epochs)),
            "reconstruction_loss": list(np.linspace(190, 135, epochs)),
            "kl_loss": list(np.linspace(10, 15, epochs)),
            "val_total_loss": list(np.linspace(205, 160, epochs)),
            "val_reconstruction_loss": list(np.linspace(195, 145, epochs)),
            "val_kl_loss": list(np.linspace(10, 15.5, epochs))}
    wide = assert_real_png(tmp_path / "h.png", plot_history(full, tmp_path / "h.png"))
    partial = {"total_loss": [3.0, 2.0, 1.5], "kl_loss": [], "loss": [1.0, float("nan"), 0.5]}
    narrow = assert_real_png(tmp_path / "p.png", plot_history(partial, tmp_path / "p.png"))
    assert narrow.shape[1] < wide.shape[1]              # two panels instead of three


@pytest.mark.parametrize("history, error, match", [
    ({}, ValueError, "history holds no values"),
    ({"total_loss": [], "val_total_loss": []}, ValueError, "history holds no values"),
    ([1.0, 2.0], TypeError, "history must be a dict"),
    ({"total_loss": [[1.0, 2.0]]}, ValueError, "one value per epoch"),
    ({"total_loss": ["a", "b"]}, TypeError, r"history\['total_loss'\] must be a list of numbers"),
])
def test_plot_history_rejects_bad_input(tmp_path, history, error, match):
    with pytest.raises(error, match=match):
        plot_history(history, tmp_path / "bad.png")


# ------------------------------------------------------------------ bad inputs

GOOD = stripes(4)


@pytest.mark.parametrize("call, error, match", [
    (lambda p: plot_image_grid(GOOD[..., 0], p), ValueError, "images must have 4 dimensions"),
    (lambda p: plot_image_grid(np.concatenate([GOOD, GOOD], -1), p), ValueError,
     r"C = 1 \(grayscale\) or 3 \(RGB\), got shape \(4, 12, 12, 2\)"),
    (lambda p: plot_image_grid(GOOD * 255, p), ValueError, r"must lie in \[0, 1\]"),
    (lambda p: plot_image_grid((GOOD * 255).astype(np.uint8), p), TypeError, "floating-point"),
    (lambda p: plot_image_grid(np.where(GOOD > 0.5, np.nan, GOOD), p), ValueError, "non-finite"),
    (lambda p: plot_image_grid(GOOD[:0], p), ValueError, "images is empty"),
    (lambda p: plot_image_grid(GOOD, p, ncols=0), ValueError, "ncols must be a positive"),
    (lambda p: plot_image_grid(GOOD, 3), TypeError, "path must be a str or os.PathLike"),
    (lambda p: plot_image_grid(GOOD, p, dpi=0), ValueError, "dpi must be a positive number"),
    (lambda p: plot_interpolation(GOOD[0], p), ValueError, "plot_interpolation: images must"),
    (lambda p: plot_reconstructions(GOOD, GOOD[:3], p), ValueError,
     r"same shape, got \(4, 12, 12, 1\) and \(3, 12, 12, 1\)"),
    (lambda p: plot_reconstructions(GOOD, GOOD - 1, p), ValueError,
     r"reconstructions must lie in \[0, 1\]"),
    (lambda p: plot_latent_scatter(np.zeros((5, 2)), np.zeros(4, int), p), ValueError,
     r"labels must have shape \(5,\), one per row of z, got shape \(4,\)"),
    (lambda p: plot_latent_scatter(np.zeros((5, 2)), np.zeros(5), p), TypeError,
     "labels must be integer class indices"),
    (lambda p: plot_latent_scatter(np.zeros((3, 2)), [0, 1, 10], p, class_names=FASHION),
     ValueError, r"labels must index class_names \(0 to 9\), got labels from 0 to 10"),
    (lambda p: plot_latent_scatter(np.full((3, 2), np.inf), None, p), ValueError,
     "z holds 6 non-finite"),
    (lambda p: plot_latent_scatter(np.zeros(3), None, p), ValueError, "z must have 2 dimensions"),
    (lambda p: plot_latent_grid("decoder", p), TypeError, "decode must be callable"),
    (lambda p: plot_latent_grid(lambda z: ramp_decode(z)[:-1], p, n=3), ValueError,
     r"one image per point, 9 in all, got shape \(8, 8, 8, 1\)"),
    (lambda p: plot_latent_grid(lambda z: ramp_decode(z) * 2, p, n=3), ValueError,
     r"decode\(points\) must lie in \[0, 1\]"),
])
def test_bad_inputs_raise_clear_errors(tmp_path, call, error, match):
    path = tmp_path / "never.png"
    with pytest.raises(error, match=match):
        call(path)
    assert not path.exists()


def test_import_does_not_touch_pyplot():
    # No pyplot means no global figure registry to leak figures into and no
    # interactive backend that would need a display.
    code = ("import sys, numpy as np, minivae.plotting as P, tempfile, os;"
            "P.plot_image_grid(np.random.default_rng(0).random((2, 4, 4, 1)),"
            " os.path.join(tempfile.mkdtemp(), 'x.png'));"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- file formats --

MAGIC = {"png": PNG, "jpg": b"\xff\xd8\xff", "jpeg": b"\xff\xd8\xff", "JPG": b"\xff\xd8\xff",
         "pdf": b"%PDF-"}


@pytest.mark.parametrize("extension", [*MAGIC, "svg"])
def test_the_extension_names_the_format(tmp_path, extension):
    path = plot_image_grid(GOOD, tmp_path / f"grid.{extension}")
    data = path.read_bytes()
    if extension == "svg":      # XML: a declaration, then the <svg> element
        assert data.startswith(b"<?xml") and b"<svg" in data[:1000]
    else:
        assert data.startswith(MAGIC[extension])


@pytest.mark.parametrize("name, given", [("grid.gif", "extension '.gif'"),
                                         ("grid.png.bak", "extension '.bak'"),
                                         ("grid", "no extension")])
def test_an_unknown_extension_is_refused_before_drawing(tmp_path, name, given):
    path = tmp_path / name
    with pytest.raises(ValueError, match=rf"^cannot tell the figure format of "
                                         rf"'.*{name}' from its {given}; end the name in "
                                         rf"\.png, \.jpg, \.jpeg, \.pdf, \.svg"):
        plot_image_grid(GOOD, path)
    assert not path.exists()


def test_a_failed_write_names_the_figure(tmp_path, monkeypatch):
    """A full disk fails inside savefig's write, where the OSError carries no file name."""
    import errno
    from matplotlib.figure import Figure

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    with pytest.raises(OSError, match=r"No space left on device: '.*grid\.png'"):
        plot_image_grid(GOOD, tmp_path / "grid.png")


def test_a_bad_mplbackend_is_one_error_from_every_entry_that_starts_matplotlib(tmp_path):
    """Each function that imports matplotlib starts it through one helper that turns a bad
    MPLBACKEND into an InputError naming the variable (plot_history and legend_marker
    imported matplotlib before it once, and raised matplotlib's ValueError). The folder
    reader, which decodes images with matplotlib's imread, is checked here too."""
    code = f"""
import numpy as np
from minivae.datasets import load_image_folder
from minivae.errors import InputError
from minivae.plotting import plot_history
from minivae.plotting._canvas import legend_marker
from PIL import Image
Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save({str(tmp_path / 'a.png')!r})
calls = {{"plot_history": lambda: plot_history({{"total_loss": [1.0]}}, {str(tmp_path / 'h.png')!r}),
          "legend_marker": lambda: legend_marker("red", "a"),
          "load_image_folder": lambda: load_image_folder({str(tmp_path)!r})}}
for name, call in calls.items():
    try:
        call()
        print(name, "raised nothing")
    except InputError as exc:
        one_line = "\\n" not in str(exc) and "MPLBACKEND" in str(exc)
        print(name, "InputError", str(exc).startswith("matplotlib cannot start"), one_line)
"""
    env = {**os.environ, "MPLBACKEND": "nonsense"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{name} InputError True True" for name in ("plot_history", "legend_marker", "load_image_folder")], result.stdout
