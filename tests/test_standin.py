"""Tests for minivae.datasets.standin: a CelebA-shaped stand-in that open_celeba reads."""

import numpy as np
import pytest

from minivae.datasets import load_celeba, open_celeba, standin


def test_drawn_faces_carry_their_attributes():
    x, attributes = standin.drawn_faces(60, np.random.default_rng(0))
    assert x.shape == (60, 64, 64, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    blond, smiling = attributes["Blond_Hair"] == 1, attributes["Smiling"] == 1
    assert 0 < blond.sum() < 60 and 0 < smiling.sum() < 60
    # Blond hair is yellow: above the face (rows 2-10) blue is well below red for the
    # blond and not for the rest (dark hair or the background).
    hair = x[:, 2:10, 24:40]
    yellow = (hair[..., 0] - hair[..., 2] > 0.4).mean(axis=(1, 2))
    assert yellow[blond].min() > yellow[~blond].mean()
    np.testing.assert_array_equal(x, standin.drawn_faces(60, np.random.default_rng(0))[0])


def test_written_layout_reads_back_through_open_celeba(tmp_path):
    x, attributes = standin.drawn_faces(12, np.random.default_rng(1))
    standin.write_celeba_layout(tmp_path, x, attributes)
    data = open_celeba(tmp_path)
    assert len(data) == 12 and data.attribute_names == ("Blond_Hair", "Smiling")
    np.testing.assert_array_equal(data.attribute("Smiling"), attributes["Smiling"])
    # PNG stores uint8: reading back differs from the drawn floats by rounding, 0.5 / 255.
    np.testing.assert_allclose(load_celeba(tmp_path, 12), x, atol=0.5 / 255 + 1e-6)


def test_write_rejects_bad_attributes(tmp_path):
    x = np.zeros((2, 4, 4, 3))
    with pytest.raises(ValueError, match="2 values of -1 or 1"):
        standin.write_celeba_layout(tmp_path, x, {"A": [1, 0]})


def test_standin_prefers_lfw_and_falls_back_to_drawn_faces(tmp_path, monkeypatch):
    monkeypatch.setattr(standin, "lfw_faces", lambda: None)
    what, attribute = standin.make_celeba_standin(tmp_path / "drawn", n_drawn=10)
    assert "drawn" in what and attribute == "Blond_Hair"
    assert len(open_celeba(tmp_path / "drawn")) == 10
    faces = np.random.default_rng(0).random((6, 25, 25, 3))
    monkeypatch.setattr(standin, "lfw_faces", lambda: faces)
    what, attribute = standin.make_celeba_standin(tmp_path / "lfw")
    assert "LFW" in what and attribute == "Bright"
    data = open_celeba(tmp_path / "lfw")
    np.testing.assert_array_equal(data.attribute("Bright"), standin.brightness_attribute(faces))


def test_lfw_faces_when_scikit_image_is_installed():
    pytest.importorskip("skimage", reason="scikit-image is an optional extra")
    faces = standin.lfw_faces()
    assert faces.shape == (100, 25, 25, 3) and 0.0 <= faces.min() and faces.max() <= 1.0
