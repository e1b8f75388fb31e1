"""minivae.gaps: gaps and Gaussian fits on point sets whose answers are known."""

import math

import numpy as np
import pytest

from minivae import gaps


# ------------------------------------------------------------------- gaps

def test_a_grid_has_no_gap_wider_than_its_half_diagonal():
    h = 0.1
    g = np.arange(0.0, 1.0 + h / 2, h)
    z = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    # Every point of the unit square lies within h / sqrt(2) = 0.0707 of a node.
    assert gaps.gap_share(z, 0.072, trim=0, standardized=False) == 0.0
    # At r = 0.02 the 121 disks cover 121 pi 0.02^2 = 15% of the square at most.
    assert gaps.gap_share(z, 0.02, trim=0, standardized=False) > 0.8


def test_two_far_clusters_leave_most_of_their_box_empty():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(0, 0.1, (500, 2)), rng.normal(10, 0.1, (500, 2))])
    # Disks of radius 1 about the two clusters cover at most 2 pi 1.4^2 = 12 of
    # the box's ~110 square units.
    assert gaps.gap_share(z, 1.0, trim=0, standardized=False) > 0.85
    # In standard deviations (each axis ~5 units) the same holds at r = 0.2.
    assert gaps.gap_share(z, 0.2) > 0.85


def test_a_dense_uniform_cloud_has_no_gaps_and_radii_give_an_array():
    z = np.random.default_rng(1).uniform(-1, 1, (5000, 2))
    # 5000 points on 12 squared standard deviations: a disk of r = 0.25 holds
    # ~80 of them on average, so an empty one has probability ~exp(-80).
    shares = gaps.gap_share(z, [0.25, 0.5])
    assert shares.shape == (2,) and np.all(shares == 0.0)


def test_standardized_gaps_ignore_the_scale_and_offset_of_the_codes():
    z = np.random.default_rng(2).standard_normal((400, 2)) * [1.0, 3.0]
    kw = {"radius": [0.1, 0.3], "rng": None}
    np.testing.assert_array_equal(gaps.gap_share(z, **kw),
                                  gaps.gap_share(50 * z + 7, **kw))
    assert gaps.gap_share(z, 0.3, standardized=False) != \
        gaps.gap_share(50 * z, 0.3, standardized=False)


def test_region_trims_percentiles():
    z = np.concatenate([np.random.default_rng(3).uniform(0, 1, (1000, 2)), [[100.0, -100.0]]])
    lo, hi = gaps.region(z)
    assert np.all(lo > -0.1) and np.all(hi < 1.1)           # the outlier does not stretch it
    lo, hi = gaps.region(z, trim=0)
    assert hi[0] == 100.0 and lo[1] == -100.0


# --------------------------------------------------------- Gaussian fit KL

def test_gaussian_fit_kl_of_a_standard_normal_sample_is_near_zero():
    z = np.random.default_rng(4).standard_normal((20000, 2))
    # The fitted moments are off by sampling error only: KL ~ chi2 with 5
    # degrees of freedom over 2N, mean 1.25e-4; 5e-3 is 80 times that.
    assert 0 <= gaps.gaussian_fit_kl(z) < 5e-3


def test_gaussian_fit_kl_matches_the_closed_form_for_known_moments():
    rng = np.random.default_rng(5)
    y = rng.standard_normal((500, 3))
    y -= y.mean(axis=0)
    y = y @ np.linalg.inv(np.linalg.cholesky(np.cov(y, rowvar=False))).T   # cov(y) = I exactly
    m, A = np.array([1.0, -2.0, 0.5]), rng.standard_normal((3, 3))
    z = m + y @ A.T                                                        # cov(z) = A A^T
    expected = 0.5 * (np.sum(A ** 2) + m @ m - 3 - 2 * math.log(abs(np.linalg.det(A))))
    assert gaps.gaussian_fit_kl(z) == pytest.approx(expected, rel=1e-10)


def test_gaussian_fit_kl_refuses_codes_in_a_subspace():
    t = np.linspace(0, 1, 50)
    with pytest.raises(ValueError, match="singular"):
        gaps.gaussian_fit_kl(np.column_stack([t, 2 * t]))


def test_gaussian_fit_kl_adds_the_posterior_noise():
    # Codes with variance 0.5 per axis and posteriors of variance 0.5: the
    # encoded mixture has variance 1, as the prior; the codes alone do not.
    y = np.random.default_rng(8).standard_normal((400, 2))
    y -= y.mean(axis=0)
    z = np.sqrt(0.5) * y @ np.linalg.inv(np.linalg.cholesky(np.cov(y, rowvar=False))).T
    assert gaps.gaussian_fit_kl(z, noise_variance=[0.5, 0.5]) == pytest.approx(0, abs=1e-12)
    assert gaps.gaussian_fit_kl(z) == pytest.approx(2 * 0.5 * (0.5 - 1 - math.log(0.5)))
