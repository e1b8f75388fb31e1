"""minivae.figures: a checkpoint's figures written to files, called as a notebook would
(the commands that call them: tests/test_cli*.py)."""

import numpy as np
import pytest

from minivae import checkpoint, figures
from minivae.architectures import fashion_autoencoder, fashion_vae
from minivae.datasets import load_for_training, parse_spec
from minivae.errors import InputError
from minivae.training import History
from tests.conftest import PNG


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    return {"vae": checkpoint.save(folder / "vae.npz", fashion_vae(latent_dim=3, seed=0)),
            "ae": checkpoint.save(folder / "ae.npz", fashion_autoencoder(seed=0))}


def test_write_figures_draws_a_runs_five_for_a_vae_and_four_for_an_autoencoder(
        tmp_path, no_real_data):
    _, val = load_for_training(parse_spec(), limit=40, verbose=0)
    history = History({"total_loss": [2.0, 1.0]}, [0, 1])
    names = [p.name for p in figures.write_figures(fashion_vae(latent_dim=3, seed=0), tmp_path,
                                                   val, history)]
    assert names == ["reconstructions.png", "latent_scatter.png", "latent_grid.png",
                     "samples.png", "loss_curves.png"]
    names = [p.name for p in figures.write_figures(fashion_autoencoder(seed=0), tmp_path / "ae",
                                                   val, history)]
    assert "samples.png" not in names and (tmp_path / "ae" / "latent_grid.png").exists()


def test_sample_writes_a_figure_or_any_number_to_npy(saved, tmp_path):
    assert figures.sample(saved["vae"], tmp_path / "s.png", n=4).read_bytes()[:8] == PNG
    path = figures.sample(saved["vae"], tmp_path / "s.npy", n=1001, seed=2)
    model = checkpoint.load(saved["vae"])
    np.testing.assert_array_equal(np.load(path), model.generate(1001, np.random.default_rng(2)))
    with pytest.raises(InputError, match="-n 1,001 would tile 1,001 images"):
        figures.sample(saved["vae"], tmp_path / "t.png", n=1001)
    with pytest.raises(InputError, match="holds an Autoencoder, which has no prior"):
        figures.sample(saved["ae"], tmp_path / "u.png")


def test_reconstruct_interpolate_and_morph_read_the_recorded_data(saved, tmp_path,
                                                                 no_real_data):
    assert figures.reconstruct(saved["ae"], tmp_path / "r.png", n=3).exists()
    assert figures.interpolate(saved["vae"], tmp_path / "i.png", 2, 5, steps=4,
                               spherical=True).exists()
    assert figures.morph(saved["ae"], tmp_path / "m.png", 0, 9, steps=3).exists()
    with pytest.raises(InputError, match=r"--index-b must lie in \[0, 1999\], got 2000"):
        figures.interpolate(saved["vae"], tmp_path / "j.png", 0, 2000)


def test_embedding_and_attribute_write_their_folders(saved, tmp_path, no_real_data):
    paths, report = figures.embedding(saved["vae"], tmp_path / "e", limit=100, n=4, grid=3,
                                      dims=3)
    assert report["codes"] == 100 and len(report["axes"]["kl_to_prior"]) == 3
    assert all(p.exists() for p in paths) and (tmp_path / "e" / "embedding.json").exists()
    found, figure = figures.attribute(saved["vae"], tmp_path / "a", positive=["Trouser"],
                                      limit=300, factors=(-1, 0, 1), faces=2, verbose=0)
    assert found.vector.shape == (3,) and figure.exists()
    with pytest.raises(InputError, match="give the attribute one way"):
        figures.attribute(saved["vae"], tmp_path / "b")


def test_what_a_command_draws_or_decodes_is_bounded_before_it_runs(tmp_path, capsys):
    """Issue 22: morph --steps 5000 reached 4 GB, embedding -n 1e7 and --grid 3000 ran
    for minutes; a checkpoint of kilobytes asked for gigabytes on sample -n 1. Each is
    now refused at once, in one line, naming the flag."""
    from minivae.cli import main
    ckpt = str(checkpoint.save(tmp_path / "model.npz", fashion_vae(seed=0)))
    for argv, message in (
            (["morph", ckpt, "--steps", "5000"], "--steps 5,000 would tile 5,000 images"),
            (["embedding", ckpt, "-n", "10000000"], "-n 10,000,000 would tile"),
            (["embedding", ckpt, "--grid", "3000"], "--grid (its square) 9,000,000 would tile"),
            (["sample", ckpt, "--memory-budget", "0.001"],
             r"decoding of 30 example(s) through this model needs about"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)


def test_review_fixes_of_the_commands_library(tmp_path, no_real_data):
    """attribute --positive on unlabelled data, sample(n) checked in the library, the
    .npy hint only where it helps, --data-dir over a recorded sample."""
    from minivae import runs
    from minivae.datasets import parse_spec
    ckpt = checkpoint.save(tmp_path / "model.npz", fashion_vae(seed=0))
    with pytest.raises(InputError, match=r"sample: n must be a positive integer"):
        figures.sample(ckpt, tmp_path / "x.npy", n=-1)
    with pytest.raises(InputError, match=r"holds at most 1,000$"):
        figures.morph(ckpt, tmp_path / "m.png", steps=5000)
    recorded = {"name": "sample", "data_dir": None, "folder": None, "image_size": 32}
    assert parse_spec(None, "/some/dir", None, recorded)["name"] == "fashion-mnist"
    with pytest.raises(InputError, match="pass one of them"):
        parse_spec("sample", "/some/dir", None, recorded)
    folder = tmp_path / "faces"
    folder.mkdir()
    from PIL import Image
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    run = runs.train_run(tmp_path / "run", model="faces", data=f"folder:{folder}", epochs=1,
                         batch_size=5, verbose=0)
    with pytest.raises(InputError, match=r"--positive names classes, and .* has no labels"):
        figures.attribute(run.checkpoint, tmp_path / "attr", positive=["0"])
