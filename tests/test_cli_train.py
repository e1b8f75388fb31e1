"""`minivae train` at its edges: any model and data, verified checkpoints, exact or
refused resumes, nothing lost (an occupied folder, a lock, interruptions)."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minivae import checkpoint
from minivae.cli import main

SMALL = ["--limit", "100", "--batch-size", "50", "--quiet"]
PATIENCE = 600          # seconds a subprocess may take on a loaded machine (never a bound)


def error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 1-epoch run of the book's VAE on the sample, copied by tests that resume it."""
    out = tmp_path_factory.mktemp("run")
    mp = pytest.MonkeyPatch()
    from tests.conftest import hide_real_data
    hide_real_data(mp, out / "home")
    try:
        assert main(["train", "--out", str(out / "r"), "--epochs", "1", *SMALL]) == 0
    finally:
        mp.undo()
    return (out / "r" / "model.npz").read_bytes()


def _copy(run, folder):
    folder.mkdir()
    (folder / "model.npz").write_bytes(run)
    return folder


# ------------------------------------------------------------- good is verified --

@pytest.mark.parametrize("epochs", ["1", "2"])
def test_an_exploding_run_saves_nothing_and_says_so(tmp_path, no_real_data, capsys, epochs):
    """Learning rate 1e30: the one update of epoch 1 throws the weights to ~1e30, which are
    finite, but the validation loss is not. Nothing of that epoch is saved or recorded."""
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", epochs, "--limit", "100",
                 "--batch-size", "100", "--learning-rate", "1e30", "--quiet"]) == 2
    line = error_line(capsys)
    assert "diverged in epoch 1: non-finite" in line and "nothing was saved" in line, line
    assert not (out / "model.npz").exists() and not (out / "history.json").exists()


def test_history_json_is_strict_json_after_every_epoch(tmp_path, no_real_data):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", *SMALL]) == 0
    text = (out / "history.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def test_a_checkpoint_is_never_written_from_a_non_finite_state(tmp_path):
    from minivae.architectures import fashion_vae
    model = fashion_vae(seed=0)
    model.named_params()["conv2d/bias"][0] = np.nan
    with pytest.raises(checkpoint.CheckpointError, match="refusing to write .*non-finite "
                                                         "param/conv2d/bias"):
        checkpoint.save(tmp_path / "m.npz", model)
    assert not (tmp_path / "m.npz").exists()


# ------------------------------------------------------- resume: exact or refused --

@pytest.mark.parametrize("flag, value, kept", [
    ("--latent-dim", "3", "2"), ("--model", "ae", "vae"), ("--dtype", "float64", "float32"),
    ("--beta", "2", "1.0"), ("--seed", "7", "0"), ("--batch-size", "20", "50"),
    ("--limit", "60", "100"), ("--image-size", "28", "32"), ("--data", "mnist", "fashion-mnist"),
    ("--reconstruction-weight", "100", "500.0"),
])
def test_resume_refuses_flags_that_contradict_the_checkpoint(run, tmp_path, no_real_data,
                                                             capsys, flag, value, kept):
    out = _copy(run, tmp_path / "run")
    before = (out / "model.npz").read_bytes()
    assert main(["train", "--out", str(out), "--epochs", "2", "--resume", flag, value,
                 "--quiet"]) == 2
    line = error_line(capsys)
    assert f"{flag} {value}" in line and kept in line and "contradicts" in line, line
    assert (out / "model.npz").read_bytes() == before


def test_resume_takes_its_settings_from_the_checkpoint_and_says_what_changes(
        run, tmp_path, no_real_data, capsys):
    out = _copy(run, tmp_path / "run")
    assert main(["train", "--out", str(out), "--epochs", "2", "--resume", "--learning-rate",
                 "1e-3"]) == 0        # without --quiet: it says what it changes
    assert "learning rate changes from 0.0005 to 0.001" in capsys.readouterr().err
    model = checkpoint.load(out / "model.npz")
    assert model.epoch == 2 and model.optimizer.learning_rate == 1e-3
    assert model.run["batch_size"] == 50 and model.run["limit"] == 100


def test_a_model_named_by_its_builder_resumes_under_either_name(tmp_path, no_real_data):
    """--model fashion_vae is --model vae: the run records one name, so a resume given
    either one agrees with it (it once recorded the alias and refused its own flag)."""
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", "--model", "fashion_vae",
                 *SMALL]) == 0
    assert checkpoint.load(out / "model.npz").run["model"] == "vae"
    for epochs, name in (("2", "fashion_vae"), ("3", "vae")):
        assert main(["train", "--out", str(out), "--epochs", epochs, "--resume",
                     "--model", name, "--quiet"]) == 0
    assert checkpoint.load(out / "model.npz").epoch == 3


