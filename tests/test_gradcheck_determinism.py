"""gradcheck.determinism: noise fixed on request, state and unfixed noise flagged."""

import numpy as np
import pytest

from minivae.errors import InputError
from minivae.gradcheck import check_layer, check_vjp, fixed_noise
from minivae.gradcheck.determinism import differences
from minivae.layers import Dense, Dropout
from minivae.models import Sequential


def built_dropout(rate=0.5, shape=(6,), seed=0):
    layer = Dropout(rate)
    layer.build(shape, rng=np.random.default_rng(seed), dtype="float64")
    return layer


def test_fixed_noise_replays_the_generator_and_gives_it_back():
    layer = built_dropout()
    own = layer.rng
    x = np.ones((4, 6))
    with fixed_noise(layer) as fixed:
        assert fixed == [layer]
        first, second = layer.forward(x), layer.forward(x)
    np.testing.assert_array_equal(first, second)
    # The layer's own Generator, untouched: its next mask is the one the block saw.
    assert layer.rng is own and "forward" not in vars(layer)
    np.testing.assert_array_equal(layer.forward(x), first)


def test_fixed_noise_reaches_layers_inside_a_sequential(rng):
    model = Sequential([Dense(4), Dropout(0.5)])
    model.build((3,), rng=rng, dtype="float64")
    x = rng.standard_normal((5, 3))
    with fixed_noise(model):
        np.testing.assert_array_equal(model.forward(x), model.forward(x))
    assert not np.array_equal(model.forward(x), model.forward(x))


def test_dropout_in_training_mode_checks_with_its_noise_fixed(rng):
    layer = built_dropout()
    report = check_layer(layer, rng.standard_normal((3, 6)))
    assert report.verdict == "pass" and any("noise fixed" in n for n in report.notes)
    # As it is, every forward draws a new mask: the check says f is not a function.
    report = check_layer(layer, rng.standard_normal((3, 6)), fix_noise=False)
    assert report.verdict == "FAIL" and "f is not deterministic" in str(report)


def test_a_gradient_that_accumulates_across_calls_is_flagged(rng):
    buffer = {"g": np.zeros((3, 2))}

    def vjp(dy, x):
        buffer["g"] += dy          # state kept between calls
        return buffer["g"]
    report = check_vjp(lambda x: x.copy(), vjp, rng.standard_normal((3, 2)))
    assert report.verdict == "FAIL"
    assert "changed between two identical backward passes" in str(report)


def test_noise_redrawn_in_backward_is_flagged_even_with_noise_fixed(rng):
    layer = built_dropout()

    class RedrawsInBackward(Dropout):
        def backward(self, dy):
            return dy * (self.rng.random(dy.shape) < 0.5) / 0.5
    bad = RedrawsInBackward(0.5)
    bad.build((6,), rng=np.random.default_rng(0), dtype="float64")
    assert check_layer(layer, rng.standard_normal((3, 6))).verdict == "pass"
    assert check_layer(bad, rng.standard_normal((3, 6))).verdict == "FAIL"

U = np.finfo(np.float64).eps


def test_non_finite_gradient_entries_compare_by_place_and_value():
    a = np.array([1.0, np.nan, 2.0])
    assert differences(0.0, 0.0, {"w": a}, {"w": a.copy()}, 1.0, U)[1] == {}
    moved = np.array([1.0, 3.0, np.nan])
    assert "changed between two identical backward passes" in \
        differences(0.0, 0.0, {"w": a}, {"w": moved}, 1.0, U)[1]["w"]


# -- numpy's global random state, and the advice that fits (issue 24) -----------

def global_dropout(x):
    return x * (np.random.rand(*x.shape) < 0.5)


def test_a_function_drawing_from_the_global_state_gets_advice_that_applies(rng):
    x = rng.standard_normal((3, 4))
    report = check_vjp(global_dropout, lambda dy, v: dy, x)
    text = str(report)
    assert report.verdict == "FAIL" and "f draws from numpy's global random state" in text
    assert "global_seed=0" in text and "fixed_noise" not in text and "pass eps" not in text


def test_noise_from_a_private_generator_gets_the_vjp_advice(rng):
    noise = np.random.default_rng(0)
    report = check_vjp(lambda v: v * noise.random(v.shape), lambda dy, v: dy, np.ones(3))
    text = str(report)
    assert report["v"].hint_kinds == ["nondeterministic"]
    assert "draw the noise once, outside f" in text and "global_seed" not in text


def test_global_seed_reseeds_before_every_call_and_restores_the_state(rng):
    x = rng.standard_normal((3, 4))
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    mask = {}

    def f(v):
        mask["m"] = np.random.rand(*v.shape) < 0.5
        return v * mask["m"]
    assert check_vjp(f, lambda dy, v: dy * mask["m"], x, global_seed=7).verdict == "pass"
    np.testing.assert_array_equal(np.random.rand(3), expected)
    wrong = check_vjp(f, lambda dy, v: dy * (np.random.rand(*v.shape) < 0.5), x,
                      global_seed=7)
    assert wrong.verdict == "FAIL"


@pytest.mark.parametrize("seed", [-1, 2 ** 32, 1.5, True])
def test_global_seed_is_validated(seed):
    with pytest.raises(InputError, match="global_seed must be an integer"):
        check_vjp(np.sin, lambda dy, v: dy * np.cos(v), np.ones(2), global_seed=seed)


def test_twice_the_gradient_is_named_accumulation(rng):
    buffer = {"g": np.zeros(4)}

    def vjp(dy, v):
        buffer["g"] = buffer["g"] + dy
        return buffer["g"]
    report = check_vjp(lambda v: v * 1.0, vjp, rng.standard_normal(4))
    assert report["v"].hint_kinds == ["accumulates"] and "twice the first" in str(report)


def test_with_global_seed_other_noise_gets_no_global_advice(rng):
    noise = np.random.default_rng(0)
    report = check_vjp(lambda v: v * noise.random(v.shape), lambda dy, v: dy, np.ones(3),
                       global_seed=0)
    assert report["v"].hint_kinds == ["nondeterministic"] and "global_seed=0" not in \
        str(report)
