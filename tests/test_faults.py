"""Faults: processes killed mid-save and mid-epoch, divergence, failing writes, corrupt bytes.

Each test hurts minivae the way the world does (SIGKILL, NaN, a full disk, a
flipped bit) and asks for two things: a clear answer, and no lost checkpoint.
Subprocess runs use the `hermetic_env` of conftest.py, so they train on the
embedded sample whatever this machine has installed.
"""

import errno
import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae import checkpoint
from minivae._atomic import temporary_leftovers
from minivae.architectures import fashion_vae
from minivae.checkpoint import CheckpointCallback, CheckpointError
from minivae.cli import main
from minivae.datasets import DatasetError, load_sample, read_idx
from minivae.optimizers import Adam
from minivae.training import TrainingDiverged

# Any single wait for a subprocess: generous, because these tests share two cores
# with whatever else runs; a healthy run needs a few seconds.
PATIENCE = 300


def wait_for(condition, what, proc=None, poll=0.01):
    """Poll `condition` every `poll` s; fail naming `what` (and the process's stderr)."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended before {what}: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(poll)


# ------------------------------------------------------- SIGKILL while saving --

SAVER = r"""
import sys, time
from minivae import checkpoint
from minivae.architectures import fashion_vae

path, first = sys.argv[1], int(sys.argv[2])
model = fashion_vae(seed=0)
marker = model.named_params()["z_mean/bias"]

def save(epoch):
    marker[:] = epoch           # each checkpoint also carries its epoch in a parameter
    checkpoint.save(path, model, epoch=epoch)

save(first)
started = time.perf_counter()
save(first + 1)
print(time.perf_counter() - started, flush=True)
epoch = first + 2
while True:                     # save, save, save ... until SIGKILL
    save(epoch)
    epoch += 1
