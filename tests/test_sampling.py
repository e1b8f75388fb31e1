"""Sampling: finite differences with eps fixed, a loop reference, sample statistics,
hypothesis shapes, dtypes, errors."""

import numpy as np
import pytest
from hypothesis import given, settings

from tests import reference_layers as ref
from minivae.gradcheck import check_gradients
from minivae.layers import Sampling

# z is smooth in (z_mean, z_log_var) with eps fixed: float64 central differences
# land near 1e-9 relative; 1e-6 is gradcheck's default with three orders of
# margin, while a wrong backward (a missing 0.5, say) errs by ~0.5.
RTOL = 1e-6
# Reference comparisons: exp and a product, one or two float64 roundings.
REF_TOL = 1e-13


def built(latent_dim, dtype="float64", rng=None):
    layer = Sampling(rng=rng)
    layer.build((latent_dim,), rng=np.random.default_rng(0), dtype=dtype)
    return layer


def gradcheck(layer, z_mean, z_log_var, eps, w):
    """Check (d_z_mean, d_z_log_var) for the scalar L = sum(z * w), eps held fixed."""
    z_mean, z_log_var = z_mean.copy(), z_log_var.copy()   # perturbed in place
    layer.forward((z_mean, z_log_var), eps=eps)
    d_z_mean, d_z_log_var = layer.backward(w)

    def loss():
        return float(np.sum(layer.forward((z_mean, z_log_var), eps=eps) * w))

    return check_gradients(loss, {"z_mean": z_mean, "z_log_var": z_log_var},
                           {"z_mean": d_z_mean, "z_log_var": d_z_log_var})


def inputs(n, latent_dim, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, latent_dim)), rng.uniform(-3, 1, (n, latent_dim)),
            rng.standard_normal((n, latent_dim)), rng.standard_normal((n, latent_dim)))


def test_gradcheck_float64():
    z_mean, z_log_var, eps, w = inputs(5, 3, 0)
    report = gradcheck(built(3), z_mean, z_log_var, eps, w)
    assert [r.name for r in report] == ["z_mean", "z_log_var"]
    ref.assert_grads_close(report, RTOL)


