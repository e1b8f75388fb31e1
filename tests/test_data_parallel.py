"""Data parallelism: a batch split between model replicas on two threads gives the
whole batch's losses and gradients, whatever the thread count."""

import time
import warnings

import numpy as np
import pytest

from minivae import blas, parallel
from minivae.layers import BatchNormalization, Conv2D, Flatten
from minivae.models import VAE, GaussianEncoder
from minivae.optimizers import Adam
from tests.test_analysis import tiny_autoencoder
from tests.test_models import tiny_vae

pytestmark = pytest.mark.skipif(not blas.can_run_single_threaded(),
                                reason="needs an OpenBLAS whose thread count can be set")

N = 32          # two parts of 16 (batches from 16 images up are split)


def _images(n=N, seed=1):
    return np.random.default_rng(seed).uniform(size=(n, 8, 8, 1))


@pytest.mark.parametrize("make", [tiny_vae, tiny_autoencoder], ids=["vae", "autoencoder"])
def test_a_split_batch_gives_the_whole_batch_losses_and_gradients(make):
    model, x = make(seed=0), _images()
    assert model._data_parallel_parts(len(x)) == [slice(0, 16), slice(16, 32)]
    model.reseed(5)
    split = model.compute_gradients(x)
    split_grads = {k: v.copy() for k, v in model.named_grads().items()}
    model.reseed(5)
    whole = model._forward_backward(x, model._noise(len(x)))      # the same noise
    # float64: the same sums in two halves, then weighted by 1/2: ~1e-16 relative
    # rounding on every term; 1e-10 leaves room and still catches a wrong weight
    # (a factor 2) or a half left out (an error of order 1).
    assert set(split) == set(whole)
    for k in whole:
        assert split[k] == pytest.approx(whole[k], rel=1e-12)
    assert set(split_grads) == set(model.named_grads())
    for k, g in model.named_grads().items():
        np.testing.assert_allclose(split_grads[k], g, rtol=1e-10, atol=1e-13, err_msg=k)


def test_uneven_parts_are_weighted_by_their_size():
    model, x = tiny_vae(seed=0), _images(33)
    assert model._data_parallel_parts(33) == [slice(0, 16), slice(16, 33)]
    model.reseed(2)
    split = model.compute_gradients(x)
    grad = model.named_grads()["out/kernel"].copy()
    model.reseed(2)
    whole = model._forward_backward(x, model._noise(33))
    assert split["total_loss"] == pytest.approx(whole["total_loss"], rel=1e-12)
    np.testing.assert_allclose(grad, model.named_grads()["out/kernel"], rtol=1e-10)


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    """The split is fixed; threads only decide whether the parts run at once."""
    runs = []
    for threads in ("1", "2"):
        monkeypatch.setenv("MINIVAE_THREADS", threads)
        model = tiny_vae(seed=0).astype("float32").compile(Adam())
        model.reseed(3)
        history = model.fit(_images().astype(np.float32), epochs=2, batch_size=N, verbose=0)
        runs.append((history.history, {k: v.copy() for k, v in model.named_params().items()}))
    assert runs[0][0] == runs[1][0]
    for k, v in runs[0][1].items():
        np.testing.assert_array_equal(v, runs[1][1][k], err_msg=k)


def test_small_batches_and_batchnorm_keep_the_batch_whole():
    assert tiny_vae()._data_parallel_parts(16) is not None
    assert tiny_vae()._data_parallel_parts(15) is None
    off = tiny_vae()
    off.data_parallel = False
    assert off._data_parallel_parts(100) is None
    encoder = GaussianEncoder([Conv2D(3, 3, strides=2, padding="same"), BatchNormalization(),
                               Flatten()], 2)
    model = VAE(encoder, tiny_vae().decoder).build((8, 8, 1), rng=np.random.default_rng(0))
    assert not model.encoder.batch_independent
    assert model._data_parallel_parts(100) is None


def test_single_threaded_section_restores_blas_threads_and_numpy_products():
    before = [get() for get, _ in blas._openblas_controls()]
    with blas.single_threaded():
        assert all(get() == 1 for get, _ in blas._openblas_controls())
        assert blas._numpy_only
        a = np.ones((4, 3), np.float32)
        out = np.ones((4, 2), np.float32)
        blas.matmul(a, np.ones((3, 2), np.float32), out=out, accumulate=True)
        np.testing.assert_array_equal(out, 4)
    assert [get() for get, _ in blas._openblas_controls()] == before
    assert not blas._numpy_only


def test_a_failing_part_raises_after_every_part_has_finished():
    finished = []

    def fails():
        raise ValueError("part 0 failed")

    def slow():
        time.sleep(0.05)
        finished.append(True)
        return 1

    with pytest.raises(ValueError, match="part 0 failed"):
        parallel.run_each([fails, slow])
    assert finished == [True] and not parallel._inline
    assert parallel.run_each([lambda: 1, lambda: 2]) == [1, 2]


def test_numpy_errstate_holds_in_the_parts():
    """fit silences overflow inside a step (it reports divergence itself); the parts
    run on other threads, where numpy's errstate is carried over."""
    def overflow():
        return np.float32(3e38) * np.float32(10)

    with np.errstate(over="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert all(np.isinf(r) for r in parallel.run_each([overflow, overflow]))