"""


def test_sigkill_while_saving_never_loses_or_corrupts_the_checkpoint(tmp_path, hermetic_env):
    """A writer saving to one path in a loop, killed at moments spread over two saves.

    After every kill the path loads as a complete checkpoint written by that writer,
    its parameter agreeing with its epoch. A kill between mkstemp and the rename
    leaves one temporary file: load never reads it, and the next save removes it.
    """
    path = tmp_path / "model.npz"
    rng = np.random.default_rng(0)
    kills, mid_write, durations = 12, 0, []
    for i in range(kills):
        first = 10_000 * (i + 1)        # epochs unique to this writer
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(first)],
                                env=hermetic_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        save_seconds = float(line)
        durations.append(save_seconds)
        # The i-th kill lands at (i + u) / kills of two save durations after the second
        # save ended: the twelve delays cover collecting, writing, fsync and renaming.
        time.sleep((i + rng.random()) / kills * 2 * save_seconds)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=PATIENCE)
        assert proc.returncode == -signal.SIGKILL
        leftovers = temporary_leftovers(path)
        assert len(leftovers) <= 1, leftovers      # earlier kills' files were cleaned up
        mid_write += len(leftovers)
        model = checkpoint.load(path)
        assert model.epoch >= first + 1
        np.testing.assert_array_equal(model.named_params()["z_mean/bias"], model.epoch)
    checkpoint.save(path, fashion_vae(seed=0), epoch=1)
    assert temporary_leftovers(path) == []
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    print(f"{kills} kills, {mid_write} mid-write (temporary file left), "
          f"{kills - mid_write} between writes; median save {np.median(durations):.3f} s")


# ---------------------------------------------------- killed mid-epoch, resumed --

TRAIN = ["--epochs", "3", "--limit", "100", "--batch-size", "50", "--seed", "1", "--quiet"]


def train(out, env, *extra):
    return subprocess.Popen([sys.executable, "-m", "minivae", "train", "--out", str(out), *TRAIN,
                             *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc):
    out, err = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def inode(path):
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def kill_in_the_next_epoch(proc, ckpt, rng):
    """Wait for `proc` to write a checkpoint (os.replace gives it a new inode), then
    SIGKILL it 0-150 ms later: inside the next epoch, which takes several hundred ms
    (two training steps and two validation batches of 50 images)."""
    before = inode(ckpt)
    wait_for(lambda: inode(ckpt) not in (None, before), f"a new {ckpt}", proc)
    time.sleep(rng.uniform(0.0, 0.15))
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=PATIENCE)
    return checkpoint.load(ckpt).epoch


def checkpoint_arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def assert_same_run(a, b):
    """history.json byte for byte, and every array of model.npz (parameters, optimizer
    slots, meta with its RNG state and history, checksum) bit for bit."""
    assert (a / "history.json").read_bytes() == (b / "history.json").read_bytes()
    x, y = checkpoint_arrays(a / "model.npz"), checkpoint_arrays(b / "model.npz")
    assert sorted(x) == sorted(y)
    for key in x:
        assert x[key].dtype == y[key].dtype, key
        np.testing.assert_array_equal(x[key], y[key], err_msg=key)


def test_killed_runs_resume_to_the_same_weights_and_history(tmp_path, hermetic_env):
    """One process trains 3 epochs straight. Three others share a second run: killed
    during epoch 2, resumed, killed during epoch 3, resumed again. Both runs end bit for
    bit alike, which proves two things at once: one seed gives the same history and
    weights in separate processes (none of the four shares memory with another), and a
    resume in between changes nothing."""
    rng = np.random.default_rng(1)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    runs = [train(straight, hermetic_env)]
    ckpt = killed / "model.npz"
    epochs_at_kill = [kill_in_the_next_epoch(train(killed, hermetic_env), ckpt, rng)]
    epochs_at_kill.append(kill_in_the_next_epoch(train(killed, hermetic_env, "--resume"),
                                                 ckpt, rng))
    assert epochs_at_kill == [1, 2]
    resumed = train(killed, hermetic_env, "--resume")
    for proc in runs + [resumed]:
        finish(proc)
    history = json.loads((straight / "history.json").read_text())
    assert len(history["total_loss"]) == 3
    assert_same_run(straight, killed)
    assert temporary_leftovers(ckpt) == []
    print(f"killed after epochs {epochs_at_kill}; resumed twice to the uninterrupted result")


# ------------------------------------------------------------------ divergence --

def test_divergence_mid_run_keeps_the_last_good_checkpoint_byte_for_byte(tmp_path):
    """Keras's TerminateOnNaN, with nothing lost: after epoch 1 a weight turns extreme,
    the next batch's loss overflows, fit stops there naming epoch and batch, and the
    checkpoint of epoch 1 is untouched."""
    x = load_sample("float32")[0][:100]
    path = tmp_path / "model.npz"
    good = {}

    def poison(model, epoch, logs, history):
        good["bytes"] = path.read_bytes()      # the callback before this one just wrote it
        # The first kernel becomes the largest float32: finite, but the first convolution
        # overflows on any image. (Extreme pixels would be refused as input before any
        # loss is computed.)
        model.named_params()["conv2d/kernel"][...] = np.finfo(np.float32).max

    model = fashion_vae(seed=0).compile(Adam())
    with pytest.raises(TrainingDiverged, match=r"at epoch 2, batch 1: non-finite total_loss"):
        model.fit(x, epochs=3, batch_size=50, shuffle=False, verbose=0,
                  callbacks=[CheckpointCallback(path), poison])
    assert path.read_bytes() == good["bytes"]
    assert checkpoint.load(path).epoch == 1
    assert temporary_leftovers(path) == []


def test_a_refused_batch_leaves_batchnorm_moving_statistics_untouched():
    """The forward pass updates BatchNormalization's moving mean and variance before the
    divergence check sees the loss; fit puts them back, so the refused batch leaves no
    trace in the state a checkpoint would save."""
    from minivae.layers import BatchNormalization, Conv2D, Conv2DTranspose, Dense, Flatten
    from minivae.layers import Reshape
    from minivae.models import VAE, GaussianEncoder, Sequential
    encoder = GaussianEncoder([Conv2D(3, 3, strides=2, padding="same"), BatchNormalization(),
                               Flatten()], 2)
    decoder = Sequential([Dense(16), Reshape((4, 4, 1)),
                          Conv2DTranspose(1, 3, strides=2, padding="same",
                                          activation="sigmoid")])
    model = VAE(encoder, decoder, rng=np.random.default_rng(0))
    model.build((8, 8, 1), rng=np.random.default_rng(0)).compile(Adam())
    x = np.random.default_rng(1).uniform(size=(20, 8, 8, 1)).astype(np.float32)
    model.fit(x[:10], epochs=1, batch_size=10, verbose=0)
    before = {k: v.copy() for k, v in model.named_state().items()}
    assert before and all(np.any(v != 0) and np.all(np.isfinite(v)) for v in before.values())
    # a finite kernel whose forward overflows (extreme pixels would be refused as input)
    model.encoder.layers[0].params["kernel"][...] = np.finfo(np.float32).max
    with pytest.raises(TrainingDiverged, match="epoch 1, batch 1"):
        model.fit(x[10:], epochs=1, batch_size=10, verbose=0)
    for k, v in model.named_state().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


SMALL = ["--limit", "100", "--batch-size", "50", "--quiet"]


@pytest.fixture(scope="module")
def one_good_epoch(tmp_path_factory):
    """The bytes of a checkpoint as `minivae train --epochs 1 --limit 100 --batch-size 50`
    writes it (same model, optimizer, data and validation metrics), made through the
    library to skip the figures; tests copy it and --resume from it."""
    path = tmp_path_factory.mktemp("one-epoch") / "model.npz"
    x = load_sample("uint8")[0]
    model = fashion_vae(seed=0).compile(Adam(learning_rate=5e-4))
    model.fit(x[:100], epochs=1, batch_size=50, validation_data=x[1800:1900], verbose=0,
              callbacks=[CheckpointCallback(path)])
    return path.read_bytes()


def error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_cli_divergence_names_the_last_good_checkpoint(tmp_path, no_real_data, one_good_epoch,
                                                       capsys):
    # A learning rate of 1e30 throws the weights to ~1e30 in one Adam step (Adam's step
    # is about lr); the next forward overflows float32, so batch 2 diverges.
    fresh = tmp_path / "fresh"
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # numpy's overflow warnings would be more lines
        assert main(["train", "--out", str(fresh), "--epochs", "2", "--learning-rate", "1e30",
                     *SMALL]) == 2
    line = error_line(capsys)
    assert "training diverged at epoch 1, batch 2" in line and "nothing was saved" in line
    assert not (fresh / "model.npz").exists()

    # One good epoch; then the same explosion from epoch 2 on (set in the checkpoint,
    # which --resume takes the optimizer from).
    out = tmp_path / "run"
    ckpt = out / "model.npz"
    out.mkdir()
    ckpt.write_bytes(one_good_epoch)
    model = checkpoint.load(ckpt)
    model.optimizer.learning_rate = 1e30
    checkpoint.save(ckpt, model, epoch=model.epoch, history=model.history)
    before = ckpt.read_bytes()
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["train", "--out", str(out), "--epochs", "3", "--resume", *SMALL]) == 2
    line = error_line(capsys)
    assert re.search(r"training diverged at epoch 2, batch 2: non-finite .*; the last good "
                     r"checkpoint is .*model.npz \(1 epoch\(s\) done\)$", line), line
    assert ckpt.read_bytes() == before


# --------------------------------------------------------------- failing writes --

FULL_DISK = r"""
import resource, signal, sys
from minivae.cli import main

