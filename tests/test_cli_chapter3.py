"""The commands `embedding`, `attribute` and `morph` on saved models (minivae.cli over
minivae.figures)."""

import json

import numpy as np
import pytest

from minivae import checkpoint, cli
from minivae.datasets import standin
from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Reshape
from minivae.models import VAE, Autoencoder, GaussianEncoder, Sequential


def small_model(kind, shape, latent_dim=2, seed=0):
    """A small model of minivae's layers for `shape` (side divisible by 4): a stride-4
    convolution, then the latent code, and back. Any model works with the commands."""
    side, channels = shape[0], shape[-1]
    body = [Conv2D(4, 3, strides=4, padding="same", activation="relu"), Flatten()]
    decoder = Sequential([Dense((side // 4) ** 2 * 2, name="dense"),
                          Reshape((side // 4, side // 4, 2)),
                          Conv2DTranspose(channels, 3, strides=4, padding="same",
                                          activation="sigmoid", name="out")], name="decoder")
    if kind == "vae":
        model = VAE(GaussianEncoder(body, latent_dim), decoder,
                    rng=np.random.default_rng(seed))
    else:
        model = Autoencoder(Sequential(body + [Dense(latent_dim, name="code")],
                                       name="encoder"), decoder)
    return model.build(shape, rng=np.random.default_rng(seed), dtype="float32")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    paths = {}
    for name, kind, shape, d in (("vae", "vae", (32, 32, 1), 3), ("ae", "ae", (32, 32, 1), 2),
                                 ("faces", "vae", (64, 64, 3), 4)):
        paths[name] = folder / f"{name}.npz"
        checkpoint.save(paths[name], small_model(kind, shape, d))
    return paths


@pytest.fixture(scope="module")
def celeba(tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba")
    x, attributes = standin.drawn_faces(40, np.random.default_rng(0))
    return standin.write_celeba_layout(root, x, attributes)


@pytest.fixture
def run(no_real_data, capsys):
    """minivae's main(), with what it printed."""
    def call(*argv):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return call


def test_embedding_writes_every_figure_for_a_vae(run, checkpoints, tmp_path):
    code, out, err = run("embedding", checkpoints["vae"], "--out", tmp_path, "--limit", 200,
                         "--grid", 5, "--dims", 3)
    assert code == 0, err
    assert "using the embedded sample" in err and "encoded 200 images" in out
    for name in ("reconstructions", "scatter", "scatter_labels", "box_samples", "range_grid",
                 "prior_samples", "p_space", "latent_histograms"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000, name
    report = json.loads((tmp_path / "embedding.json").read_text())
    assert report["codes"] == 200 and report["latent_dim"] == 3
    assert len(report["axes"]["kl_to_prior"]) == 3


def test_embedding_of_an_autoencoder_has_no_prior_figures(run, checkpoints, tmp_path):
    code, _, err = run("embedding", checkpoints["ae"], "--out", tmp_path, "--limit", 100,
                       "--grid", 4, "--quiet")
    assert code == 0, err
    assert (tmp_path / "box_samples.png").exists() and (tmp_path / "range_grid.png").exists()
    assert not (tmp_path / "prior_samples.png").exists()
    assert not (tmp_path / "p_space.png").exists()


def test_attribute_from_fashion_classes(run, checkpoints, tmp_path):
    code, out, err = run("attribute", checkpoints["vae"], "--positive", "sandal", "7",
                         "Ankle boot", "--limit", 600, "--factors", -1, 0, 1, "--faces", 3,
                         "--out", tmp_path)
    assert code == 0, err
    assert "label: Sandal + Sneaker + Ankle boot" in out and "move +" in out
    report = json.loads((tmp_path / "attribute.json").read_text())
    assert report["label"] == "Sandal + Sneaker + Ankle boot"
    assert report["n_positive"] > 0 and report["n_negative"] > 0
    assert len(report["vector"]) == 3 and np.isclose(np.linalg.norm(report["vector"]), 1.0)
    assert len(report["history"]) >= 1 and report["sampled_z"] is True
    assert (tmp_path / "attribute.png").exists()


def test_attribute_and_embedding_on_celeba(run, checkpoints, celeba, tmp_path):
    code, out, err = run("attribute", checkpoints["faces"], "--celeba", celeba, "--attribute",
                         "Blond_Hair", "--batch-size", 8, "--z-mean", "--out", tmp_path)
    assert code == 0, err
    report = json.loads((tmp_path / "attribute.json").read_text())
    assert report["label"] == "Blond_Hair" and report["sampled_z"] is False
    assert report["n_positive"] + report["n_negative"] <= 40
    code, _, err = run("embedding", checkpoints["faces"], "--celeba", celeba, "--out",
                       tmp_path / "e", "--grid", 3, "-n", 4, "--quiet")
    assert code == 0, err
    assert not (tmp_path / "e" / "scatter_labels.png").exists()    # no classes in CelebA
    assert (tmp_path / "e" / "latent_histograms.png").exists()


def test_morph_writes_the_strip(run, checkpoints, tmp_path):
    path = tmp_path / "m.png"
    code, out, err = run("morph", checkpoints["ae"], "--index-a", 3, "--index-b", 8,
                         "--steps", 5, "--out", path)
    assert code == 0, err
    assert out.strip() == str(path) and path.stat().st_size > 1000


@pytest.mark.parametrize("argv, message", [
    (["attribute", "{vae}", "--positive", "Sandalx"], "unknown class 'Sandalx'"),
    (["attribute", "{vae}", "--positive", *map(str, range(10))], "names every class"),
    (["attribute", "{vae}"], "give the attribute one way"),
    (["attribute", "{vae}", "--attribute", "Smiling"], "pass --celeba ROOT too"),
    (["attribute", "{vae}", "--positive", "1", "--factors", "nan"], "--factors must be finite"),
    (["morph", "{vae}", "--index-b", "5000"], r"--index-b must lie in [0, 1999]"),
    (["morph", "{vae}", "--index-a", "-1"], "--index-a must be an image index >= 0"),
    (["morph", "{vae}", "--steps", "1"], "--steps must be at least 2"),
    (["embedding", "{faces}", "--limit", "10"], "reads images of shape (64, 64, 3), and "
                                                "fashion-mnist has 28x28 or 32x32 grey ones; "
                                                "name its data with --data folder:PATH "
                                                "--image-size 64, or pass --celeba ROOT"),
    (["embedding", "{vae}", "--celeba", "{missing}"], "holds no img_align_celeba/ folder"),
    (["embedding", "{missing}.npz"], "none.npz': no such file"),
    # a negative seed reached numpy, whose ValueError printed a traceback
    (["embedding", "{vae}", "--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
])
def test_user_errors_are_one_line_and_exit_2(run, checkpoints, tmp_path, argv, message):
    names = {**{k: str(v) for k, v in checkpoints.items()}, "missing": str(tmp_path / "none")}
    argv = [a.format(**names) for a in argv] + ["--out", str(tmp_path / "out")]
    code, out, err = run(*argv)
    assert code == 2
    lines = [line for line in err.splitlines() if not line.startswith("minivae: Fashion-MNIST")]
    assert len(lines) == 1 and lines[0].startswith(f"minivae {argv[0]}: error: ")
    assert message in lines[0]
