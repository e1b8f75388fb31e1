"""minivae.evaluation: the ELBO and IWAE bounds against slow loops, their relations, activity."""

import json
import math
import os

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from minivae import checkpoint, evaluation
from minivae.architectures import fashion_autoencoder, fashion_vae
from minivae.cli import main
from minivae.datasets import load_sample
from minivae.datasets.spec import SAMPLE_HOLDOUT
from minivae.errors import InputError
from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Reshape
from minivae.models import VAE, GaussianEncoder, Sequential
from minivae.losses import binary_crossentropy, binary_crossentropy_from_logits, gaussian_kl
from tests.conftest import tiny_vae

PIXELS = 8 * 8          # tiny_vae's images
# float64 throughout: two ways of summing the same ~70 terms of size ~1 agree
# to a few ulp of the total, ~1e-14 relative; 1e-12 leaves room and still
# catches any real difference (a missing term is >= 1e-7 of the total).
RTOL = 1e-12


def spread_vae(seed=0):
    """A tiny float64 VAE whose posterior is broad (log_var ~ 1) and whose decoder
    reacts strongly to z, so importance weights vary and IWAE gains are visible."""
    model = tiny_vae(seed=seed)
    params = model.named_params()
    params["z_log_var/bias"][:] = 1.0
    params["dense/kernel"] *= 4
    return model


def images(n, seed=1):
    return np.random.default_rng(seed).uniform(size=(n, 8, 8, 1))


# ------------------------------------------------------------ the likelihood

def test_bernoulli_log_likelihood_is_minus_the_summed_bce():
    rng = np.random.default_rng(0)
    x, p = rng.uniform(size=(5, 8, 8, 1)), rng.uniform(0.01, 0.99, size=(5, 8, 8, 1))
    bce, _ = binary_crossentropy(x, p, reduction="none")
    np.testing.assert_allclose(evaluation.bernoulli_log_likelihood(x, p), -PIXELS * bce,
                               rtol=RTOL)


def test_bernoulli_log_likelihood_from_logits_is_minus_the_summed_bce_from_logits():
    rng = np.random.default_rng(0)
    x, logits = rng.uniform(size=(5, 8, 8, 1)), rng.normal(0, 3, size=(5, 8, 8, 1))
    bce, _ = binary_crossentropy_from_logits(x, logits, reduction="none")
    np.testing.assert_allclose(evaluation.bernoulli_log_likelihood(x, logits, from_logits=True),
                               -PIXELS * bce, rtol=RTOL)
    # no clip: a logit of -50 on a white pixel costs its full 50 nats, not 16.1
    ell = evaluation.bernoulli_log_likelihood(np.ones((1, 1)), np.full((1, 1), -50.0), True)
    assert ell[0] == pytest.approx(-50.0, rel=1e-12)


def test_bernoulli_log_likelihood_clips_as_the_loss_does():
    x = np.array([[1.0, 0.0]])
    p = np.array([[0.0, 1.0]])                  # both pixels certain and wrong
    assert evaluation.bernoulli_log_likelihood(x, p)[0] == pytest.approx(2 * math.log(1e-7))


# ------------------------------------------------ against a direct slow loop

def slow_iwae(model, x, eps):
    """IWAE_k per image with plain loops: one image, one sample at a time,
    densities from scipy.stats, log-mean-exp by hand. eps (k, N, d)."""
    k, n, d = eps.shape
    out = []
    for j in range(n):
        mu, log_var = (a[0] for a in model.encoder.encode(x[j:j + 1], training=False))
        sigma = np.exp(0.5 * log_var)
        log_w = []
        for i in range(k):
            z = mu + sigma * eps[i, j]
            p = model.decode(z[None])[0].ravel()
            # no clip: the bounds score the decoder's logits, as training does; no
            # pixel of this tiny model saturates, so log q itself is accurate
            log_px_z = sum(t * math.log(q) + (1 - t) * math.log(1 - q)
                           for t, q in zip(x[j].ravel(), p))
            log_pz = multivariate_normal(np.zeros(d), np.eye(d)).logpdf(z)
            log_qz = norm(mu, sigma).logpdf(z).sum()
            log_w.append(log_px_z + log_pz - log_qz)
        top = max(log_w)
        out.append(top + math.log(sum(math.exp(w - top) for w in log_w) / k))
    return np.array(out)


