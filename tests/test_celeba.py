"""Tests for minivae.datasets.celeba on a CelebA-shaped folder the tests write."""

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from minivae.datasets import DatasetError, load_celeba, open_celeba
from minivae.datasets.celeba import resize_bilinear

NAMES = ["5_o_Clock_Shadow", "Blond_Hair", "Smiling"]
H, W = 218, 178                         # CelebA's aligned faces: 178 wide, 218 high


def face(i):
    """A 218 x 178 RGB uint8 image unlike the others: a red band on the left edge, a
    blue band on the right, and a gray level that names it."""
    x = np.full((H, W, 3), 20 + 40 * i, dtype=np.uint8)
    x[:, :12] = (255, 0, 0)
    x[:, -12:] = (0, 0, 255)
    return x


def write(root, n=5, kaggle=False, table="csv", formats=("jpg", "png")):
    """n faces (JPEG and PNG in turn) and an attribute table whose rows are in reverse
    order, with one row for an image that is not there. Returns (files, attributes)."""
    folder = root / "img_align_celeba"
    if kaggle:
        folder = folder / "img_align_celeba"
    folder.mkdir(parents=True)
    files, rows = [], []
    attributes = np.where((np.arange(n)[:, None] + np.arange(3)) % 2 == 0, 1, -1)
    for i in range(n):
        name = f"{i + 1:06d}.{formats[i % len(formats)]}"
        Image.fromarray(face(i)).save(folder / name, quality=95)
        files.append(name)
        rows.append([name] + [str(v) for v in attributes[i]])
    rows.append(["999999.jpg", "1", "1", "1"])             # an image not in the folder
    rows.reverse()
    if table == "csv":
        text = "image_id," + ",".join(NAMES) + "\n" + "\n".join(",".join(r) for r in rows)
        (root / "list_attr_celeba.csv").write_text(text + "\n")
    elif table == "txt":                                    # the original's layout
        text = f"{len(rows)}\n" + " ".join(NAMES) + "\n" + "\n".join(" ".join(r) for r in rows)
        (root / "list_attr_celeba.txt").write_text(text + "\n")
    return files, attributes


def reference_bilinear(x, h, w):
    """Bilinear with half-pixel centres by scipy: sample at (i + 0.5) * in / out - 0.5,
    clamped to the image (as TensorFlow clamps the two neighbours)."""
    sy = np.clip((np.arange(h) + 0.5) * x.shape[0] / h - 0.5, 0, x.shape[0] - 1)
    sx = np.clip((np.arange(w) + 0.5) * x.shape[1] / w - 0.5, 0, x.shape[1] - 1)
    yy, xx = np.meshgrid(sy, sx, indexing="ij")
    return np.stack([ndimage.map_coordinates(x[..., c], [yy, xx], order=1)
                     for c in range(x.shape[-1])], axis=-1)


@pytest.mark.parametrize("h, w", [(64, 64), (100, 37), (300, 200)])
def test_resize_bilinear_matches_an_independent_reference(h, w):
    x = np.random.default_rng(0).random((H, W, 3)).astype(np.float32)
    # float32 arithmetic against scipy's float64: a few ulps of values in [0, 1].
    np.testing.assert_allclose(resize_bilinear(x, h, w), reference_bilinear(x, h, w),
                               atol=1e-6)


def test_resize_bilinear_upscaling_matches_pillow():
    x = np.random.default_rng(1).random((25, 25)).astype(np.float32)
    pillow = np.asarray(Image.fromarray(x, mode="F").resize((64, 64), Image.BILINEAR))
    # Upscaling, Pillow's bilinear filter is the same interpolation (float32 rounding).
    np.testing.assert_allclose(resize_bilinear(x[..., None], 64, 64)[..., 0], pillow, atol=1e-6)


def test_open_indexes_sorted_files_and_aligns_rows_by_image_id(tmp_path):
    files, attributes = write(tmp_path)
    data = open_celeba(tmp_path)
    assert data.files == tuple(sorted(files)) and len(data) == 5
    assert data.attribute_names == tuple(NAMES)
    np.testing.assert_array_equal(data.attributes, attributes)   # despite the reversed rows
    np.testing.assert_array_equal(data.attribute("Blond_Hair"), attributes[:, 1])
    with pytest.raises(DatasetError, match="no attribute 'Bald'"):
        data.attribute("Bald")


