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
    from tests.conftest import tiny_vae

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


# ---------------------------------------------------- models of one's own --

KERAS_IO_PORT = """
import numpy as np
from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Reshape, Sequential
from minivae.models import VAE, GaussianEncoder

def build():
    '''The keras-io VAE written from layers, as a user would (no architectures helper).'''
    encoder = GaussianEncoder([Conv2D(32, 3, strides=2, padding="same", activation="relu"),
                               Conv2D(64, 3, strides=2, padding="same", activation="relu"),
                               Flatten(), Dense(16, activation="relu")], 2)
    decoder = Sequential([Dense(7 * 7 * 64, activation="relu"), Reshape((7, 7, 64)),
                          Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
                          Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
                          Conv2DTranspose(1, 3, padding="same", activation="sigmoid")])
    return VAE(encoder, decoder, reconstruction_weight=784.0, rng=np.random.default_rng(0))
"""

RELOAD_PROGRAM = """
import sys, numpy as np
from minivae import checkpoint
model = checkpoint.load(sys.argv[1])
z = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
np.save(sys.argv[2], model.decode(z))
print(type(model).__name__, model.epoch, model.count_params())
"""


def test_a_model_of_ones_own_reloads_in_a_fresh_process_without_its_code(tmp_path):
    """The keras-io VAE built from layers, trained an epoch and saved; a new process
    that never sees the builder code rebuilds it from the checkpoint alone."""
    import subprocess
    import sys

    namespace = {}
    exec(KERAS_IO_PORT, namespace)              # the builder lives only in this process
    model = namespace["build"]().compile(Adam(learning_rate=1e-3))
    x = np.random.default_rng(0).integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    history = model.fit(x, epochs=1, batch_size=20, verbose=0)
    assert model.encoder.count_params() == 69_076 and model.decoder.count_params() == 65_089
    path = checkpoint.save(tmp_path / "m.npz", model, epoch=1, history=history)
    out = tmp_path / "decoded.npy"
    run = subprocess.run([sys.executable, "-c", RELOAD_PROGRAM, str(path), str(out)],
                         capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["VAE", "1", str(69_076 + 65_089)]
    z = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(np.load(out), model.decode(z))   # same weights, same code


def test_a_model_with_pytorchs_padding_round_trips(tmp_path):
    """Integer padding and output_padding are in the layers' configs, so the checkpoint
    rebuilds the same function."""
    from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Reshape, Sequential
    from minivae.models import VAE, GaussianEncoder

    encoder = GaussianEncoder([Conv2D(3, 3, strides=2, padding=1, activation="relu"),
                               Conv2D(4, 3, strides=2, padding=(1, 0), activation="relu"),
                               Flatten()], 2)
    decoder = Sequential([Dense(2 * 2 * 4), Reshape((2, 2, 4)),
                          Conv2DTranspose(3, 3, strides=2, padding=1, output_padding=1),
                          Conv2DTranspose(1, (3, 2), strides=2, padding=(1, 0),
                                          output_padding=(1, 0))])
    model = VAE(encoder, decoder, rng=np.random.default_rng(0))
    model.build((8, 8, 1), rng=np.random.default_rng(0), dtype="float64")
    assert model.encoder.body[1].output_shape == (2, 1, 4)
    again = checkpoint.load(checkpoint.save(tmp_path / "m.npz", model))
    assert again.decoder.layers[2].get_config() == decoder.layers[2].get_config()
    assert again.decoder.layers[3].padding == (1, 0)
    assert again.decoder.layers[3].output_padding == (1, 0)
    z = np.linspace(-1, 1, 6).reshape(3, 2)
    np.testing.assert_array_equal(again.decode(z), model.decode(z))


def _as_version_1(path, tmp_path):
    """The checkpoint rewritten as minivae wrote it before models described themselves:
    version 1, the model known only by its architecture's config."""
    import json
    arrays, meta = checkpoint.read(path)
    meta = {k: v for k, v in meta.items() if k not in ("model", "run")}
    meta["version"] = 1
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["checksum"] = np.array(checkpoint.files._digest(arrays))
    old = tmp_path / "v1.npz"
    np.savez(old, **arrays)
    return old


def test_a_checkpoint_written_before_self_description_still_loads(tmp_path):
    model, history = _trained()
    old = _as_version_1(checkpoint.save(tmp_path / "m.npz", model, epoch=1, history=history),
                        tmp_path)
    assert checkpoint.read(old)[1]["version"] == 1
    again = checkpoint.load(old)
    assert again.epoch == 1 and again.config == model.config
    for k, v in model.named_params().items():
        np.testing.assert_array_equal(again.named_params()[k], v)


def test_restore_returns_what_fit_takes_to_resume(tmp_path):
    model, history = _trained(epochs=1)
    path = checkpoint.save(tmp_path / "m.npz", model, epoch=1, history=history)
    target = fashion_vae(seed=5).compile(Adam(learning_rate=5e-4))
    epoch, restored = checkpoint.restore(target, path)
    assert epoch == 1 and restored.history == history.history and restored.epoch == [0]
    more = target.fit(blobs(60), epochs=2, batch_size=30, verbose=0, initial_epoch=epoch,
                      history=restored)
    assert more.epoch == [0, 1] and len(more.history["total_loss"]) == 2
    as_dict = fashion_vae(seed=5).compile(Adam(learning_rate=5e-4))
    epoch, restored = checkpoint.restore(as_dict, path)
    more = as_dict.fit(blobs(60), epochs=2, batch_size=30, verbose=0, initial_epoch=epoch,
                       history=restored.history)        # the plain dict works as well
    assert len(more.history["total_loss"]) == 2


def test_an_unbuilt_model_cannot_be_saved(tmp_path):
    from minivae.layers import Dense, Flatten, Reshape, Sequential
    from minivae.models import Autoencoder
    model = Autoencoder(Sequential([Flatten(), Dense(2)]), Sequential([Dense(4),
                                                                       Reshape((2, 2, 1))]))
    with pytest.raises(ValueError, match="never built"):
        checkpoint.save(tmp_path / "m.npz", model)


# ------------------------------------------- what a crafted file may not do (issue 14) --
# Crafted files with valid checksums: the metadata and entries are checked before use,
# and the limits hold (the memory cost of hostile files: tests/test_hostile_files.py).

from tests.conftest import tiny_vae     # noqa: E402


def _rewritten(path, meta_text=None, **arrays_update):
    """The checkpoint at `path` rewritten with other metadata text or entries, and a
    checksum that matches them, so only the new checks can refuse it."""
    import json
    arrays, meta = checkpoint.read(path)
    arrays.update(arrays_update)
    arrays["meta"] = np.array(json.dumps(meta) if meta_text is None else meta_text(meta))
    arrays["checksum"] = np.array(checkpoint.files._digest(arrays))
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _meta_with(**fields):
    import json
    return lambda meta: json.dumps({**meta, **fields})


@pytest.mark.parametrize("fields, message", [
    ({"history": [1.0, 2.0]}, "metadata field history is list, expected a JSON object"),
    ({"history": {"loss": "1.0"}}, r"metadata field history\['loss'\] is not a list of numbers"),
    ({"epoch": "three"}, "metadata field epoch is 'three', expected an integer >= 0"),
    ({"epoch": -1}, "metadata field epoch is -1"),
    ({"rng_state": None}, "metadata field rng_state is NoneType, expected a JSON object"),
    ({"run": [1]}, "metadata field run is list"),
    ({"model": {"class_name": "VAE", "config": {}, "input_shape": [8, 0, 1]}},
     r"metadata field model.input_shape is \[8, 0, 1\], expected a list of positive integers"),
])
def test_malformed_metadata_fields_are_named(tmp_path, fields, message):
    path = _rewritten(checkpoint.save(tmp_path / "m.npz", tiny_vae()), _meta_with(**fields))
    with pytest.raises(CheckpointError, match=rf"'.*m\.npz': {message}"):
        checkpoint.load(path)


def test_deeply_nested_metadata_is_refused_before_parsing(tmp_path):
    """json.loads would recurse 100,000 deep: a RecursionError traceback before."""
    deep = "[" * 100_000 + "]" * 100_000
    path = _rewritten(checkpoint.save(tmp_path / "m.npz", tiny_vae()),
                      lambda meta: _meta_with()(meta)[:-1] + f', "extra": {deep}}}')
    with pytest.raises(CheckpointError, match="metadata nests 100001 levels deep, more than "
                                              "the limit of 64"):
        checkpoint.read(path)
    # Brackets inside strings are text, not nesting.
    path = _rewritten(checkpoint.save(tmp_path / "m2.npz", tiny_vae()),
                      _meta_with(run={"note": "[[[{{{" * 50}))
    assert checkpoint.load(path).run == {"note": "[[[{{{" * 50}


def test_oversized_metadata_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = _rewritten(checkpoint.save(tmp_path / "m.npz", tiny_vae()),
                      _meta_with(run={"padding": "x" * 5000}))
    monkeypatch.setattr(checkpoint.files, "MAX_META_CHARS", 4096)
    with pytest.raises(CheckpointError, match=r"meta entry is <U\d+ of shape \(\); expected "
                                              r"JSON text of at most 4,096 characters"):
        checkpoint.read(path)


def test_object_arrays_and_repeated_entries_are_refused(tmp_path):
    path = checkpoint.save(tmp_path / "m.npz", tiny_vae())
    with np.load(path) as data:
        arrays = dict(data.items())
    arrays["param/out/bias"] = np.array([None], dtype=object)    # np.save pickles it
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="entry 'param/out/bias' has dtype object; a "
                                              "checkpoint holds only numbers and text"):
        checkpoint.read(path)
    path = checkpoint.save(tmp_path / "m2.npz", tiny_vae())
    with zipfile.ZipFile(path, "a") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("meta.npy", b"")
    with pytest.raises(CheckpointError, match=r"entries \['meta.npy'\] appear more than once"):
        checkpoint.read(path)


