"""minivae.analysis: gaps and Gaussian fits on point sets whose answers are known,
interpolation paths, and the compare / sweep / interpolate / evaluate commands."""

import json
import math

import numpy as np
import pytest

from minivae import analysis, checkpoint
from minivae.architectures import fashion_vae
from minivae.cli import main
from tests.conftest import PNG, tiny_autoencoder, tiny_vae


# ------------------------------------------------------------------- gaps

def test_a_grid_has_no_gap_wider_than_its_half_diagonal():
    h = 0.1
    g = np.arange(0.0, 1.0 + h / 2, h)
    z = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    # Every point of the unit square lies within h / sqrt(2) = 0.0707 of a node.
    assert analysis.gap_share(z, 0.072, trim=0, standardized=False) == 0.0
    # At r = 0.02 the 121 disks cover 121 pi 0.02^2 = 15% of the square at most.
    assert analysis.gap_share(z, 0.02, trim=0, standardized=False) > 0.8


def test_two_far_clusters_leave_most_of_their_box_empty():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(0, 0.1, (500, 2)), rng.normal(10, 0.1, (500, 2))])
    # Disks of radius 1 about the two clusters cover at most 2 pi 1.4^2 = 12 of
    # the box's ~110 square units.
    assert analysis.gap_share(z, 1.0, trim=0, standardized=False) > 0.85
    # In standard deviations (each axis ~5 units) the same holds at r = 0.2.
    assert analysis.gap_share(z, 0.2) > 0.85


def test_a_dense_uniform_cloud_has_no_gaps_and_radii_give_an_array():
    z = np.random.default_rng(1).uniform(-1, 1, (5000, 2))
    # 5000 points on 12 squared standard deviations: a disk of r = 0.25 holds
    # ~80 of them on average, so an empty one has probability ~exp(-80).
    shares = analysis.gap_share(z, [0.25, 0.5])
    assert shares.shape == (2,) and np.all(shares == 0.0)


def test_standardized_gaps_ignore_the_scale_and_offset_of_the_codes():
    z = np.random.default_rng(2).standard_normal((400, 2)) * [1.0, 3.0]
    kw = {"radius": [0.1, 0.3], "rng": None}
    np.testing.assert_array_equal(analysis.gap_share(z, **kw),
                                  analysis.gap_share(50 * z + 7, **kw))
    assert analysis.gap_share(z, 0.3, standardized=False) != \
        analysis.gap_share(50 * z, 0.3, standardized=False)


def test_region_trims_percentiles():
    z = np.concatenate([np.random.default_rng(3).uniform(0, 1, (1000, 2)), [[100.0, -100.0]]])
    lo, hi = analysis.region(z)
    assert np.all(lo > -0.1) and np.all(hi < 1.1)           # the outlier does not stretch it
    lo, hi = analysis.region(z, trim=0)
    assert hi[0] == 100.0 and lo[1] == -100.0


# --------------------------------------------------------- Gaussian fit KL

def test_gaussian_fit_kl_of_a_standard_normal_sample_is_near_zero():
    z = np.random.default_rng(4).standard_normal((20000, 2))
    # The fitted moments are off by sampling error only: KL ~ chi2 with 5
    # degrees of freedom over 2N, mean 1.25e-4; 5e-3 is 80 times that.
    assert 0 <= analysis.gaussian_fit_kl(z) < 5e-3


def test_gaussian_fit_kl_matches_the_closed_form_for_known_moments():
    rng = np.random.default_rng(5)
    y = rng.standard_normal((500, 3))
    y -= y.mean(axis=0)
    y = y @ np.linalg.inv(np.linalg.cholesky(np.cov(y, rowvar=False))).T   # cov(y) = I exactly
    m, A = np.array([1.0, -2.0, 0.5]), rng.standard_normal((3, 3))
    z = m + y @ A.T                                                        # cov(z) = A A^T
    expected = 0.5 * (np.sum(A ** 2) + m @ m - 3 - 2 * math.log(abs(np.linalg.det(A))))
    assert analysis.gaussian_fit_kl(z) == pytest.approx(expected, rel=1e-10)


def test_gaussian_fit_kl_refuses_codes_in_a_subspace():
    t = np.linspace(0, 1, 50)
    with pytest.raises(ValueError, match="singular"):
        analysis.gaussian_fit_kl(np.column_stack([t, 2 * t]))


# ---------------------------------------------------------- interpolation

def test_linear_path_ends_and_midpoint():
    a, b = np.array([1.0, -2.0, 0.0]), np.array([3.0, 2.0, 4.0])
    path = analysis.interpolate(a, b, steps=5)
    assert path.shape == (5, 3)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    np.testing.assert_allclose(path[2], (a + b) / 2, rtol=1e-15)


def test_spherical_path_ends_norms_and_even_turning():
    a, b = np.array([2.0, 0.0, 0.0]), np.array([0.0, 0.0, -5.0])
    path = analysis.interpolate(a, b, steps=7, spherical=True)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    t = np.linspace(0, 1, 7)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 2 + 3 * t, rtol=1e-14)
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    turns = np.arccos(np.clip(np.sum(unit[1:] * unit[:-1], axis=1), -1, 1))
    np.testing.assert_allclose(turns, np.pi / 2 / 6, rtol=1e-12)          # equal steps
    np.testing.assert_allclose(path[:, 1], 0.0, atol=1e-15)             # in the plane of a, b
    # Equal norms stay on the sphere, where the straight line cuts inside it.
    c = np.array([0.0, 2.0, 0.0])
    np.testing.assert_allclose(np.linalg.norm(analysis.interpolate(a, c, 9, True), axis=1), 2.0,
                               rtol=1e-14)
    assert np.linalg.norm(analysis.interpolate(a, c, 9)[4]) < 1.5