@pytest.mark.parametrize("k", [1, 7])
def test_iwae_matches_a_slow_loop(k):
    model, x = spread_vae(), images(4)
    # One batch holds every image (k * 4 <= batch_size), so the bound draws
    # eps as a single rng.standard_normal((k, 4, d)), which the loop replays.
    eps = np.random.default_rng(3).standard_normal((k, 4, 2))
    fast = evaluation.iwae_per_image(model, x, (k,), rng=np.random.default_rng(3))[k]
    np.testing.assert_allclose(fast, slow_iwae(model, x, eps), rtol=RTOL)


def test_elbo_matches_the_books_losses_on_the_same_z():
    model, x = spread_vae(), images(6)
    eps = np.random.default_rng(5).standard_normal((6, 2))
    z_mean, z_log_var, z = model.encoder.forward(x, training=False, eps=eps)
    bce, _ = binary_crossentropy(x, model.decode(z), reduction="none")
    kl, _, _ = gaussian_kl(z_mean, z_log_var, reduction="none")
    log_px_z, kl_n = evaluation.elbo_terms(model, x, rng=np.random.default_rng(5))
    np.testing.assert_allclose(log_px_z, -PIXELS * bce, rtol=RTOL)
    np.testing.assert_allclose(kl_n, kl, rtol=RTOL)
    assert evaluation.elbo(model, x, rng=np.random.default_rng(5)) == \
        pytest.approx(np.mean(-PIXELS * bce - kl), rel=RTOL)


# --------------------------------------------------------- how bounds relate

def test_iwae_with_one_sample_is_the_elbo_with_a_sampled_kl():
    model, x = spread_vae(), images(50)
    for batch_size in (7, 500):             # any batching: k = 1 draws eps alike
        iwae = evaluation.iwae_bound(model, x, 1, rng=np.random.default_rng(9),
                                     batch_size=batch_size)
        elbo = evaluation.elbo(model, x, rng=np.random.default_rng(9), kl="sampled",
                               batch_size=batch_size)
        assert iwae == pytest.approx(elbo, rel=RTOL)


def test_analytic_and_sampled_kl_agree_in_expectation():
    model, x = spread_vae(), images(300)
    rec_a, kl_a = evaluation.elbo_terms(model, x, rng=np.random.default_rng(2))
    rec_s, kl_s = evaluation.elbo_terms(model, x, rng=np.random.default_rng(2), kl="sampled")
    np.testing.assert_array_equal(rec_a, rec_s)         # the same z
    diff = kl_s - kl_a                                  # mean 0, by E_q[log q - log p] = KL
    # 4 standard errors: a correct estimator fails this with probability 6e-5
    assert abs(diff.mean()) < 4 * diff.std(ddof=1) / math.sqrt(len(diff))


def test_iwae_rises_with_k_on_average():
    model, x = spread_vae(), images(200)
    per_image = evaluation.iwae_per_image(model, x, (1, 10, 100), rng=np.random.default_rng(0))
    for small, large in ((1, 10), (10, 100)):
        d = per_image[large] - per_image[small]
        # E[IWAE_k] cannot fall as k grows; an estimate may, by noise. Allow 3
        # standard errors of the paired difference (one-sided: 0.13% for a true
        # non-decrease), and ask that k = 100 gain clearly over k = 1.
        assert d.mean() > -3 * d.std(ddof=1) / math.sqrt(len(d)), (small, large)
    gain = per_image[100] - per_image[1]
    assert gain.mean() > 5 * gain.std(ddof=1) / math.sqrt(len(gain))   # measured ~1.5 nats
    bounds = evaluation.iwae_bounds(model, x, (1, 10, 100), rng=np.random.default_rng(0))
    assert bounds == {k: pytest.approx(v.mean()) for k, v in per_image.items()}


def test_results_repeat_without_an_rng():
    model, x = spread_vae(), images(10)
    assert evaluation.elbo(model, x) == evaluation.elbo(model, x)
    assert evaluation.iwae_bound(model, x, 5) == evaluation.iwae_bound(model, x, 5)


def test_bits_per_dim():
    assert evaluation.bits_per_dim(-1024 * math.log(2), 1024) == pytest.approx(1.0)


# ----------------------------------------------------- latent diagnostics

