"""gradcheck.state: a layer's state is put back before every forward of a check."""

import threading

import numpy as np
import pytest

from minivae.errors import InputError
from minivae.gradcheck import check_layer
from minivae.gradcheck.state import Snapshot
from minivae.layers import BatchNormalization


class Holder:
    def __init__(self):
        self.W = np.ones(3)                  # kept: perturbed in place by a check
        self.stats = {"mean": np.zeros(2)}
        self.cache = []
        self.count = 0

    def forward(self, x):
        return x


def test_restore_puts_data_back_in_place_and_leaves_kept_arrays_alone():
    h = Holder()
    stats, mean = h.stats, h.stats["mean"]
    snap = Snapshot(h, keep=[h.W])
    h.W += 1.0
    h.stats["mean"] += 5.0
    h.stats["extra"] = 1
    h.cache.append(np.ones(2))
    h.count = 7
    snap.restore()
    assert h.W[0] == 2.0                    # kept
    assert h.stats is stats and h.stats["mean"] is mean and not mean.any()
    assert set(h.stats) == {"mean"} and h.cache == [] and h.count == 0


def test_a_recurrent_cell_that_carries_its_state_is_a_function_for_the_check(rng):
    class Cell:
        """h_t = tanh(x W + h_{t-1} U): h kept on the layer between calls."""

        def __init__(self):
            self.params = {"W": rng.standard_normal((3, 4)), "U": rng.standard_normal((4, 4))}
            self.grads, self.h = {}, np.zeros((2, 4))

        def forward(self, x):
            self.x, self.h_prev = x, self.h
            self.h = np.tanh(x @ self.params["W"] + self.h_prev @ self.params["U"])
            return self.h

        def backward(self, dh):
            dpre = dh * (1 - self.h ** 2)
            self.grads["W"], self.grads["U"] = self.x.T @ dpre, self.h_prev.T @ dpre
            return dpre @ self.params["W"].T

    cell = Cell()
    cell.forward(rng.standard_normal((2, 3)))       # a state that is not zero
    h = cell.h.copy()
    report = check_layer(cell, rng.standard_normal((2, 3)))
    assert report.verdict == "pass", str(report)
    np.testing.assert_array_equal(cell.h, h)


def test_minivae_batch_normalization_keeps_its_moving_statistics(rng):
    layer = BatchNormalization()
    layer.build((3,), rng=rng, dtype="float64")
    before = {k: v.copy() for k, v in layer.state.items()}
    assert check_layer(layer, rng.standard_normal((6, 3))).verdict == "pass"
    for k, v in before.items():
        np.testing.assert_array_equal(layer.state[k], v)


def test_a_cache_the_check_cannot_restore_is_named(rng):
    seen = []                       # outside the layer: a cache check_layer cannot reach

    class Stacks:
        params, grads = {}, {}

        def forward(self, x):
            seen.append(x.copy())
            return 2 * x

        def backward(self, dy):
            return 2 * np.stack([dy for _ in seen])
    with pytest.raises(InputError, match=r"gradient of 'x' has shape \(\d+, 3, 4\), the array "
                                         r"\(3, 4\): one gradient per input cached"):
        check_layer(Stacks(), rng.standard_normal((3, 4)))


def test_what_cannot_be_copied_is_left_alone():
    h = Holder()
    h.lock = threading.Lock()
    snap = Snapshot(h)
    lock = h.lock
    h.count = 3
    snap.restore()
    assert h.lock is lock and h.count == 0