# From here on no file may grow past 64 KiB, so the next checkpoint (1.4 MB) fails
# part-way with EFBIG as it would on a full disk; SIGXFSZ ignored turns the kernel's
# signal into that error.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
sys.exit(main(sys.argv[1:]))
"""


def test_a_write_that_fails_part_way_keeps_the_last_good_checkpoint(tmp_path, hermetic_env,
                                                                    one_good_epoch):
    out = tmp_path / "run"
    ckpt = out / "model.npz"
    out.mkdir()
    ckpt.write_bytes(one_good_epoch)
    before = ckpt.read_bytes()
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, "train", "--out", str(out),
                           "--epochs", "2", "--resume", *SMALL], env=hermetic_env,
                          capture_output=True, text=True, timeout=PATIENCE)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and re.fullmatch(
        r"minivae train: error: could not write checkpoint '.*model.npz': File too large; "
        r"the previous checkpoint, if any, is unchanged", lines[0]), proc.stderr
    assert ckpt.read_bytes() == before
    assert sorted(os.listdir(out)) == ["model.npz"]     # no temporary file left behind


def test_a_read_only_folder_is_reported_and_the_checkpoint_kept(tmp_path, monkeypatch):
    model = fashion_vae(seed=0)
    path = checkpoint.save(tmp_path / "model.npz", model, epoch=1)
    before = open(path, "rb").read()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    # Root writes into a chmod-ed folder anyway, so the refusal is staged where the
    # filesystem would give it: creating the temporary file.
    monkeypatch.setattr("minivae._atomic._create_temporary", read_only)
    with pytest.raises(CheckpointError, match=r"could not write checkpoint '.*model.npz': "
                                              r"Read-only file system; the previous"):
        checkpoint.save(path, model, epoch=2)
    assert open(path, "rb").read() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_folder_without_write_permission_keeps_the_checkpoint(tmp_path):
    model = fashion_vae(seed=0)
    path = checkpoint.save(tmp_path / "model.npz", model, epoch=1)
    before = open(path, "rb").read()
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="Permission denied; the previous"):
            checkpoint.save(path, model, epoch=2)
    finally:
        tmp_path.chmod(0o700)
    assert open(path, "rb").read() == before


# ------------------------------------------------------------ fuzzing the readers --

def mutate(data, edits):
    """Apply (kind, where, offset, value) edits; `where` picks the region of the file
    (anywhere, the first 600 bytes, or the last 4000: the zip's local headers and its
    central directory, where a change is most likely to get past the CRCs)."""
    data = bytearray(data)
    for kind, where, offset, value in edits:
        if not data:
            break
        n = len(data)
        start = {"anywhere": 0, "head": 0, "tail": max(0, n - 4000)}[where]
        span = {"anywhere": n, "head": min(n, 600), "tail": n - start}[where]
        pos = start + offset % span
        if kind == "flip":
            data[pos] ^= 1 << (value % 8)
        elif kind == "set":
            data[pos] = value % 256
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = bytes([value % 256]) * (1 + value % 7)
        else:
            del data[pos:pos + 1 + value % 7]
    return bytes(data)


edits = st.lists(st.tuples(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]),
                           st.sampled_from(["anywhere", "head", "tail"]),
                           st.integers(0, 1 << 24), st.integers(0, 255)),
                 min_size=1, max_size=3)


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    """The smallest real checkpoint: the book's VAE after one Adam step (1.4 MB)."""
    folder = tmp_path_factory.mktemp("fuzz")
    model = fashion_vae(seed=0).compile(Adam())
    model.train_step(load_sample("float32")[0][:4])
    path = checkpoint.save(folder / "model.npz", model, epoch=1)
    return open(path, "rb").read(), folder, model


