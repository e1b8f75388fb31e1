"""DataParallel: a batch split between model replicas on threads gives the whole
batch's losses and gradients, whatever the thread count; the split follows the
cores, and no BLAS setting outlives a step."""

import time
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from minivae.fast import data_parallel, threads
from minivae.fast.data_parallel import DataParallel, run_each
from minivae.layers import BatchNormalization, Conv2D, Dropout, Flatten
from minivae.models import VAE, GaussianEncoder
from minivae.optimizers import Adam
from minivae.training import train_step
from tests.conftest import tiny_autoencoder, tiny_vae

N = 32          # two parts of 16 (batches from 16 images up are split)

pytestmark = pytest.mark.skipif(DataParallel(tiny_vae()).why_whole() is not None,
                                reason="needs a BLAS that threadpoolctl can hold to one thread")


def _images(n=N, seed=1):
    return np.random.default_rng(seed).uniform(size=(n, 8, 8, 1))


@pytest.mark.parametrize("make", [tiny_vae, tiny_autoencoder], ids=["vae", "autoencoder"])
def test_a_split_batch_gives_the_whole_batch_losses_and_gradients(make):
    model, x = make(seed=0), _images()
    wrapper = DataParallel(model, parts=2)
    assert wrapper.split(len(x)) == [slice(0, 16), slice(16, 32)]
    model.reseed(5)
    split = wrapper.forward_backward(x)
    split_grads = {k: v.copy() for k, v in wrapper.named_grads().items()}
    model.reseed(5)
    whole = model.forward_backward(x, model.draw_eps(len(x)))      # the same noise
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
    wrapper = DataParallel(model, parts=2)
    assert wrapper.split(33) == [slice(0, 16), slice(16, 33)]
    model.reseed(2)
    split = wrapper.forward_backward(x)
    grad = wrapper.named_grads()["out/kernel"].copy()
    model.reseed(2)
    whole = model.forward_backward(x, model.draw_eps(33))
    assert split["total_loss"] == pytest.approx(whole["total_loss"], rel=1e-12)
    np.testing.assert_allclose(grad, model.named_grads()["out/kernel"], rtol=1e-10)


