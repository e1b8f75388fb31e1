"""gradcheck.noise: the rounding noise of f, measured, and never below u |f|."""

import numpy as np

from minivae.gradcheck.noise import measured_noise, noise_level

U = np.finfo(np.float64).eps


def _noisy(x, sigma):
    """A smooth f plus deterministic noise of standard deviation sigma: a different,
    uniform-looking value at every point, as rounding is."""
    phase = np.sin(1e9 * np.sum(x * np.arange(1, x.size + 1)))
    return float(np.sum(x ** 2) + sigma * np.sqrt(12) * ((phase * 1e4) % 1.0 - 0.5))


def test_measured_noise_finds_planted_noise(rng):
    x = rng.standard_normal(20)
    estimates = [measured_noise(lambda: _noisy(x, 1e-9), {"x": x}, _noisy(x, 1e-9),
                                np.random.default_rng(seed)) for seed in range(20)]
    # Pooled over three directions, the estimate lies in (0.45, 2.2) sigma in all but
    # 1 in 10,000 draws of simulated noise (noise.py): 20 draws stay in (0.3, 3) sigma.
    assert 0.3e-9 < min(estimates) and max(estimates) < 3e-9
    np.testing.assert_array_equal(x, x.copy())


def test_the_arrays_are_restored_exactly(rng):
    x, W = rng.standard_normal(5), rng.standard_normal((2, 3))
    before = (x.copy(), W.copy())
    measured_noise(lambda: float(np.sum(np.sin(x)) + np.sum(W)), {"x": x, "W": W}, 0.0, rng)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(W, before[1])


def test_noise_level_keeps_the_a_priori_floor_for_an_exact_function(rng):
    # f = 0 * x is computed exactly: nothing to measure, the floor is u * F.
    x = rng.standard_normal(4)
    sigma, how = noise_level(lambda: 0.0, {"x": x}, 0.0, 3.0, U, rng)
    assert sigma == 3.0 * U and how.startswith("u * F")
    sigma, how = noise_level(lambda: _noisy(x, 1e-6), {"x": x}, _noisy(x, 1e-6), 1.0, U, rng)
    assert sigma > 1e-7 and how.startswith("measured")


def test_a_non_finite_neighbourhood_gives_infinite_noise():
    x = np.array([0.0])
    assert measured_noise(lambda: 0.0 if x[0] == 0 else np.nan, {"x": x}, 0.0,
                          np.random.default_rng(0)) == np.inf