@settings(max_examples=100, deadline=None)
@given(edits=edits)
def test_mutated_checkpoints_load_intact_or_raise_checkpoint_error(small_checkpoint, edits):
    data, folder, model = small_checkpoint
    path = folder / "mutant.npz"
    path.write_bytes(mutate(data, edits))
    try:
        loaded = checkpoint.load(path)
    except CheckpointError:
        return
    # An edit the CRCs and the SHA-256 let through touched no value (a zip timestamp,
    # say): what loads is the checkpoint that was written.
    assert loaded.epoch == 1
    for key, value in model.named_params().items():
        np.testing.assert_array_equal(loaded.named_params()[key], value)


@settings(max_examples=100, deadline=None)
@given(data=st.one_of(st.binary(max_size=2000),
                      st.binary(max_size=400).map(lambda b: b"PK\x03\x04" + b),
                      st.binary(max_size=400).map(lambda b: b"\x93NUMPY\x01\x00" + b)))
def test_random_bytes_are_never_a_checkpoint(small_checkpoint, data):
    path = small_checkpoint[1] / "random.npz"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        checkpoint.load(path)


def idx_file(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big")
                                                        for n in array.shape)
    return header + array.tobytes()


VALID_IDX = idx_file(np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28))


@settings(max_examples=100, deadline=None)
@given(edits=edits, compressed=st.booleans())
def test_mutated_idx_files_give_an_array_or_dataset_error_only(edits, compressed):
    """tests/test_datasets.py feeds read_idx random bytes; these are mutations of a
    valid file, raw or gzip, which get much further into the parser."""
    data = mutate(gzip.compress(VALID_IDX, mtime=0) if compressed else VALID_IDX, edits)
    try:
        array = read_idx(io.BytesIO(data))
    except DatasetError:
        return
    assert isinstance(array, np.ndarray)


def test_loading_never_unpickles(small_checkpoint):
    """A file holding an object array (a pickle) is refused from its .npy header."""
    folder = small_checkpoint[1]
    np.savez(folder / "objects.npz", meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="entry 'meta' has dtype object; a checkpoint "
                                              "holds only numbers and text, never objects"):
        checkpoint.load(folder / "objects.npz")


SMALL_FILES = r"""
import resource, signal, sys
from minivae.cli import main

# No file may grow past the size given, as on a disk about to fill up: EFBIG, with
# SIGXFSZ ignored, where the kernel would otherwise kill the process.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("name, n, limit", [("s.npy", 1000, 1 << 20), ("s.png", 30, 4096)])
def test_a_sample_the_disk_cannot_hold_is_one_line_and_no_file(tmp_path, hermetic_env, name,
                                                               n, limit):
    """Issue 22: a full disk while `sample --out s.npy` wrote killed it with SIGBUS (exit
    135, no message) and left a full-size .npy of which half the images were zeros.
    Every file a command writes is now written whole or not at all."""
    ckpt = checkpoint.save(tmp_path / "model.npz", fashion_vae(seed=0))
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-c", SMALL_FILES, str(limit), "sample", str(ckpt),
                           "-n", str(n), "--out", str(out)], env=hermetic_env,
                          capture_output=True, text=True, timeout=PATIENCE)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "File too large" in lines[0] and name in lines[0], proc.stderr
    assert not out.exists() and temporary_leftovers(out) == []