def test_resume_refuses_a_checkpoint_without_its_optimizer(tmp_path, no_real_data, capsys):
    from minivae.architectures import fashion_vae
    out = tmp_path / "run"
    out.mkdir()
    checkpoint.save(out / "model.npz", fashion_vae(seed=0), epoch=1)
    assert main(["train", "--out", str(out), "--epochs", "2", "--resume", "--quiet"]) == 2
    assert "saved without its optimizer state" in error_line(capsys)


# ----------------------------------------------------------------- nothing lost --

def test_a_folder_holding_a_run_is_not_overwritten_unless_asked(run, tmp_path, no_real_data,
                                                                capsys):
    out = _copy(run, tmp_path / "run")
    assert main(["train", "--out", str(out), "--epochs", "1", *SMALL]) == 2
    assert "already holds a run" in error_line(capsys)
    assert (out / "model.npz").read_bytes() == run
    assert main(["train", "--out", str(out), "--epochs", "1", "--overwrite", "--seed", "3",
                 *SMALL]) == 0
    assert checkpoint.load(out / "model.npz").run["seed"] == 3


def test_two_runs_cannot_write_one_folder(tmp_path, no_real_data, capsys):
    out = tmp_path / "run"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)                  # the other run, holding the folder
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["train", "--out", str(out), "--epochs", "1", *SMALL]) == 2
        assert "in use by another minivae train" in error_line(capsys)
    finally:
        os.close(fd)
    assert not (out / "model.npz").exists()


def test_an_interrupted_run_says_what_was_saved_and_how_to_continue(tmp_path, hermetic_env):
    """SIGTERM once the first checkpoint exists: the message names it and the command
    that continues; no traceback. (The signal is sent when the file appears, so the
    test waits on that, not on time.)"""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "minivae", "train", "--out", str(out),
                             "--epochs", "50", "--limit", "100", "--batch-size", "50",
                             "--quiet"], env=hermetic_env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + PATIENCE
    while not (out / "model.npz").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted; the last good checkpoint is" in err and "epoch(s) done" in err
    assert f"continue with: python3 -m minivae train --out {out} --resume --epochs 50" in err


# ------------------------------------------------------- any model, any data --

MY_MODEL = """
from minivae.layers import Dense, Flatten, Reshape
from minivae.models import Autoencoder, Sequential

def build():
    return Autoencoder(Sequential([Flatten(), Dense(16, activation="relu"), Dense(2)]),
                       Sequential([Dense(16, activation="relu"),
                                   Dense(28 * 28, activation="sigmoid"), Reshape((28, 28, 1))]))
"""


def test_a_users_module_function_model_trains_and_its_checkpoint_works_everywhere(
        tmp_path, no_real_data, monkeypatch, capsys):
    (tmp_path / "my_models.py").write_text(MY_MODEL)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--model", "my_models:build", "--image-size", "28", "--out", str(out),
                 "--epochs", "1", *SMALL]) == 0
    model = checkpoint.load(out / "model.npz")
    assert model.input_shape == (28, 28, 1) and model.run["data"]["image_size"] == 28
    ckpt = str(out / "model.npz")
    assert main(["reconstruct", ckpt, "--out", str(tmp_path / "r.png")]) == 0
    assert main(["evaluate", ckpt, "--limit", "20"]) == 0
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--quiet"]) == 0
    assert main(["sample", ckpt]) == 2          # an autoencoder has no prior
    assert "no prior to sample from" in error_line(capsys)
    assert main(["train", "--model", "my_models:build", "--latent-dim", "3", "--out",
                 str(tmp_path / "x")]) == 2
    assert "--latent-dim sets the book's models only" in error_line(capsys)
    assert main(["train", "--model", "no_such_module:build", "--out", str(tmp_path / "y")]) == 2
    assert "cannot import 'no_such_module'" in error_line(capsys)


def test_a_folder_of_images_trains_the_faces_vae(tmp_path, no_real_data):
    from matplotlib.image import imsave
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        imsave(folder / f"{i:03d}.png", rng.uniform(size=(20, 16, 3)))
    out = tmp_path / "run"
    assert main(["train", "--model", "faces", "--latent-dim", "4", "--data",
                 f"folder:{folder}", "--out", str(out), "--epochs", "1", "--batch-size", "5",
                 "--quiet"]) == 0
    model = checkpoint.load(out / "model.npz")
    assert model.input_shape == (64, 64, 3) and model.run["data"]["folder"] == str(folder)
    assert main(["reconstruct", str(out / "model.npz"), "-n", "1",
                 "--out", str(tmp_path / "r.png")]) == 0


def test_an_explicit_data_dir_must_hold_the_data(tmp_path, no_real_data, capsys):
    assert main(["train", "--out", str(tmp_path / "run"), "--data-dir",
                 str(tmp_path / "missing"), "--quiet"]) == 2
    line = error_line(capsys)
    assert str(tmp_path / "missing") in line and "only place searched" in line