@pytest.mark.parametrize("layout", ["kaggle", "txt", "none"])
def test_other_layouts(tmp_path, layout):
    _, attributes = write(tmp_path, kaggle=layout == "kaggle",
                          table={"kaggle": "csv", "txt": "txt", "none": None}[layout])
    data = open_celeba(tmp_path)
    assert len(data) == 5
    if layout == "none":
        assert data.attributes is None
        with pytest.raises(DatasetError, match="no list_attr_celeba.csv or"):
            data.attribute("Smiling")
    else:
        np.testing.assert_array_equal(data.attributes, attributes)


def test_batches_resize_the_whole_image_without_a_crop(tmp_path):
    write(tmp_path, n=5, formats=("png",))
    batches = list(open_celeba(tmp_path).batches(batch_size=2, attribute="Smiling"))
    assert [len(b[0]) for b in batches] == [2, 2, 1]           # one batch at a time
    x = np.concatenate([b[0] for b in batches])
    assert x.shape == (5, 64, 64, 3) and x.dtype == np.float32
    for i in range(5):
        expected = reference_bilinear(face(i).astype(np.float64) / 255, 64, 64)
        # PNG is lossless: the only difference is float32 against float64 arithmetic.
        np.testing.assert_allclose(x[i], expected, atol=1e-6)
    # No crop: both 12-pixel edge bands (4.3 output pixels wide) survive.
    assert np.all(x[:, :, :3, 0] > 0.99) and np.all(x[:, :, -3:, 2] > 0.99)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]),
                                  open_celeba(tmp_path).attribute("Smiling"))


def test_jpeg_files_decode_close_to_their_pixels(tmp_path):
    write(tmp_path, n=2, formats=("jpg",))
    x = load_celeba(tmp_path, 2)
    for i in range(2):
        expected = reference_bilinear(face(i).astype(np.float64) / 255, 64, 64)
        # JPEG at quality 95 moves flat regions by a few levels of 255; the colour
        # bands' edges ring more, so the bound is on the mean.
        assert np.abs(x[i] - expected).mean() < 0.02


def test_load_limit_shuffle_dtypes_and_area(tmp_path):
    write(tmp_path, n=5, formats=("png",))
    images, labels = load_celeba(tmp_path, 3, attribute="Blond_Hair")
    assert images.shape == (3, 64, 64, 3) and labels.dtype == np.int8
    np.testing.assert_array_equal(labels, open_celeba(tmp_path).attribute("Blond_Hair")[:3])
    pixels = load_celeba(tmp_path, 5, dtype="uint8")
    floats = load_celeba(tmp_path, 5)
    assert pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, np.rint(floats * 255).astype(np.uint8))
    a = load_celeba(tmp_path, 5, shuffle=True, rng=np.random.default_rng(3))
    b = load_celeba(tmp_path, 5, shuffle=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    order = np.random.default_rng(3).permutation(5)
    np.testing.assert_array_equal(a, floats[order])
    area = load_celeba(tmp_path, 1, interpolation="area", size=(32, 16))
    assert area.shape == (1, 32, 16, 3)
    # Area averaging of a flat region is that region's value exactly (up to float32).
    np.testing.assert_allclose(area[0, :, 4:12], 20 / 255, atol=1e-6)
    assert len(load_celeba(tmp_path, 100)) == 5                # limit past the end


def test_errors_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(DatasetError, match="holds no img_align_celeba/ folder"):
        open_celeba(tmp_path)
    (tmp_path / "img_align_celeba").mkdir()
    with pytest.raises(DatasetError, match="holds no .jpg, .jpeg or .png file"):
        open_celeba(tmp_path)
    Image.fromarray(face(0)).save(tmp_path / "img_align_celeba" / "000001.png")
    table = tmp_path / "list_attr_celeba.csv"
    for text, match in (("image_id,A,B\n000001.png,1\n", "line 2 has 2 fields"),
                        ("image_id,A\n000001.png,0\n", "other than -1 and 1"),
                        ("image_id,A\n000001.png,x\n", "other than -1 and 1"),
                        ("image_id,A\n000002.png,1\n", "no row for 1 of the 1 images")):
        table.write_text(text)
        with pytest.raises(DatasetError, match=match):
            open_celeba(tmp_path)
    table.unlink()
    (tmp_path / "img_align_celeba" / "000002.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="000002.jpg: cannot be read as an image"):
        load_celeba(tmp_path, 2)
    with pytest.raises(TypeError, match="limit must be a positive integer"):
        load_celeba(tmp_path, None)
    with pytest.raises(ValueError, match="unknown interpolation 'cubic'"):
        load_celeba(tmp_path, 1, interpolation="cubic")
