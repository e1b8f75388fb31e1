"""Optimizers: Keras's update rules against hand-written loops, state and resumption."""

import io
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae import optimizers
from minivae.optimizers import SGD, Adam

# The implementation writes m <- m + (1 - b1)(g - m) (Keras's form) and orders its
# operations for in-place work; the references below write the textbook
# b1 m + (1 - b1) g. The two differ by a few ulps per step, ~1e-15 relative after
# a handful of steps; any real formula error (a missing bias correction, epsilon
# inside the square root) moves the result by far more than 1e-12.
REF_RTOL, REF_ATOL = 1e-12, 1e-15


def reference_adam(params, grad_seq, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                   epsilon=1e-7):
    """Keras 3's Adam, written out as plainly as possible, in float64."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    for t, grads in enumerate(grad_seq, start=1):
        alpha = learning_rate * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        for k in p:
            g = grads[k]
            m[k] = beta_1 * m[k] + (1 - beta_1) * g
            v[k] = beta_2 * v[k] + (1 - beta_2) * g * g
            p[k] = p[k] - alpha * m[k] / (np.sqrt(v[k]) + epsilon)
    return p, m, v


def reference_sgd(params, grad_seq, learning_rate=0.01, momentum=0.0):
    """Keras's SGD: velocity = momentum velocity - lr g; p = p + velocity."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in p.items()}
    for grads in grad_seq:
        for k in p:
            velocity[k] = momentum * velocity[k] - learning_rate * grads[k]
            p[k] = p[k] + velocity[k]
    return p, velocity


def _problem(shapes, steps, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = {f"layer_{i}/kernel": rng.standard_normal(s).astype(dtype)
              for i, s in enumerate(shapes)}
    grad_seq = [{k: rng.standard_normal(v.shape) for k, v in params.items()}
                for _ in range(steps)]
    return params, grad_seq


def _run(opt, params, grad_seq):
    for grads in grad_seq:
        opt.apply_gradients(params, grads)
    return params


# -- Adam -----------------------------------------------------------------------------
def test_adam_matches_reference_loop():
    params, grad_seq = _problem([(3, 4), (4,), (2, 2, 3)], steps=6, seed=0)
    expected, m, v = reference_adam(params, grad_seq, learning_rate=0.01)
    opt = Adam(learning_rate=0.01)
    _run(opt, params, grad_seq)
    state = opt.get_state()
    assert opt.iterations == 6 and state["iterations"] == 6
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=REF_RTOL, atol=REF_ATOL)
        np.testing.assert_allclose(state[f"m/{k}"], m[k], rtol=REF_RTOL, atol=REF_ATOL)
        np.testing.assert_allclose(state[f"v/{k}"], v[k], rtol=REF_RTOL, atol=REF_ATOL)


@settings(deadline=None, max_examples=30)
@given(shapes=st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
                       min_size=1, max_size=3),
       steps=st.integers(1, 8), seed=st.integers(0, 2**32 - 1),
       learning_rate=st.floats(1e-4, 1e-1), beta_1=st.floats(0.0, 0.99),
       beta_2=st.floats(0.5, 0.9999), epsilon=st.sampled_from([1e-7, 1e-3, 1.0]))
def test_adam_matches_reference_over_random_problems(shapes, steps, seed, learning_rate,
                                                     beta_1, beta_2, epsilon):
    params, grad_seq = _problem(shapes, steps, seed)
    expected, _, _ = reference_adam(params, grad_seq, learning_rate, beta_1, beta_2, epsilon)
    _run(Adam(learning_rate, beta_1, beta_2, epsilon), params, grad_seq)
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=REF_RTOL, atol=REF_ATOL)


def test_adam_first_step_is_learning_rate_times_sign_with_keras_epsilon():
    # at t = 1, m = 0.1 g and sqrt(v) = sqrt(0.001) |g|, so the step is
    # lr |g| / (|g| + epsilon / sqrt(1 - beta_2)) in the direction -sign(g): Keras adds
    # epsilon to sqrt(v), not to sqrt(v_hat) as the paper's Algorithm 1 does
    p = np.zeros(5)
    g = np.array([3.0, -0.5, 1e-2, -200.0, 7.0])
    Adam(learning_rate=0.1, epsilon=1e-7).apply_gradients({"w": p}, {"w": g})
    step = 0.1 * np.abs(g) / (np.abs(g) + 1e-7 / math.sqrt(1 - 0.999))
    np.testing.assert_allclose(p, -np.sign(g) * step, rtol=REF_RTOL)
    # and so the step is lr to within epsilon's share, 3e-4 relative at |g| = 1e-2
    np.testing.assert_allclose(p, -0.1 * np.sign(g), rtol=4e-4)


@pytest.mark.parametrize("opt", [Adam(learning_rate=0.05), SGD(learning_rate=0.05, momentum=0.9),
                                 SGD(learning_rate=0.05)], ids=repr)
