"""Checkpoints: round trip, exact resume, atomic writes, corruption and mismatch caught."""

import os
import zipfile

import numpy as np
import pytest

from minivae import checkpoint
from minivae.architectures import fashion_autoencoder, fashion_vae, faces_vae
from minivae.checkpoint import CheckpointCallback, CheckpointError
from minivae.optimizers import Adam
from tests.reference import blobs


def _trained(seed=0, epochs=1):
    model = fashion_vae(seed=seed).compile(Adam(learning_rate=5e-4))
    history = model.fit(blobs(60), epochs=epochs, batch_size=30, verbose=0)
    return model, history


def test_round_trip_restores_everything(tmp_path):
    model, history = _trained()
    path = checkpoint.save(tmp_path / "model.npz", model, epoch=1, history=history)
    again = checkpoint.load(path)
    for k, v in model.named_params().items():
        np.testing.assert_array_equal(again.named_params()[k], v)
        assert again.named_params()[k].dtype == v.dtype
    assert again.epoch == 1 and again.history.history == history.history
    assert again.optimizer.iterations == model.optimizer.iterations
    for k, v in model.optimizer.get_state().items():
        np.testing.assert_array_equal(again.optimizer.get_state()[k], v)
    assert again.rng.bit_generator.state == model.rng.bit_generator.state
    assert again.config == model.config


def test_keras_names_and_layouts_inside(tmp_path):
    model, _ = _trained()
    path = checkpoint.save(tmp_path / "m.npz", model)
    with np.load(path, allow_pickle=False) as data:
        assert data["param/conv2d/kernel"].shape == (3, 3, 1, 32)
        assert data["param/conv2d_transpose_1/kernel"].shape == (3, 3, 64, 128)
        assert "optimizer/m/z_mean/kernel" in data.files


def test_resume_equals_an_uninterrupted_run(tmp_path):
    x = blobs(90)
    straight = fashion_vae(seed=5).compile(Adam(learning_rate=5e-4))
    h_straight = straight.fit(x, epochs=3, batch_size=30, seed=9, verbose=0)

    first = fashion_vae(seed=5).compile(Adam(learning_rate=5e-4))
    first.fit(x, epochs=3, batch_size=30, seed=9, verbose=0,
              callbacks=[CheckpointCallback(tmp_path / "m.npz")])
    # Pretend the run died after epoch 2: rebuild that checkpoint by re-running 2 epochs.
    partial = fashion_vae(seed=5).compile(Adam(learning_rate=5e-4))
    partial.fit(x, epochs=2, batch_size=30, seed=9, verbose=0,
                callbacks=[CheckpointCallback(tmp_path / "m2.npz")])
    resumed = checkpoint.load(tmp_path / "m2.npz")
    assert resumed.epoch == 2
    h_resumed = resumed.fit(x, epochs=3, batch_size=30, initial_epoch=resumed.epoch,
                            history=resumed.history, verbose=0)
    assert h_resumed.history == h_straight.history
    for k, v in straight.named_params().items():
        np.testing.assert_array_equal(resumed.named_params()[k], v)
        np.testing.assert_array_equal(first.named_params()[k], v)


def test_batchnorm_state_and_other_architectures_round_trip(tmp_path):
    model = faces_vae(latent_dim=4, seed=1).compile(Adam())
    model.train_step(np.random.default_rng(0).random((2, 64, 64, 3)).astype(np.float32))
    again = checkpoint.load(checkpoint.save(tmp_path / "f.npz", model))
    for k, v in model.named_state().items():
        np.testing.assert_array_equal(again.named_state()[k], v)
    ae = checkpoint.load(checkpoint.save(tmp_path / "a.npz", fashion_autoencoder(seed=0)))
    assert type(ae).__name__ == "Autoencoder" and ae.optimizer is None