def test_spherical_path_falls_back_to_linear_where_it_is_undefined():
    a = np.array([1.0, 1.0])
    for b in (-3 * a, 2 * a, np.zeros(2)):
        np.testing.assert_allclose(analysis.interpolate(a, b, 4, spherical=True),
                                   analysis.interpolate(a, b, 4), rtol=1e-15)
    with pytest.raises(ValueError, match="at least 2"):
        analysis.interpolate(a, a, 1)


# ------------------------------------------------------- on tiny models

def test_compare_latent_spaces_on_tiny_models():
    x = np.random.default_rng(6).uniform(size=(60, 8, 8, 1))
    result = analysis.compare_latent_spaces({"ae": tiny_autoencoder(), "vae": tiny_vae()}, x,
                                            radius=[0.25, 0.5], n_points=500, n_images=9)
    for r in result.values():
        assert r["codes"].shape == (60, 2) and r["points"].shape == (9, 2)
        assert r["images"].shape == (9, 8, 8, 1) and 0 <= r["images"].min() <= 1
        assert set(r["report"]["gap_share"]) == {"0.25", "0.5"}
        lo, hi = analysis.region(r["codes"])
        assert np.all(r["points"] >= lo) and np.all(r["points"] <= hi)
        json.dumps(r["report"])


def test_interpolation_images_decode_the_path():
    model = tiny_vae()
    x = np.random.default_rng(7).uniform(size=(2, 8, 8, 1))
    images, path = analysis.interpolation_images(model, x[0], x[1], steps=4)
    np.testing.assert_array_equal(path[0], model.encode(x)[0][0])
    np.testing.assert_allclose(images, model.decode(path), rtol=1e-12)


# ------------------------------------------------------------ the commands

def test_compare_command(tmp_path, no_real_data, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--epochs", "1", "--limit", "100", "--out", str(out),
                 "--radius", "0.3"]) == 0
    assert (out / "compare.png").read_bytes()[:8] == PNG
    report = json.loads((out / "compare.json").read_text())
    assert report["dataset"] == "embedded sample" and report["images"] == 100
    for name in ("autoencoder", "vae"):
        assert set(report[name]["gap_share"]) == {"0.3"} and (out / f"{name}.npz").exists()
    assert "KL(Gaussian fit" in capsys.readouterr().out
    assert main(["compare", "--radius", "-1", "--out", str(out)]) == 2      # before training
    assert "--radius must be positive" in capsys.readouterr().err


def test_sweep_command(tmp_path, no_real_data, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "--beta", "0.5", "8", "--epochs", "1", "--limit", "100",
                 "--out", str(out)]) == 0
    assert (out / "sweep.png").read_bytes()[:8] == PNG
    points = json.loads((out / "sweep.json").read_text())["points"]
    assert [p["beta"] for p in points] == [0.5, 8.0]
    for p in points:
        assert p["elbo"] == pytest.approx(-(p["rate"] + p["distortion"]))
    assert "distortion" in capsys.readouterr().out
    assert main(["sweep", "--beta", "1", "-2", "--out", str(out)]) == 2     # before training
    assert "betas must be finite numbers >= 0" in capsys.readouterr().err


def test_interpolate_and_evaluate_commands(tmp_path, no_real_data, capsys):
    # Untrained weights do: these commands only read a checkpoint, and training
    # one is test_cli's business.
    ckpt = str(checkpoint.save(tmp_path / "model.npz", fashion_vae(seed=0)))
    for extra in ([], ["--spherical"]):
        png = tmp_path / f"i{len(extra)}.png"
        assert main(["interpolate", ckpt, "--index-a", "3", "--index-b", "7", "--steps", "6",
                     "--out", str(png), *extra]) == 0
        assert png.read_bytes()[:8] == PNG
    assert main(["interpolate", ckpt, "--index-b", "99999"]) == 2
    assert "--index-b must lie in" in capsys.readouterr().err
    report_path = tmp_path / "eval.json"
    assert main(["evaluate", ckpt, "--limit", "40", "--iwae-k", "1", "5", "--iwae-limit", "10",
                 "--json", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "IWAE k=5" in out and "active units" in out
    assert set(json.loads(out.strip().splitlines()[-1])) == {"total_loss", "reconstruction_loss",
                                                             "kl_loss"}
    report = json.loads(report_path.read_text())
    assert report["images"] == 40 and report["iwae_images"] == 10
    assert report["dataset"] == "embedded sample" and set(report["iwae"]) == {"1", "5"}


def test_gaussian_fit_kl_adds_the_posterior_noise():
    # Codes with variance 0.5 per axis and posteriors of variance 0.5: the
    # encoded mixture has variance 1, as the prior; the codes alone do not.
    y = np.random.default_rng(8).standard_normal((400, 2))
    y -= y.mean(axis=0)
    z = np.sqrt(0.5) * y @ np.linalg.inv(np.linalg.cholesky(np.cov(y, rowvar=False))).T
    assert analysis.gaussian_fit_kl(z, noise_variance=[0.5, 0.5]) == pytest.approx(0, abs=1e-12)
    assert analysis.gaussian_fit_kl(z) == pytest.approx(2 * 0.5 * (0.5 - 1 - math.log(0.5)))
