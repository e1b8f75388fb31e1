"""gradcheck.differences: the stencils' errors, their noise gains, and exact restoration."""

import numpy as np

from minivae.gradcheck.differences import (GAIN, DirectionProbe, EntryProbe, GroupProbe,
                                           measure, numerical_gradient, one_sided, stencil)


def _values(f, x, h):
    return {k: np.array([f(x + k * h)]) for k in (1, -1, 2, -2)}, np.array([f(x)])


def test_richardson_is_exact_for_quartics_and_central_is_not():
    # f = x^4 at x = 1.3: c(h) errs by h^2 f'''/6 = 4 * 1.3 * h^2, R(h) by O(h^4 f^(5)) = 0.
    f, x, h = (lambda v: v ** 4), 1.3, 1e-2
    values, f0 = _values(f, x, h)
    s = stencil(values, f0, np.array([h]))
    exact = 4 * x ** 3
    assert abs(s["central"][0] - exact - 4 * x * h ** 2) < 1e-10
    # Rounding only: terms ~3, u ~ 2e-16, divided by 12h ~ 0.1.
    assert abs(s["richardson"][0] - exact) < 1e-12
    # The one-sided pair agree to O(h^3) with each other: D4 = 24 h^4 for x^4.
    assert abs(s["delta4"][0] - 24 * h ** 4) < 1e-13


def test_one_sided_differences_see_the_two_slopes_of_a_kink():
    f, h = (lambda v: max(v, 0.0)), 1e-3
    values, f0 = _values(f, 0.0, h)
    s = stencil(values, f0, np.array([h]))
    # Exact for piecewise-linear f: right slope 1, left slope 0, central their mean.
    assert (s["forward"][0], s["backward"][0], s["central"][0]) == (1.0, 0.0, 0.5)
    assert abs(s["delta4"][0]) == 2 * h


def test_noise_gains_are_the_norms_of_the_weights():
    assert np.isclose(GAIN["central"], np.linalg.norm([0.5, -0.5]))
    assert np.isclose(GAIN["richardson"], np.linalg.norm([8, -8, -1, 1]) / 12)
    assert np.isclose(GAIN["one-sided"], np.linalg.norm([4, -1, -3]) / 2)
    assert np.isclose(GAIN["delta4"], np.linalg.norm([1, -4, 6, -4, 1]))


def test_entry_probe_restores_the_original_bits_and_reports_the_step_taken():
    x = np.array([[0.1, 1e8], [3.0, -2.0]])
    before = x.copy()
    seen = []
    probe = EntryProbe(lambda: seen.append(x.copy()) or float(x.sum()), x)
    value, realized = probe(1, 1e-6)
    np.testing.assert_array_equal(x, before)
    # At 1e8 the spacing of float64 is 1.5e-8: x + 1e-6 lands on a neighbour.
    assert realized == (1e8 + 1e-6) - 1e8 and realized != 1e-6
    assert seen[0][0, 1] == 1e8 + 1e-6 and value == float(seen[0].sum())


def test_direction_probe_moves_every_entry_and_restores_them():
    x = np.arange(4.0).reshape(2, 2)
    V = np.array([[1.0, 2.0, 3.0, 4.0]])
    probe = DirectionProbe(lambda: float(x.sum()), x, V)
    assert probe(0, 0.5) == (6.0 + 5.0, 0.5)
    np.testing.assert_array_equal(x, np.arange(4.0).reshape(2, 2))


def test_measure_returns_one_value_per_perturbation():
    x = np.array([1.0, 2.0, 3.0])
    f, h = measure(EntryProbe(lambda: float(np.sum(x ** 2)), x), [0, 2], (1, -1), 1e-3)
    np.testing.assert_allclose((f[1] - f[-1]) / (2 * h), [2.0, 6.0], rtol=1e-9)


def test_numerical_gradient_on_a_cubic_matches_its_truncation(rng):
    x = rng.standard_normal((3, 4))
    g = numerical_gradient(lambda v: np.sum(v ** 3), x)
    # Central differences on x^3 err by exactly eps^2 = 1e-12 per entry, plus rounding
    # ~1e-16 * |f| / eps ~ 1e-9; 1e-7 absolute leaves margin.
    np.testing.assert_allclose(g, 3 * x ** 2, atol=1e-7)


def test_each_kink_test_is_blind_at_one_distance_and_not_both():
    h = 1e-3
    for d, blind in ((2 * h / 3, "delta4"), (0.0, "pair")):
        values, f0 = _values(lambda v: max(v - d, 0.0), 0.0, h)
        s = stencil(values, f0, np.array([h]))
        pair = s["central"][0] - s["central2"][0]
        # Exact arithmetic on a few multiples of h: rounding ~1e-16 at most.
        assert (abs(s["delta4"][0]) < 1e-15) == (blind == "delta4")
        assert (abs(pair) < 1e-12) == (blind == "pair")


def test_one_sided_values_are_nan_where_f_is_not_finite():
    f = {1: np.array([1.0, np.nan, 1.0]), 2: np.array([2.0, 2.0, np.inf]),
         -1: np.array([-1.0, -1.0, -1.0]), -2: np.array([-np.inf, -2.0, -2.0])}
    F, B = one_sided(f, 0.0, np.ones(3))
    assert np.isnan(F[1:]).all() and F[0] == 1.0       # (4 - 2 - 0) / 2
    assert np.isnan(B[0]) and (B[1:] == 1.0).all()


def test_group_probe_moves_its_group_by_signs_and_restores_the_bits(rng):
    x = rng.standard_normal(6) * 255
    x0 = x.copy()
    seen = []
    probe = GroupProbe(lambda: seen.append(x.copy()) or 0.0, x, [np.array([1, 4])],
                       [np.array([1.0, -1.0])])
    probe(0, 1e-3)
    moved = seen[0] - x0
    assert np.allclose(moved[[1, 4]], [1e-3, -1e-3]) and (moved[[0, 2, 3, 5]] == 0).all()
    assert np.array_equal(x, x0)
