"""minivae.runs: `minivae train` as a function, the same run from a notebook as from
the command line (tests/test_cli_train.py holds the command's edges)."""

import json

import pytest

from minivae import checkpoint, runs
from minivae.architectures import fashion_autoencoder
from minivae.cli import main
from minivae.errors import InputError

SMALL = {"epochs": 1, "limit": 100, "batch_size": 50, "verbose": 0}


def test_train_run_is_the_train_command(tmp_path, no_real_data):
    """The same settings give the same history, bit for bit, and the same files (the
    command splits each batch between two threads: data_parallel=True)."""
    run = runs.train_run(tmp_path / "lib", data_parallel=True, **SMALL)
    assert main(["train", "--out", str(tmp_path / "cli"), "--epochs", "1", "--limit", "100",
                 "--batch-size", "50", "--quiet"]) == 0
    cli = json.loads((tmp_path / "cli" / "history.json").read_text())
    assert json.loads((tmp_path / "lib" / "history.json").read_text()) == cli
    assert run.history.history == cli and run.data.is_sample and len(run.data) == 100
    assert sorted(p.name for p in run.figures) == sorted(
        p.name for p in (tmp_path / "cli").glob("*.png"))
    assert checkpoint.load(run.checkpoint).run == checkpoint.load(tmp_path / "cli" /
                                                                  "model.npz").run


def test_train_run_resumes_and_refuses_what_contradicts_the_run(tmp_path, no_real_data,
                                                                 capsys):
    out = tmp_path / "run"
    runs.train_run(out, model="fashion_autoencoder", **SMALL)
    with pytest.raises(InputError, match="--latent-dim 3 contradicts"):
        runs.train_run(out, resume=True, epochs=2, latent_dim=3, verbose=0)
    run = runs.train_run(out, resume=True, epochs=2, verbose=0)
    assert (run.initial_epoch, run.epochs) == (1, 2)
    assert len(run.history.history["total_loss"]) == 2
    assert checkpoint.load(out / "model.npz").run["model"] == "ae"
    assert "resuming at epoch 2 of 2" in capsys.readouterr().err


def test_train_run_takes_a_model_object(tmp_path, no_real_data):
    run = runs.train_run(tmp_path / "run", model=fashion_autoencoder(latent_dim=3), **SMALL)
    assert run.model.latent_dim == 3 and run.checkpoint.endswith("model.npz")
    assert checkpoint.load(run.checkpoint).run["model"] == "ae"
    with pytest.raises(InputError, match="--latent-dim sets the book's models only"):
        runs.train_run(tmp_path / "other", model=fashion_autoencoder(), latent_dim=4, **SMALL)


def test_make_model_names_the_books_models_and_refuses_others():
    assert runs.make_model("ae", latent_dim=3).latent_dim == 3
    assert type(runs.make_model("fashion_vae")).__name__ == "VAE"
    with pytest.raises(InputError, match="--model must be one of vae, ae, faces, keras-io"):
        runs.make_model("gan")


def test_saved_state_reads_the_folder(tmp_path):
    assert runs.saved_state(tmp_path / "model.npz") == "nothing was saved"
    (tmp_path / "model.npz").write_bytes(b"garbage")
    assert "cannot be read" in runs.saved_state(tmp_path / "model.npz")
