"""minivae.runs: `minivae train` as a function, the same run from a notebook as from
the command line (tests/test_cli_train.py holds the command's edges)."""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from minivae import checkpoint, runs
from minivae.architectures import fashion_autoencoder
from minivae.cli import main
from minivae.checkpoint import CheckpointError
from minivae.datasets import DatasetError, DatasetWarning, load_dataset
from minivae.errors import InputError
from minivae.training import TrainingDiverged
from tests.test_datasets import write_dataset

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
    capsys.readouterr()
    run = runs.train_run(out, resume=True, epochs=2, verbose=0)
    assert (run.initial_epoch, run.epochs) == (1, 2)
    assert len(run.history.history["total_loss"]) == 2
    assert checkpoint.load(out / "model.npz").run["model"] == "ae"
    # verbose=0 (--quiet) prints warnings and errors only: where it resumes is neither
    assert capsys.readouterr().err == ""


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


# ------------------------------------------------- nothing lost (issue 22, items 2-3) --

def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_the_lock_is_taken_before_the_folder_is_looked_at(tmp_path, no_real_data):
    """Two runs started at once on one empty folder both found it empty, and the second
    replaced the first's run: what a run finds in its folder it now finds under the lock,
    so a folder in use is refused as in use, whatever it holds."""
    out = tmp_path / "run"
    runs.train_run(out, **SMALL)
    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)          # another run holds the folder
    try:
        with pytest.raises(InputError, match="is in use by another minivae train"):
            runs.train_run(out, **SMALL)            # not "already holds a run": not looked at
    finally:
        os.close(fd)


def test_resuming_another_folders_run_into_a_folder_holding_a_run_is_refused(tmp_path,
                                                                             no_real_data):
    """train --out A --resume B/model.npz, with A holding another run, overwrote A."""
    a, b = tmp_path / "a", tmp_path / "b"
    runs.train_run(a, **SMALL)
    runs.train_run(b, model="ae", **SMALL)
    before = _files(a)
    with pytest.raises(InputError, match=r"already holds a run .*resuming .*b/model.npz there "
                                         r"would replace it"):
        runs.train_run(a, resume=b / "model.npz", epochs=2, verbose=0)
    assert _files(a) == before
    with pytest.raises(InputError, match="--resume continues .* --overwrite replaces"):
        runs.train_run(a, resume=True, overwrite=True, epochs=2, verbose=0)
    assert _files(a) == before
    run = runs.train_run(tmp_path / "c", resume=b / "model.npz", epochs=2, verbose=0)
    assert run.initial_epoch == 1 and (tmp_path / "c" / "model.npz").exists()


def test_overwrite_keeps_the_old_run_until_the_new_one_has_saved(tmp_path, no_real_data):
    """--overwrite deleted the old run before the new one had saved anything, so a new
    run that diverged left nothing. The old run now waits in .replaced-run/ and comes
    back when no epoch of the new one was saved; it goes once one was."""
    out = tmp_path / "run"
    runs.train_run(out, **SMALL)
    before = _files(out)
    with pytest.raises(TrainingDiverged, match="the run it was to replace is back"):
        runs.train_run(out, overwrite=True, learning_rate=1e12, **SMALL)
    assert _files(out) == before and not (out / runs.REPLACED).exists()
    runs.train_run(out, overwrite=True, seed=1, **SMALL)
    assert not (out / runs.REPLACED).exists()
    assert _files(out)["model.npz"] != before["model.npz"]


def _set_aside_by_hand(out, names):
    """The folder as an --overwrite run killed outright leaves it: `names` moved into
    out/.replaced-run (the checkpoint first, as _set_aside moves them)."""
    aside = out / runs.REPLACED
    aside.mkdir()
    for name in names:
        (out / name).rename(aside / name)
    return aside


@pytest.mark.parametrize("moved", [["model.npz", "history.json"], ["model.npz"], []],
                         ids=["killed-before-its-first-save", "killed-while-setting-aside",
                              "killed-before-the-first-move"])
def test_a_run_set_aside_by_a_killed_overwrite_is_put_back_by_the_next_run(
        tmp_path, no_real_data, capsys, moved):
    """Issue 22: an --overwrite run SIGKILLed before its first checkpoint left the old run
    in OUT/.replaced-run, and the next run in the folder refused to start until the user
    moved it by hand. The old run was still the folder's run (the new one saved nothing),
    so the next run puts it back, says so, and goes on as on that folder."""
    out = tmp_path / "run"
    runs.train_run(out, **SMALL)
    before = _files(out)
    _set_aside_by_hand(out, moved)
    capsys.readouterr()
    with pytest.raises(InputError, match="already holds a run"):    # a new run, as before
        runs.train_run(out, **SMALL)
    assert _files(out) == before and not (out / runs.REPLACED).exists()
    err = capsys.readouterr().err
    if moved:       # said even with verbose=0: the folder is not as the user left it
        assert f"{out / runs.REPLACED} held the run that an --overwrite run had set aside" \
            in err and f"the old run is back in {out}" in err, err
    else:           # nothing had moved: nothing to say
        assert err == ""
    _set_aside_by_hand(out, ["model.npz", "history.json"])
    run = runs.train_run(out, resume=True, epochs=2, verbose=0)     # resumes the old run
    assert run.initial_epoch == 1 and not (out / runs.REPLACED).exists()