def collapse(model, unit):
    """Zero latent unit `unit`'s heads: z_mean = 0 and z_log_var = 0 whatever x, so
    q(z_unit|x) = N(0, 1) = p(z_unit), the picture of posterior collapse."""
    params = model.named_params()
    for head in ("z_mean", "z_log_var"):
        params[f"{head}/kernel"][:, unit] = 0.0
        params[f"{head}/bias"][unit] = 0.0
    return model


def test_active_units_and_kl_per_dimension_see_a_collapsed_unit():
    model = collapse(tiny_vae(seed=4), unit=1)
    model.named_params()["z_mean/kernel"][:, 0] *= 50        # unit 0 clearly in use
    x = images(100)
    variance = evaluation.posterior_mean_variance(model, x)
    assert variance[1] == 0.0 and variance[0] > 0.01
    assert evaluation.active_units(model, x) == 1
    assert evaluation.active_units(model, x, threshold=10 * variance[0]) == 0
    kl = evaluation.kl_per_dimension(model, x)
    assert kl[1] == 0.0 and kl[0] > 0
    _, kl_n = evaluation.elbo_terms(model, x)
    assert kl.sum() == pytest.approx(kl_n.mean(), rel=RTOL)


def test_summarize_is_json_ready_and_consistent():
    model, x = spread_vae(), images(30)
    s = evaluation.summarize(model, x, iwae_k=(1, 4), iwae_limit=12)
    json.dumps(s)
    assert s["images"] == 30 and s["pixels"] == PIXELS and s["iwae_images"] == 12
    assert s["elbo"] == pytest.approx(s["reconstruction_log_likelihood"] - s["kl"])
    assert s["bits_per_dim"] == pytest.approx(-s["elbo"] / (PIXELS * math.log(2)))
    assert sum(s["kl_per_dimension"]) == pytest.approx(s["kl"])
    assert set(s["iwae"]) == {"1", "4"}
    text = evaluation.format_summary(s)
    assert "IWAE k=4" in text and "active units" in text and "bits/dim" in text


def test_refuses_models_without_a_bernoulli_likelihood():
    x = np.zeros((2, 32, 32, 1), np.float32)
    with pytest.raises(TypeError, match="must be a VAE"):
        evaluation.elbo(fashion_autoencoder(seed=0), x)
    with pytest.raises(ValueError, match="Bernoulli decoder"):
        evaluation.iwae_bound(tiny_vae(reconstruction_loss="mse"), images(2), 3)
    with pytest.raises(ValueError, match="positive integer"):
        evaluation.iwae_bound(tiny_vae(), images(2), 0)
    with pytest.raises(ValueError, match="kl must be"):
        evaluation.elbo(tiny_vae(), images(2), kl="exact")


# ------------------------------------------------------------ a checkpoint's report --

def test_evaluate_checkpoint_reports_a_checkpoint_as_json(tmp_path, no_real_data):
    path = checkpoint.save(tmp_path / "vae.npz", fashion_vae(seed=0))
    report = evaluation.evaluate_checkpoint(path, limit=20, iwae_k=(1, 3), iwae_limit=5,
                                            seed=0, json_path=tmp_path / "r.json")
    assert report["images"] == 20 and report["iwae_images"] == 5
    assert set(report["iwae"]) == {"1", "3"} and report["dataset"] == "embedded sample"
    assert json.loads((tmp_path / "r.json").read_text()) == report
    with pytest.raises(InputError, match="needs about 2,000,040 decoder passes"):
        evaluation.evaluate_checkpoint(path, limit=20, iwae_k=(100_000,), iwae_limit=20)


def test_a_long_iwae_reports_its_progress_as_it_goes(capsys):
    """Issue 22: evaluate --iwae-k 1000000 on one image ran about 30 minutes with
    nothing on the screen (progress came per image, and only with --force). The
    samples decoded are now reported after each chunk."""
    from minivae import evaluation
    model = tiny_vae(seed=0)
    x = np.random.default_rng(0).uniform(size=(1, 8, 8, 1))
    seen = []
    evaluation.iwae_per_image(model, x, ks=[250], rng=np.random.default_rng(0),
                              batch_size=100, progress=seen.append)
    assert seen == [100, 200, 250]              # chunks of batch_size samples, then the rest


