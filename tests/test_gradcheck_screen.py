"""gradcheck.screen: group tests that single out wrong entries a sample left out."""

import numpy as np

from minivae.gradcheck.screen import budget, screen, screen_step

U = np.finfo(np.float64).eps


def run(x, a, rest, tests=64, seed=0, rtol=1e-6):
    f = lambda: float(np.sum(np.sin(x)))        # noqa: E731
    f0 = f()
    return screen(f, x, f0, a, rest, U * np.sum(np.abs(np.sin(x))), 1e-6, U,
                  np.random.default_rng(seed), tests, rtol * np.max(np.abs(a)))


def test_a_right_gradient_costs_one_test_and_singles_out_nothing(rng):
    x = rng.standard_normal(3000)
    found, tests, finished = run(x, np.cos(x), np.arange(3000))
    assert list(found) == [] and tests == 1 and finished


def test_one_wrong_entry_is_found_in_two_tests_per_halving(rng):
    x = rng.standard_normal(3000)
    a = np.cos(x)
    a[1234] += 1e-4 * abs(a[1234])
    x0 = x.copy()
    found, tests, finished = run(x, a, np.arange(3000))
    assert list(found) == [1234] and finished
    # One flagged group per level, each split in two: 1 + 2 * ceil(log2 3000) tests.
    assert tests <= 1 + 2 * 12
    assert np.array_equal(x, x0)                 # restored to the bit


def test_an_error_everywhere_stops_at_the_budget(rng):
    x = rng.standard_normal(3000)
    found, tests, finished = run(x, 2 * np.cos(x), np.arange(3000), tests=20)
    assert not finished and tests <= 20


def test_the_budget_is_a_quarter_test_per_sampled_entry():
    assert budget(1000) == 250 and budget(1) == 1


def test_the_step_grows_until_the_noise_resolves_the_tolerance():
    assert screen_step(1e-18, 1e-6, 1e-9) == 1e-6
    # Noise 9.5e-6 at h, still 9e-9 at 1024 h: the largest step that fits is taken.
    assert screen_step(1e-12, 1e-6, 1e-9) == 1024e-6
    assert screen_step(1.0, 1e-5, 1e-9) == 32e-5            # 1024 h would pass 0.01