def test_steps_on_a_quadratic_reduce_it(opt):
    rng = np.random.default_rng(3)
    a, c = rng.uniform(0.5, 2.0, 10), rng.standard_normal(10)     # f = 0.5 sum a (w - c)^2

    def f(w):
        return 0.5 * np.sum(a * (w - c) ** 2)

    w = np.zeros(10)
    start = f(w)
    for _ in range(300):
        opt.apply_gradients({"w": w}, {"w": a * (w - c)})
    # a hundredfold reduction: Adam's step bounded by lr = 0.05 needs ~2 / 0.05 = 40 steps
    # to cover |c| <~ 2; SGD contracts by (1 - 0.05 a) per step
    assert f(w) < start / 100


# -- SGD ------------------------------------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(shapes=st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
                       min_size=1, max_size=3),
       steps=st.integers(1, 8), seed=st.integers(0, 2**32 - 1),
       learning_rate=st.floats(1e-4, 1.0), momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]))
def test_sgd_matches_reference_loop(shapes, steps, seed, learning_rate, momentum):
    params, grad_seq = _problem(shapes, steps, seed)
    expected, velocity = reference_sgd(params, grad_seq, learning_rate, momentum)
    opt = SGD(learning_rate, momentum)
    _run(opt, params, grad_seq)
    state = opt.get_state()
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=REF_RTOL, atol=REF_ATOL)
        if momentum:
            np.testing.assert_allclose(state[f"velocity/{k}"], velocity[k],
                                       rtol=REF_RTOL, atol=REF_ATOL)
    # plain SGD keeps no per-parameter state, as in Keras
    assert (len(state) == 1) == (momentum == 0)


# -- state, resumption, config -------------------------------------------------------------
def _roundtrip(opt):
    """A fresh optimizer rebuilt the way a checkpoint would: JSON config, .npz state."""
    config = json.loads(json.dumps(opt.get_config()))
    buffer = io.BytesIO()
    np.savez(buffer, **opt.get_state())
    buffer.seek(0)
    restored = optimizers.from_config(config)
    with np.load(buffer) as saved:
        restored.set_state({k: saved[k] for k in saved.files})
    return restored