def test_train_step_is_the_models_own_and_replicas_follow_updates():
    """Two steps through the wrapper equal two steps of the model on the whole batch
    (to float64 rounding): the replicas see the parameters Adam changed in place."""
    runs = []
    for wrap in (True, False):
        model = tiny_vae(seed=0).compile(Adam(learning_rate=1e-2))
        model.reseed(7)
        runner = DataParallel(model) if wrap else None
        metrics = [train_step(model, _images(seed=s), runner) for s in (1, 2)]
        runs.append((metrics, {k: v.copy() for k, v in model.named_params().items()}))
    for m_split, m_whole in zip(runs[0][0], runs[1][0]):
        assert m_split["total_loss"] == pytest.approx(m_whole["total_loss"], rel=1e-10)
    for k, v in runs[1][1].items():
        np.testing.assert_allclose(runs[0][1][k], v, rtol=1e-8, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("cores", [2, 4])
def test_results_do_not_depend_on_the_thread_count(monkeypatch, cores):
    """The split is fixed by the cores; threads only decide how many parts run at once
    (with 4 parts on 3 threads, one thread runs two in turn)."""
    monkeypatch.setattr(data_parallel, "cores", lambda: cores)
    runs = []
    for count in ("1", "2", "3"):
        monkeypatch.setenv("MINIVAE_THREADS", count)
        model = tiny_vae(seed=0).astype("float32").compile(Adam())
        model.reseed(3)
        history = model.fit(_images().astype(np.float32), epochs=2, batch_size=N, verbose=0)
        runs.append((history.history, {k: v.copy() for k, v in model.named_params().items()}))
    for run in runs[1:]:
        assert run[0] == runs[0][0]
        for k, v in runs[0][1].items():
            np.testing.assert_array_equal(v, run[1][k], err_msg=k)


def test_the_parts_follow_the_cores(monkeypatch):
    """One part per core this process may run on, at most one per MIN_CHUNK (8)
    examples; fewer than two parts keep the batch whole."""
    for cores, n, sizes in ((1, 100, None), (2, 100, [50, 50]), (4, 100, [25] * 4),
                            (16, 100, [8, 8, 9, 8, 8, 9] * 2),
                            (4, 20, [10, 10]), (4, 15, None)):
        monkeypatch.setattr(data_parallel, "cores", lambda cores=cores: cores)
        parts = DataParallel(tiny_vae()).split(n)
        assert (parts if parts is None else [s.stop - s.start for s in parts]) == sizes
    with pytest.raises(ValueError, match="parts must be a positive integer"):
        DataParallel(tiny_vae(), parts=0)


def test_four_parts_give_the_whole_batch_losses_and_gradients():
    model, x = tiny_vae(seed=0), _images()
    wrapper = DataParallel(model, parts=4)
    model.reseed(5)
    split = wrapper.forward_backward(x)
    grads = {k: v.copy() for k, v in wrapper.named_grads().items()}
    model.reseed(5)
    whole = model.forward_backward(x, model.draw_eps(len(x)))
    # float64, as in the two-part test above: rounding ~1e-16 per term
    for k in whole:
        assert split[k] == pytest.approx(whole[k], rel=1e-12)
    for k, g in model.named_grads().items():
        np.testing.assert_allclose(grads[k], g, rtol=1e-10, atol=1e-13, err_msg=k)


def test_small_batches_and_coupled_or_noisy_layers_keep_the_batch_whole():
    assert DataParallel(tiny_vae(), parts=2).split(16) is not None
    assert DataParallel(tiny_vae(), parts=2).split(15) is None
    for layer, reason in ((BatchNormalization(), "couples the examples"),
                          (Dropout(0.5), "draws noise of its own")):
        encoder = GaussianEncoder([Conv2D(3, 3, strides=2, padding="same"), layer, Flatten()],
                                  2)
        model = VAE(encoder, tiny_vae().decoder).build((8, 8, 1), rng=np.random.default_rng(0))
        wrapper = DataParallel(model)
        assert reason in wrapper.why_whole()
        assert wrapper.split(100) is None


def _blas_threads():
    return sorted((lib["filepath"], lib["num_threads"]) for lib in threadpool_info()
                  if lib["user_api"] == "blas")


def test_blas_threads_are_held_to_one_only_inside_a_step(monkeypatch):
    before = _blas_threads()
    seen = []
    model = tiny_vae(seed=0)
    original = type(model).forward_backward

    def spy(self, x, eps=None):
        seen.append([n for _, n in _blas_threads()])
        return original(self, x, eps)

    monkeypatch.setattr(type(model), "forward_backward", spy)
    DataParallel(model).forward_backward(_images())
    assert seen and all(counts and set(counts) == {1} for counts in seen)
    assert _blas_threads() == before


def test_fit_restores_blas_threads_after_each_step_and_after_fit(monkeypatch):
    """fit splits the batch by default (issue 23) and holds BLAS to one thread only
    while a step's parts run: the optimizer's update, which follows the parts in the
    same step, and the caller after fit see the settings as they were. (Before issue
    23 a plain fit never limited BLAS at all; the policy changed on purpose.)"""
    before = _blas_threads()
    inside, between = [], []
    model = tiny_vae(seed=0).compile(Adam())
    original = type(model).forward_backward
    apply = model.optimizer.apply_gradients

    def spy(self, x, eps=None):
        inside.append([n for _, n in _blas_threads()])
        return original(self, x, eps)

    def spy_apply(params, grads):
        between.append(_blas_threads())
        return apply(params, grads)

    monkeypatch.setattr(type(model), "forward_backward", spy)
    monkeypatch.setattr(model.optimizer, "apply_gradients", spy_apply)
    model.fit(_images(64), epochs=2, batch_size=N, verbose=0)
    assert len(between) == 4 and all(seen == before for seen in between)
    assert inside and all(counts and set(counts) == {1} for counts in inside)
    assert _blas_threads() == before


def test_fit_without_data_parallel_leaves_blas_threads_alone(monkeypatch):
    """data_parallel=False, the opt-out: whole batches, BLAS as the caller set it."""
    before = _blas_threads()
    seen = []
    model = tiny_vae(seed=0).compile(Adam())
    original = type(model).forward_backward

    def spy(self, x, eps=None):
        seen.append((len(x), _blas_threads()))
        return original(self, x, eps)

    monkeypatch.setattr(type(model), "forward_backward", spy)
    model.fit(_images(), epochs=1, batch_size=N, verbose=0, data_parallel=False)
    assert seen == [(N, before)]


@pytest.mark.parametrize("layer", [BatchNormalization, lambda: Dropout(0.5)],
                         ids=["bn", "dropout"])
def test_a_model_that_cannot_be_split_trains_on_the_whole_batch(monkeypatch, layer):
    """fit's default with BatchNormalization or Dropout: whole batches on the model's
    own forward_backward, BLAS untouched, the same history as data_parallel=False."""
    def make():
        encoder = GaussianEncoder([Conv2D(3, 3, strides=2, padding="same"), layer(),
                                   Flatten()], 2)
        return VAE(encoder, tiny_vae().decoder).build(
            (8, 8, 1), rng=np.random.default_rng(0)).compile(Adam())

    before = _blas_threads()
    histories = []
    for data_parallel in (True, False):
        seen = []
        model = make()
        original = type(model).forward_backward

        def spy(self, x, eps=None, seen=seen, original=original):
            seen.append((len(x), _blas_threads()))
            return original(self, x, eps)

        monkeypatch.setattr(type(model), "forward_backward", spy)
        history = model.fit(_images(), epochs=2, batch_size=N, verbose=0, seed=4,
                            data_parallel=data_parallel)
        monkeypatch.undo()
        assert seen == [(N, before)] * 2
        histories.append(history.history)
    assert histories[0] == histories[1]


def test_a_failing_part_raises_after_every_part_has_finished():
    finished = []

    def fails():
        raise ValueError("part 0 failed")

    def slow():
        time.sleep(0.05)
        finished.append(True)
        return 1

    with pytest.raises(ValueError, match="part 0 failed"):
        run_each([fails, slow])
    assert finished == [True] and not threads.INLINE.get()
    assert run_each([lambda: 1, lambda: 2]) == [1, 2]


def test_over_batch_runs_inline_inside_the_parts_only():
    inside = run_each([lambda: threads.INLINE.get(), lambda: threads.INLINE.get()])
    assert inside == [True, True] and not threads.INLINE.get()


def test_numpy_errstate_holds_in_the_parts():
    """fit silences overflow inside a step (it reports divergence itself); the parts
    run on other threads, where numpy's errstate is carried over."""
    def overflow():
        return np.float32(3e38) * np.float32(10)

    with np.errstate(over="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert all(np.isinf(r) for r in run_each([overflow, overflow]))


def test_minivae_threads_must_be_a_positive_integer(monkeypatch):
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv("MINIVAE_THREADS", bad)
        with pytest.raises(ValueError, match="MINIVAE_THREADS must be a positive integer"):
            threads.threads()


def test_threads_follow_the_cores_this_process_may_run_on(monkeypatch):
    """taskset and cpusets count (the CPU affinity), and nothing caps the count below
    the parts DataParallel makes, one per core."""
    monkeypatch.delenv("MINIVAE_THREADS", raising=False)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(12)),
                        raising=False)
    assert threads.cores() == threads.threads() == 12
    assert DataParallel(tiny_vae()).parts == 12
    monkeypatch.setenv("MINIVAE_THREADS", "3")
    assert threads.threads() == 3 and DataParallel(tiny_vae()).parts == 12


def test_a_setting_changed_between_epochs_reaches_every_part():
    """Review: the replicas were copied once, so a callback setting beta = 0 after the
    first epoch changed nothing on the split path (the default) and everything on the
    whole one. Both now train the same."""
    runs = []
    for data_parallel in (False, True):
        model = tiny_vae(seed=0).compile(Adam())

        def anneal(model, epoch, logs, history):
            model.beta = 0.0

        history = model.fit(_images(), epochs=2, batch_size=N, verbose=0, seed=3,
                            callbacks=[anneal], data_parallel=data_parallel)
        runs.append(history.history)
    for split in runs:
        assert split["total_loss"][1] == pytest.approx(split["reconstruction_loss"][1],
                                                       rel=1e-12)     # beta 0: KL counts not
    assert runs[1]["total_loss"][1] == pytest.approx(runs[0]["total_loss"][1], rel=1e-9)


def test_an_unbuilt_model_builds_from_its_first_split_batch():
    model = VAE(GaussianEncoder([Flatten()], 2), tiny_vae().decoder).compile(Adam())
    runner = DataParallel(model)
    metrics = train_step(model, _images(), runner)
    assert model.built and np.isfinite(metrics["total_loss"])
