"""The training loop: History, validation metrics, determinism, divergence, progress."""

import io
import json

import numpy as np
import pytest

from minivae.architectures import fashion_autoencoder, fashion_vae
from minivae.optimizers import Adam
from minivae.batching import batches
from minivae.training import History, Progress, TrainingDiverged
from tests.reference import blobs


def test_fit_history_and_falling_loss():
    model = fashion_vae(seed=0).compile(Adam(learning_rate=1e-3))
    x = blobs(200)
    history = model.fit(x, epochs=3, batch_size=50, validation_data=blobs(60, 1), verbose=0)
    keys = {"total_loss", "reconstruction_loss", "kl_loss"}
    assert set(history.history) == keys | {"val_" + k for k in keys}
    assert history.epoch == [0, 1, 2]
    losses = history.history["total_loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    for i in range(3):
        h = history.history
        assert h["total_loss"][i] == pytest.approx(h["reconstruction_loss"][i] + h["kl_loss"][i])
    json.dumps(history.history)      # plain floats, as written to history.json


def test_same_seed_gives_identical_history_and_weights():
    x = blobs(120)
    runs = []
    for _ in range(2):
        model = fashion_vae(seed=3).compile(Adam(learning_rate=5e-4))
        runs.append((model.fit(x, epochs=2, batch_size=40, seed=11, verbose=0).history,
                     model.named_params()))
    assert runs[0][0] == runs[1][0]
    for k, v in runs[0][1].items():
        np.testing.assert_array_equal(v, runs[1][1][k])


def test_autoencoder_fits():
    model = fashion_autoencoder(seed=0).compile(Adam(learning_rate=1e-3))
    history = model.fit(blobs(100), epochs=2, batch_size=50, verbose=0)
    assert set(history.history) == {"total_loss", "reconstruction_loss"}


def test_divergence_stops_with_a_message_and_keeps_the_weights():
    model = fashion_vae(seed=0).compile(Adam())
    model.named_params()["conv2d_3/bias"][:] = np.nan
    before = {k: v.copy() for k, v in model.named_params().items()}
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch 1: non-finite total_loss"):
        model.fit(blobs(50), epochs=1, batch_size=25, verbose=0)
    for k, v in model.named_params().items():
        np.testing.assert_array_equal(v, before[k])
    assert model.optimizer.iterations == 0


def test_fit_validates_its_arguments():
    model = fashion_vae(seed=0)
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(blobs(10), verbose=0)
    model.compile(Adam())
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        model.fit(blobs(10), epochs=0, verbose=0)
    with pytest.raises(ValueError, match=r"got \(10, 28, 28, 1\)"):
        model.fit(np.zeros((10, 28, 28, 1), np.float32), verbose=0)
    with pytest.raises(ValueError, match="validation_data must have shape"):
        model.fit(blobs(10), validation_data=np.zeros((4, 32, 32), np.float32), verbose=0)


def test_batches_cover_every_index_once():
    idx = batches(10, 4, np.random.default_rng(0))
    assert [len(b) for b in idx] == [4, 4, 2]
    assert sorted(np.concatenate(idx)) == list(range(10))


def test_progress_prints_one_line_per_epoch_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(steps=3, epoch=0, epochs=5, verbose=1, stream=out)
    p.update(1, {"total_loss": 1.0})
    p.close({"total_loss": 0.5, "kl_loss": 0.25})
    lines = out.getvalue().splitlines()
    assert lines[0] == "Epoch 1/5"
    assert lines[1].startswith("3/3 - ") and "total_loss: 0.5000 - kl_loss: 0.2500" in lines[1]
    quiet = io.StringIO()
    Progress(3, 0, 5, verbose=0, stream=quiet).close({"total_loss": 1.0})
    assert quiet.getvalue() == ""


def test_history_append():
    h = History()
    h.append(0, {"total_loss": np.float32(2.0)})
    assert h.history == {"total_loss": [2.0]} and type(h.history["total_loss"][0]) is float


def test_live_progress_redraws_one_line_and_clears_what_a_longer_one_left():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    progress = Progress(steps=2, epoch=0, epochs=1, verbose=1, stream=out)
    progress.update(1, {"total_loss": 123456.0})
    progress.update(2, {"total_loss": 1.0})          # shorter than the line before
    progress.close({"total_loss": 1.0})
    lines = out.getvalue().split("\n")
    assert lines[0] == "Epoch 1/1" and lines[-1] == ""
    redraws = lines[1].split("\r")[1:]
    assert len(redraws) == 3 and all(r.endswith("\x1b[K") for r in redraws)
    assert redraws[-1].startswith("2/2 - ") and "total_loss: 1.0000" in redraws[-1]


@pytest.mark.parametrize("dtype, rtol", [
    # float64: the same sums in another order, compounded over 4 Adam steps of 16
    # images; measured 1.2e-14, and a kernel off by one tap errs by order 1.
    ("float64", 1e-9),
    # float32: the kernels' rounding (~6e-8 a sum) moves each Adam step's direction a
    # little (Adam divides by sqrt(v), so tiny gradients' rounding is magnified); after
    # 4 steps the weights agree to 7.4e-6 of their scale (measured), so 1e-4 separates
    # rounding from a wrong kernel (order 1e-3 and more).
    ("float32", 1e-4),
])
def test_fast_and_reference_training_agree(dtype, rtol):
    """The book's VAE trained on the fast path and on the reference (minivae.fast's
    switch) ends with the same losses and weights, to float rounding."""
    from minivae import fast
    from minivae.architectures import fashion_vae
    from minivae.optimizers import Adam

    x = blobs(64, seed=3)
    runs = []
    for reference in (False, True):
        model = fashion_vae(seed=0, dtype=dtype).compile(Adam(learning_rate=5e-4))
        with fast.reference(reference):
            history = model.fit(x, epochs=1, batch_size=16, verbose=0, seed=1)
        runs.append((history.history["total_loss"][0],
                     {k: v.copy() for k, v in model.named_params().items()}))
    (loss_fast, fast_params), (loss_ref, ref_params) = runs
    assert loss_fast == pytest.approx(loss_ref, rel=rtol)
    for k, v in ref_params.items():
        scale = np.abs(v).max()
        assert np.abs(fast_params[k] - v).max() <= rtol * scale, k