def test_compressed_and_fortran_ordered_entries_still_load(tmp_path):
    """minivae writes stored C-ordered entries; np.savez_compressed and a Fortran-ordered
    array are honest files too, read within the same limits."""
    model = tiny_vae()
    path = checkpoint.save(tmp_path / "m.npz", model)
    with np.load(path) as data:
        arrays = dict(data.items())
    kernel = arrays["param/dense/kernel"]
    arrays["param/dense/kernel"] = np.asfortranarray(kernel)
    np.savez_compressed(path, **arrays)
    again = checkpoint.load(path)
    np.testing.assert_array_equal(again.named_params()["dense/kernel"], kernel)


def test_the_model_described_must_match_the_arrays_held(tmp_path):
    """build_model builds the description without allocating it, and compares."""
    path = _rewritten(checkpoint.save(tmp_path / "m.npz", tiny_vae(latent_dim=2)),
                      lambda meta: _meta_with()(meta).replace('"latent_dim": 2', '"latent_dim": 3'))
    with pytest.raises(CheckpointError, match=r"holds param/z_mean/kernel of shape \(16, 2\), "
                                              r"but the model it describes has shape \(16, 3\)"):
        checkpoint.load(path)


def test_the_parameter_count_is_capped_before_building(tmp_path, monkeypatch):
    path = checkpoint.save(tmp_path / "m.npz", tiny_vae())
    monkeypatch.setattr(checkpoint.files, "MAX_PARAMETERS", 100)
    with pytest.raises(CheckpointError, match=r"describes a model of [\d,]+ parameters, more "
                                              r"than the limit of 100; refused before building"):
        checkpoint.load(path)