def test_truncated_file_is_detected(tmp_path):
    path = checkpoint.save(tmp_path / "m.npz", _trained()[0])
    data = open(path, "rb").read()
    for cut in (10, len(data) // 2, len(data) - 5):
        open(path, "wb").write(data[:cut])
        with pytest.raises(CheckpointError, match="not a readable minivae checkpoint"):
            checkpoint.load(path)


def test_bit_flips_are_detected(tmp_path):
    path = checkpoint.save(tmp_path / "m.npz", _trained()[0])
    data = bytearray(open(path, "rb").read())
    rng = np.random.default_rng(0)
    for pos in rng.integers(0, len(data), 40):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
        open(path, "wb").write(bytes(flipped))
        # Zip structure, CRC-32 or our SHA-256: some layer must notice each flip.
        with pytest.raises(CheckpointError):
            checkpoint.load(path)


def test_checksum_catches_a_consistent_rewrite(tmp_path):
    """A file re-zipped with one value changed has valid CRCs: only the SHA-256 sees it."""
    path = checkpoint.save(tmp_path / "m.npz", _trained()[0])
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["param/conv2d/bias"] = arrays["param/conv2d/bias"] + 1
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="SHA-256"):
        checkpoint.load(path)


def test_other_architecture_is_a_clear_error(tmp_path):
    path = checkpoint.save(tmp_path / "m.npz", fashion_vae(latent_dim=3))
    with pytest.raises(CheckpointError, match=r"another architecture.*shapes differ for dense/kernel \(3, 2048\) vs \(2, 2048\)"):
        checkpoint.restore(fashion_vae(latent_dim=2), path)
    with pytest.raises(CheckpointError, match="missing"):
        checkpoint.restore(fashion_autoencoder(), path)


def test_paths_that_are_not_files(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        checkpoint.load(tmp_path)
    with pytest.raises(CheckpointError, match="is a directory"):
        checkpoint.save(tmp_path, fashion_vae())
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="not a readable"):
        checkpoint.load(tmp_path / "junk.npz")


def test_no_pickle_inside(tmp_path):
    path = checkpoint.save(tmp_path / "m.npz", _trained()[0])
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            # np.save writes object arrays as pickles; every entry here is plain.
            header = z.read(name)[:200]
            assert b"'descr': '|O'" not in header


def test_unwritable_destination_is_reported(tmp_path):
    """A folder that cannot be created (a file stands in its way) fails clearly, as root too."""
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(CheckpointError, match="could not write checkpoint.*unchanged"):
        checkpoint.save(tmp_path / "blocker" / "model.npz", fashion_vae())


def test_failing_write_keeps_the_old_checkpoint_and_leaves_no_temp(tmp_path, monkeypatch):
    """A write that fails midway (no space left, say) must not touch the previous file."""
    model = _trained()[0]
    path = checkpoint.save(tmp_path / "m.npz", model)
    before = open(path, "rb").read()

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(CheckpointError, match="No space left on device.*unchanged"):
        checkpoint.save(path, model)
    assert open(path, "rb").read() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_restore_is_all_or_nothing(tmp_path):
    """A checkpoint refused for its optimizer state leaves the model's parameters, its
    optimizer and its Generator exactly as they were: nothing is half-copied."""
    from tests.test_models import tiny_vae

    x = np.random.default_rng(0).uniform(size=(8, 8, 8, 1))
    source = tiny_vae(seed=0).compile(Adam())
    source.fit(x, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "m.npz"
    checkpoint.save(path, source, epoch=1)
    arrays, meta = checkpoint.read(path)
    broken = {k: v for k, v in arrays.items() if k != "optimizer/iterations"}

    target = tiny_vae(seed=7).compile(Adam())
    params = {k: v.copy() for k, v in target.named_params().items()}
    optimizer, rng_state = target.optimizer, target.rng.bit_generator.state
    with pytest.raises(CheckpointError, match="optimizer or random-generator state"):
        checkpoint.restore(target, path, broken, meta)
    for k, v in target.named_params().items():
        np.testing.assert_array_equal(v, params[k], err_msg=k)
    assert target.optimizer is optimizer and target.rng.bit_generator.state == rng_state
    checkpoint.restore(target, path, arrays, meta)             # the intact one restores
    for k, v in target.named_params().items():
        np.testing.assert_array_equal(v, source.named_params()[k], err_msg=k)
