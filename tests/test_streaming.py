"""Tests for minivae.datasets.streaming: folders and CelebA read one batch at a time,
giving exactly the images that loading them all gave (issues 21 and 22)."""

import math

import numpy as np
import pytest
from PIL import Image

from minivae import figures, runs
from minivae.datasets import (FolderImages, ImageBatches, batches_of, load_celeba,
                              load_image_folder, load_for_training, parse_spec)
from minivae.datasets import spec as spec_module
from minivae.datasets.folders import folder_pixels, image_files
from minivae.errors import InputError
from tests.test_celeba import write as write_celeba

SIZE = 8


def write_folder(folder, n, bad=()):
    """n PNGs of assorted sizes and modes (RGB, gray, RGBA), named 000.png ...; the
    indices in `bad` are files that are not images."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    modes = (("RGB", 3), ("L", None), ("RGBA", 4))
    for i in range(n):
        if i in bad:
            (folder / f"{i:03d}.png").write_bytes(b"not a png")
            continue
        mode, channels = modes[i % 3]
        shape = (10 + i % 4, 12 + i % 5) + ((channels,) if channels else ())
        Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode).save(
            folder / f"{i:03d}.png")
    return folder


def loaded_today(folder, size=SIZE):
    """What load_spec gave before streaming: every image loaded, then as uint8."""
    return np.round(load_image_folder(folder, size=(size, size)) * 255).astype(np.uint8)


def test_folder_images_index_as_the_loaded_array_does(tmp_path):
    folder = write_folder(tmp_path / "f", 11)
    expected = loaded_today(folder)
    images = FolderImages(image_files(folder), (SIZE, SIZE), folder_pixels)
    assert images.shape == expected.shape and len(images) == 11 and images.ndim == 4
    np.testing.assert_array_equal(images[:], expected)
    np.testing.assert_array_equal(images[3:7], expected[3:7])
    np.testing.assert_array_equal(images[[5, 0, 5]], expected[[5, 0, 5]])
    np.testing.assert_array_equal(images[4], expected[4])
    np.testing.assert_array_equal(np.asarray(images.head(2)), expected[:2])
    flat = images.flattened()
    assert flat.shape == (11, SIZE * SIZE * 3)
    np.testing.assert_array_equal(flat[2:4], expected[2:4].reshape(2, -1))
    with pytest.raises(InputError, match="index with"):
        images[[0.5]]


@pytest.mark.parametrize("batch_size", [1, 4, 11, 50])
def test_image_batches_are_the_array_cut_in_order(tmp_path, batch_size):
    folder = write_folder(tmp_path / "f", 11)
    images = FolderImages(image_files(folder), (SIZE, SIZE), folder_pixels)
    batches = batches_of(images, batch_size)
    assert isinstance(batches, ImageBatches) and len(batches) == math.ceil(11 / batch_size)
    np.testing.assert_array_equal(np.concatenate([batches[i] for i in range(len(batches))]),
                                  loaded_today(folder))
    with pytest.raises(IndexError):
        batches[len(batches)]
    array = np.zeros((3, 2))
    assert batches_of(array, 2) is array          # images in memory stay as they are


@pytest.mark.parametrize("n, limit", [(11, None), (11, 3), (1, None), (2, None)])
def test_a_folders_split_is_todays_90_10_in_the_same_order(tmp_path, n, limit):
    folder = write_folder(tmp_path / "f", n)
    everything = loaded_today(folder)
    cut = max(1, int(0.9 * n)) if n > 1 else n
    train_today = everything[:cut]
    val_today = everything[cut:] if cut < n else everything
    spec = parse_spec(f"folder:{folder}", image_size=SIZE)
    train, val = load_for_training(spec, limit, verbose=0)
    assert isinstance(train.images, FolderImages)
    np.testing.assert_array_equal(np.asarray(train.images), train_today[:limit])
    np.testing.assert_array_equal(np.asarray(val.images), val_today[:limit])


def test_celeba_streams_the_faces_load_celeba_gave(tmp_path):
    write_celeba(tmp_path, n=6)        # face(i) is gray 20 + 40 i: six fit in uint8
    spec = parse_spec(f"celeba:{tmp_path}", image_size=SIZE)
    for limit in (None, 5):
        expected = load_celeba(tmp_path, limit or 100, size=(SIZE, SIZE), dtype="uint8")
        cut = max(1, int(0.9 * len(expected)))
        train, val = load_for_training(spec, limit, verbose=0)
        np.testing.assert_array_equal(np.asarray(train.images), expected[:cut][:limit])
        np.testing.assert_array_equal(np.asarray(val.images), expected[cut:][:limit])


def test_a_limited_run_reads_only_its_images(tmp_path, monkeypatch):
    """--limit 4 on a folder of 40 reads the first 4 training and 4 validation files,
    however many epochs and figures: a broken file beyond them is never opened."""
    folder = write_folder(tmp_path / "f", 40, bad=(20,))
    files = image_files(folder)
    read = []

    def counting(file, size):
        read.append(file)
        return folder_pixels(file, size)

    monkeypatch.setattr(spec_module, "folder_pixels", counting)
    runs.train_run(tmp_path / "run", model="faces", data=f"folder:{folder}", latent_dim=2,
                   epochs=2, batch_size=2, limit=4, verbose=0)
    assert set(read) == set(files[:4]) | set(files[36:40])
    # the commands read only the test images they show: the split's first two here
    for command, kwargs in ((figures.reconstruct, {"n": 2}), (figures.morph, {"steps": 3})):
        read.clear()
        command(tmp_path / "run" / "model.npz", tmp_path / "figure.png", **kwargs)
        assert sorted(set(read)) == files[36:38], command.__name__