def test_a_run_replaced_by_a_killed_overwrite_that_had_saved_is_removed(tmp_path,
                                                                       no_real_data, capsys):
    """Killed after its first checkpoint, before it removed the old run: the new run is the
    folder's run, as --overwrite asked, so the next run removes the old one and says so."""
    out, new = tmp_path / "run", tmp_path / "new"
    runs.train_run(out, **SMALL)
    runs.train_run(new, seed=1, **SMALL)
    _set_aside_by_hand(out, ["model.npz", "history.json"])
    shutil.copy(new / "model.npz", out / "model.npz")           # the new run's first save
    capsys.readouterr()
    run = runs.train_run(out, resume=True, epochs=2, verbose=0)
    assert run.model.run["seed"] == 1 and not (out / runs.REPLACED).exists()
    err = capsys.readouterr().err
    assert f"removed {out / runs.REPLACED}, the old run an --overwrite run had set aside" \
        in err and "as --overwrite asked" in err, err


def test_a_real_sigkill_during_an_overwrite_loses_nothing(tmp_path, hermetic_env, no_real_data):
    """The same with a real SIGKILL: the overwriting run's first training step kills its
    own process (no timing involved), and the next run finds the old run intact."""
    out = tmp_path / "run"
    code = f"""
import os, signal
from minivae import runs
from minivae.architectures import fashion_autoencoder
runs.train_run({str(out)!r}, epochs=1, limit=100, batch_size=50, verbose=0)
model = fashion_autoencoder(seed=1)
model.train_step = lambda x: os.kill(os.getpid(), signal.SIGKILL)
runs.train_run({str(out)!r}, model=model, overwrite=True, epochs=1, limit=100, batch_size=50,
               verbose=0, data_parallel=False)
"""
    proc = subprocess.run([sys.executable, "-c", code], env=hermetic_env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (out / runs.REPLACED / "model.npz").exists() and not (out / "model.npz").exists()
    run = runs.train_run(out, resume=True, epochs=2, verbose=0, data_parallel=False)
    assert run.initial_epoch == 1 and run.model.run["model"] == "vae"
    assert not (out / runs.REPLACED).exists()


def test_a_run_resumes_on_the_data_it_was_trained_on(tmp_path, no_real_data, monkeypatch):
    """A run made on the embedded sample, resumed where real data lies, trained on the
    real data without a word (and the reverse fell back to the sample); a changed
    --data-dir was accepted."""
    out = tmp_path / "run"
    first = runs.train_run(out, **SMALL)
    assert first.data.is_sample and checkpoint.load(out / "model.npz").run["data"]["name"] \
        == "sample"
    real = tmp_path / "real"                                  # a root, as $MINIVAE_DATA names
    write_dataset(real / "fashion-mnist", n_train=120, n_test=40)
    monkeypatch.setenv("MINIVAE_DATA", str(real))            # the real data is found now
    with pytest.warns(DatasetWarning):
        assert load_dataset("train").is_sample is False
    resumed = runs.train_run(out, resume=True, epochs=2, verbose=0)
    assert resumed.data.is_sample                             # the sample, still

    on_real = tmp_path / "on-real"
    with pytest.warns(DatasetWarning):
        runs.train_run(on_real, data_dir=real, image_size=28, model="keras-io", **SMALL)
    other = tmp_path / "other"
    write_dataset(other / "fashion-mnist", n_train=120, n_test=40, seed=1)
    with pytest.raises(InputError, match=rf"--data-dir {other} contradicts .* trained on "
                                         rf"--data-dir {real}"):
        runs.train_run(on_real, resume=True, epochs=2, data_dir=other, verbose=0)
    monkeypatch.delenv("MINIVAE_DATA")
    shutil.rmtree(real)                                       # the real data is gone
    with pytest.raises(DatasetError):                         # not the sample in its place
        runs.train_run(on_real, resume=True, epochs=2, verbose=0)


def test_a_model_whose_checkpoint_could_not_be_read_back_is_refused_before_training(
        tmp_path, no_real_data, monkeypatch):
    """Issue 22: a --model of 2,000 layers trained and exited 0, and then every reader
    refused its checkpoint as over the limit. The limits are now checked first."""
    monkeypatch.setattr(checkpoint.files, "MAX_ENTRIES", 20)     # the book's VAE has 60
    out = tmp_path / "run"
    with pytest.raises(CheckpointError, match=r"the model \(vae\): its checkpoint would hold "
                                              r"about \d+ entries .* more than the 20"):
        runs.train_run(out, **SMALL)
    assert not (out / "model.npz").exists()
    monkeypatch.setattr(checkpoint.files, "MAX_PARAMETERS", 1000)
    monkeypatch.setattr(checkpoint.files, "MAX_ENTRIES", 10_000)
    with pytest.raises(CheckpointError, match=r"describes a model of [\d,]+ parameters, more "
                                              r"than the limit of 1,000"):
        runs.train_run(out, **SMALL)


def test_a_compiled_model_keeps_its_optimizer_and_a_built_one_its_dtype(tmp_path,
                                                                         no_real_data):
    """Issue 22: a user's function whose model was compiled with SGD was trained with Adam
    5e-4, and a float64 one cast to float32, without a word."""
    from minivae.optimizers import SGD
    model = fashion_autoencoder(dtype="float64").compile(SGD(learning_rate=0.01))
    run = runs.train_run(tmp_path / "run", model=model, **SMALL)
    assert type(run.model.optimizer) is SGD and run.model.optimizer.learning_rate == 0.01
    assert str(run.model.dtype) == "float64"
    with pytest.raises(InputError, match=r"--learning-rate 0.001 sets the optimizer of a model "
                                         r"that comes without one; .* compiled with SGD"):
        runs.train_run(tmp_path / "other", model=fashion_autoencoder().compile(SGD()),
                       learning_rate=1e-3, **SMALL)