def _stride_3000_vae():
    """A legal VAE of 31 parameters whose passes read and write 3000 x 3000 images."""
    encoder = GaussianEncoder([Conv2D(1, 3, strides=3000, padding="same"), Flatten()], 2)
    decoder = Sequential([Dense(1), Reshape((1, 1, 1)),
                          Conv2DTranspose(1, 3, strides=3000, padding="same",
                                          activation="sigmoid")])
    return VAE(encoder, decoder).build((3000, 3000, 1), rng=np.random.default_rng(0))


def test_evaluate_refuses_a_pass_beyond_its_memory_budget_before_reading_data(tmp_path,
                                                                             no_real_data,
                                                                             capsys):
    """Issue 22: evaluate had no memory budget, where the figure commands have one. A
    checkpoint of 10 KB whose 100-image pass needs gigabytes is refused, with the
    estimate and the flag, before any data is read: with the budget raised, what stops
    it is the data (32x32 sample images for a 3000x3000 model), which it reads later."""
    path = checkpoint.save(tmp_path / "big.npz", _stride_3000_vae())
    assert os.path.getsize(path) < 20_000
    with pytest.raises(InputError, match=r"a forward pass of 100 example\(s\) through this "
                                         r"model needs about [\d.]+ GiB .*more than the budget "
                                         r"of 2.00 GiB; .*--memory-budget"):
        evaluation.evaluate_checkpoint(path)
    # 3 images run at most 3 at once, and fit the budget; so does 100 in a larger one
    for options in ({"limit": 3, "iwae_k": (1,)}, {"memory_budget": 1024 ** 4}):
        with pytest.raises(InputError, match=r"reads images of shape \(3000, 3000, 1\)"):
            evaluation.evaluate_checkpoint(path, **options)
    assert main(["evaluate", str(path), "--memory-budget", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "more than the budget of 512.0 MiB" in err[0], err


@pytest.mark.parametrize("recorded", [True, False], ids=["run-on-the-sample", "fallback"])
def test_evaluate_scores_only_the_images_a_run_on_the_sample_holds_out(tmp_path, no_real_data,
                                                                      recorded):
    """Issue 22: a checkpoint trained on the embedded sample (named, or fallen back to) was
    scored on all 2,000 images, its 1,800 training images among them. Its test images
    are the last SAMPLE_HOLDOUT, the ones training validates on."""
    model = fashion_vae(seed=0)
    run = {"data": {"name": "sample", "data_dir": None, "folder": None, "image_size": 32}}
    path = checkpoint.save(tmp_path / "vae.npz", model, run=run if recorded else None)
    report = evaluation.evaluate_checkpoint(path, iwae_k=(1,), seed=0)
    assert SAMPLE_HOLDOUT == 200 and report["images"] == 200 and report["iwae_images"] == 200
    assert report["dataset"] == "embedded sample" and "last 200" in report["split"]
    held_out = load_sample("uint8")[0][-SAMPLE_HOLDOUT:]
    # the same images, batches, noise (seed 0) and arithmetic: the losses agree exactly
    model.reseed(0)
    assert report["losses"] == model.evaluate(held_out, batch_size=100)
    assert evaluation.evaluate_checkpoint(path, limit=7, iwae_k=())["images"] == 7


def test_type_errors_and_articles_of_evaluate(tmp_path, no_real_data, capsys):
    path = checkpoint.save(tmp_path / "vae.npz", fashion_vae(seed=0))
    for bad in (5.0, "5", [1, 2.5], True):
        with pytest.raises(TypeError, match=r"evaluate_checkpoint: iwae_k must be"):
            evaluation.evaluate_checkpoint(path, iwae_k=bad)
    # one int is one k
    assert set(evaluation.evaluate_checkpoint(path, limit=3, iwae_k=2)["iwae"]) == {"2"}
    capsys.readouterr()
    mse = fashion_vae(seed=0)
    mse.reconstruction_loss = "mse"
    for model, held in ((mse, "a VAE trained with mse"),
                        (fashion_autoencoder(seed=0), "an Autoencoder")):
        evaluation.evaluate_checkpoint(checkpoint.save(tmp_path / "m.npz", model), limit=3)
        assert f"m.npz holds {held}; a likelihood bound needs" in capsys.readouterr().err