def test_matches_loop_reference():
    z_mean, z_log_var, eps, dz = inputs(4, 6, 1)
    layer = built(6)
    z = layer.forward((z_mean, z_log_var), eps=eps)
    d_z_mean, d_z_log_var = layer.backward(dz)
    np.testing.assert_allclose(z, ref.sampling_forward(z_mean, z_log_var, eps),
                               rtol=REF_TOL, atol=REF_TOL)
    d_mu_ref, d_lv_ref = ref.sampling_backward(z_log_var, eps, dz)
    np.testing.assert_allclose(d_z_mean, d_mu_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(d_z_log_var, d_lv_ref, rtol=REF_TOL, atol=REF_TOL)


@settings(max_examples=30, deadline=None)
@given(n=ref.batch_sizes, latent_dim=ref.small_dims, seed=ref.seeds)
def test_random_shapes(n, latent_dim, seed):
    z_mean, z_log_var, eps, w = inputs(n, latent_dim, seed)
    layer = built(latent_dim)
    z = layer((z_mean, z_log_var), eps=eps)          # __call__ passes eps on
    assert z.shape == (n, latent_dim)
    np.testing.assert_allclose(z, ref.sampling_forward(z_mean, z_log_var, eps),
                               rtol=REF_TOL, atol=REF_TOL)
    ref.assert_grads_close(gradcheck(layer, z_mean, z_log_var, eps, w), RTOL,
                           loss_scale=float(np.sum(np.abs(z * w))))


def test_sample_statistics():
    # z ~ N(mu, exp(log_var)) entrywise: check mean and variance per latent
    # dimension over many samples drawn from the layer's own Generator.
    size = 40_000
    mu = np.array([-1.0, 0.0, 2.5])
    log_var = np.array([-2.0, 0.0, 1.0])
    layer = built(3, rng=np.random.default_rng(123))
    z = layer.forward((np.tile(mu, (size, 1)), np.tile(log_var, (size, 1))))
    var = np.exp(log_var)
    # Standard errors: of the mean sqrt(var / size); of the sample variance of a
    # normal var * sqrt(2 / (size - 1)). 5 of them fail a correct layer with
    # probability < 1e-6 per comparison (and the seed is fixed).
    assert np.all(np.abs(z.mean(axis=0) - mu) < 5 * np.sqrt(var / size))
    assert np.all(np.abs(z.var(axis=0, ddof=1) - var) < 5 * var * np.sqrt(2 / (size - 1)))


def test_eps_comes_from_the_layer_generator():
    z_mean, z_log_var = np.zeros((4, 2)), np.zeros((4, 2))
    a, b = built(2, rng=np.random.default_rng(5)), built(2, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.forward((z_mean, z_log_var)), b.forward((z_mean, z_log_var)))
    # Without a constructor rng, the Generator handed to build is used.
    c, d = Sampling(), Sampling()
    c.build((2,), rng=np.random.default_rng(9))
    d.build((2,), rng=np.random.default_rng(9))
    np.testing.assert_array_equal(c.forward((z_mean, z_log_var)), d.forward((z_mean, z_log_var)))
    # A given eps is used as is: z = 0 + exp(0) * eps.
    eps = np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(c.forward((z_mean, z_log_var), eps=eps), eps)


def test_inference_mode_still_samples():
    # As the book's Keras Sampling layer: training=False does not make it deterministic.
    layer = built(3, rng=np.random.default_rng(1))
    z_mean, z_log_var = np.zeros((2, 3)), np.zeros((2, 3))
    first = layer.forward((z_mean, z_log_var), training=False)
    second = layer.forward((z_mean, z_log_var), training=False)
    assert not np.array_equal(first, second)


def test_backward_does_not_alias_dz():
    layer = built(2)
    layer.forward((np.zeros((1, 2)), np.zeros((1, 2))))
    dz = np.ones((1, 2))
    d_z_mean, _ = layer.backward(dz)
    d_z_mean += 1.0             # e.g. a caller adding the KL gradient in place
    np.testing.assert_array_equal(dz, np.ones((1, 2)))


def test_float32_stays_float32():
    layer = built(3, dtype="float32")
    z_mean, z_log_var = np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32)
    z = layer.forward((z_mean, z_log_var))
    grads = layer.backward(np.ones_like(z))
    assert z.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)
    # A float64 eps is cast to the layer's dtype, not the other way round.
    assert layer.forward((z_mean, z_log_var), eps=np.ones((2, 3))).dtype == np.float32


def test_float64_layer():
    layer = built(3, dtype="float32").astype("float64")
    z = layer.forward((np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32)))
    assert z.dtype == np.float64


def test_bad_inputs():
    layer = built(3)
    good = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"same batch size, got z_mean \(4, 3\) and "
                                         r"z_log_var \(5, 3\)"):
        layer.forward((good, np.zeros((5, 3))))
    with pytest.raises(ValueError, match=r"expected z_log_var of shape \(batch, 3\), got \(4, 2\)"):
        layer.forward((good, np.zeros((4, 2))))
    with pytest.raises(ValueError, match=r"expected z_mean of shape \(batch, 3\), got \(3,\)"):
        layer.forward((np.zeros(3), np.zeros(3)))
    with pytest.raises(TypeError, match="z_mean must be a floating-point array, got dtype int"):
        layer.forward((np.zeros((4, 3), dtype=int), good))
    with pytest.raises(TypeError, match="expects a pair \\(z_mean, z_log_var\\), got ndarray"):
        layer.forward(good)
    with pytest.raises(TypeError, match="got tuple of length 3"):
        layer.forward((good, good, good))
    with pytest.raises(ValueError, match=r"eps must have z_mean's shape \(4, 3\), got \(4, 2\)"):
        layer.forward((good, good), eps=np.zeros((4, 2)))
    with pytest.raises(TypeError, match="eps must be a floating-point array"):
        layer.forward((good, good), eps=np.zeros((4, 3), dtype=int))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(good)
    layer.forward((good, good))
    with pytest.raises(ValueError, match=r"expected dy of shape \(4, 3\)"):
        layer.backward(np.zeros((4, 2)))


def test_bad_construction():
    with pytest.raises(ValueError, match=r"expects input_shape \(latent_dim,\).*got \(2, 3\)"):
        Sampling().build((2, 3))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator or None, got int"):
        Sampling(rng=42)
    with pytest.raises(RuntimeError, match="not built"):
        Sampling().forward((np.zeros((1, 2)), np.zeros((1, 2))))