@pytest.mark.parametrize("make", [lambda: Adam(learning_rate=0.01),
                                  lambda: SGD(learning_rate=0.01, momentum=0.9),
                                  lambda: SGD(learning_rate=0.01)],
                         ids=["Adam", "SGD-momentum", "SGD"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resume_is_bit_identical(make, dtype):
    params, grad_seq = _problem([(3, 4), (4,)], steps=10, seed=7, dtype=dtype)
    straight = {k: v.copy() for k, v in params.items()}
    opt = make()
    _run(opt, straight, grad_seq)

    resumed = {k: v.copy() for k, v in params.items()}
    first = make()
    _run(first, resumed, grad_seq[:4])
    second = _roundtrip(first)
    assert second.iterations == 4
    _run(second, resumed, grad_seq[4:])

    for k in params:
        assert np.array_equal(straight[k], resumed[k])
    a, b = opt.get_state(), second.get_state()
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


def test_get_state_returns_copies():
    params, grad_seq = _problem([(3,)], steps=2, seed=1)
    opt = Adam()
    opt.apply_gradients(params, grad_seq[0])
    snapshot = opt.get_state()
    kept = {k: v.copy() for k, v in snapshot.items()}
    opt.apply_gradients(params, grad_seq[1])
    assert all(np.array_equal(snapshot[k], kept[k]) for k in kept)


@pytest.mark.parametrize("opt", [Adam(learning_rate=5e-4, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
                                 SGD(learning_rate=0.1, momentum=0.5)], ids=repr)
def test_config_roundtrip(opt):
    config = opt.get_config()
    assert config["class_name"] == type(opt).__name__
    assert json.loads(json.dumps(config)) == config
    assert optimizers.from_config(config).get_config() == config


# -- dtype and in-place updates -------------------------------------------------------------
@pytest.mark.parametrize("make", [Adam, lambda: SGD(momentum=0.9)], ids=["Adam", "SGD"])
def test_float32_stays_float32_and_updates_in_place(make):
    params64, grad_seq = _problem([(5, 3), (3,)], steps=5, seed=2)
    params32 = {k: v.astype(np.float32) for k, v in params64.items()}
    arrays = dict(params32)
    pointers = {k: v.__array_interface__["data"][0] for k, v in params32.items()}
    opt32, opt64 = make(), make()
    _run(opt32, params32, grad_seq)     # float64 gradients are cast to the float32 parameter
    _run(opt64, params64, grad_seq)
    for k, v in params32.items():
        assert v is arrays[k] and v.__array_interface__["data"][0] == pointers[k]
        assert v.dtype == np.float32
        # float32 rounding: a few ulps (6e-8) per step on values of order 1
        np.testing.assert_allclose(v, params64[k], rtol=1e-5, atol=1e-6)
    assert all(s.dtype == np.float32 for k, s in opt32.get_state().items() if k != "iterations")


def test_iterations_count_calls_not_parameters():
    params, grad_seq = _problem([(2,), (3,), (4,)], steps=3, seed=0)
    opt = Adam()
    for i, grads in enumerate(grad_seq, start=1):
        opt.apply_gradients(params, grads)
        assert opt.iterations == i


# -- bad input --------------------------------------------------------------------------
def test_apply_gradients_rejects_bad_input():
    opt = Adam()
    w = np.zeros((2, 3))
    with pytest.raises(ValueError,
                       match=r"no gradient for parameter\(s\) \['w'\]; grads has \['v'\]"):
        opt.apply_gradients({"w": w}, {"v": w})
    with pytest.raises(ValueError, match=r"gradient\(s\) \['v'\] match no parameter"):
        opt.apply_gradients({"w": w}, {"w": w, "v": w})
    with pytest.raises(ValueError, match=r"gradient for 'w' has shape \(3, 2\), expected the "
                                         r"parameter's shape \(2, 3\)"):
        opt.apply_gradients({"w": w}, {"w": np.zeros((3, 2))})
    with pytest.raises(TypeError, match="parameter 'w' must be a floating-point ndarray .* int64"):
        opt.apply_gradients({"w": np.zeros(3, dtype=np.int64)}, {"w": np.zeros(3)})
    with pytest.raises(TypeError, match="parameter 'w' must be a floating-point ndarray .* list"):
        opt.apply_gradients({"w": [0.0, 1.0]}, {"w": np.zeros(2)})
    with pytest.raises(TypeError,
                       match=r"grads\['w'\] must be a floating-point array, got dtype int64"):
        opt.apply_gradients({"w": w}, {"w": np.zeros((2, 3), dtype=np.int64)})
    with pytest.raises(TypeError, match="params must be a dict of name -> array, got list"):
        opt.apply_gradients([w], {"w": w})
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="parameter 'w' is read-only"):
        opt.apply_gradients({"w": frozen}, {"w": np.zeros(3)})
    assert opt.iterations == 0 and opt.get_state() == {"iterations": 0}


def test_nothing_is_updated_when_one_gradient_is_bad():
    a, b = np.ones(3), np.ones(2)
    with pytest.raises(ValueError, match="gradient for 'b'"):
        Adam().apply_gradients({"a": a, "b": b}, {"a": np.ones(3), "b": np.ones(3)})
    assert np.all(a == 1)


@pytest.mark.parametrize("make, match, error", [
    (lambda: Adam(learning_rate=0), "Adam: learning_rate must be a finite number > 0, got 0",
     ValueError),
    (lambda: Adam(learning_rate="fast"), "Adam: learning_rate must be a number, got 'fast'",
     TypeError),
    (lambda: Adam(beta_1=1.0), r"Adam: beta_1 must lie in \[0, 1\), got 1.0", ValueError),
    (lambda: Adam(beta_2=-0.1), r"Adam: beta_2 must lie in \[0, 1\), got -0.1", ValueError),
    (lambda: Adam(epsilon=-1e-7), "Adam: epsilon must be a finite number > 0", ValueError),
    (lambda: SGD(learning_rate=math.inf), "SGD: learning_rate must be a finite number > 0",
     ValueError),
    (lambda: SGD(momentum=1.5), r"SGD: momentum must lie in \[0, 1\], got 1.5", ValueError),
])
def test_constructors_reject_bad_hyperparameters(make, match, error):
    with pytest.raises(error, match=match):
        make()


def test_from_config_rejects_bad_config():
    with pytest.raises(ValueError,
                       match="unknown class_name 'RMSprop'; expected one of 'Adam', 'SGD'"):
        optimizers.from_config({"class_name": "RMSprop"})
    with pytest.raises(ValueError, match="unknown class_name None"):
        optimizers.from_config({"learning_rate": 0.1})
    with pytest.raises(ValueError, match=r"SGD takes no argument\(s\) \['beta_1'\]"):
        optimizers.from_config({"class_name": "SGD", "beta_1": 0.9})
    with pytest.raises(TypeError, match="config must be a dict, got str"):
        optimizers.from_config("Adam")


def test_set_state_rejects_bad_state():
    opt = Adam()
    m = np.zeros(3)
    with pytest.raises(ValueError, match="state has no 'iterations' entry"):
        opt.set_state({"m/w": m, "v/w": m})
    with pytest.raises(ValueError, match=r"state\['iterations'\] must be an integer >= 0, got -1"):
        opt.set_state({"iterations": -1})
    with pytest.raises(ValueError, match="unexpected state entry 'velocity/w'; expected "
                                         "'iterations', 'm/<param name>', 'v/<param name>'"):
        opt.set_state({"iterations": 1, "velocity/w": m})
    with pytest.raises(ValueError, match=r"every parameter needs all of the slots \['m', 'v'\]"):
        opt.set_state({"iterations": 1, "m/w": m})
    with pytest.raises(ValueError,
                       match="unexpected state entry 'velocity/w'; expected 'iterations'$"):
        SGD().set_state({"iterations": 1, "velocity/w": m})
    # a state from another model is caught at the first update, before anything changes
    opt.set_state({"iterations": 1, "m/w": m, "v/w": m})
    w = np.ones(4)
    with pytest.raises(ValueError, match=r"state m/w is float64 \(3,\), but the parameter is "
                                         r"float64 \(4,\)"):
        opt.apply_gradients({"w": w}, {"w": np.ones(4)})
    assert np.all(w == 1) and opt.iterations == 1
