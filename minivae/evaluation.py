"""How well a trained VAE models the data, in nats per image (docs/evaluation.md).

For an image x of P pixels in [0, 1], the encoder's q(z|x) = N(mu, diag(exp(log_var))),
the prior p(z) = N(0, I) and a Bernoulli decoder with pixel probabilities p = decoder(z):

    log p(x|z) = sum_pixels x log p + (1 - x) log(1 - p),    from the logits behind p
    ELBO(x)    = log p(x|z) - KL(q(z|x) || p(z)),            one z ~ q(z|x), KL in closed form
    IWAE_k(x)  = log (1/k) sum_i w_i,   w_i = p(x|z_i) p(z_i) / q(z_i|x),   z_i ~ q(z|x)

IWAE_1 has the ELBO's expectation, and E[IWAE_k] rises with k towards log p(x)
(Burda, Grosse and Salakhutdinov, 2016). Bits per dimension: -bound / (P ln 2).
Every function takes a batch of images x (N, H, W, C) as floats in [0, 1] or
uint8 pixels, and a numpy Generator for the noise (default_rng(0) when None, so
a number printed twice is the same number). Networks run in the model's dtype;
the densities are summed in float64.

evaluate_checkpoint(path) is `minivae evaluate`: the losses and every bound of a
checkpoint on the test split of its data (of the embedded sample, the last
SAMPLE_HOLDOUT images, which training on it holds out), bounded in work and in
memory, as one JSON-ready dict.
"""

import math
import numbers
import sys
import time

import numpy as np
from scipy.special import logsumexp

from ._atomic import write_json
from ._progress import progress_line
from ._validation import check_positive_int, check_real, check_seed, with_article
from .checkpoint import load
from .datasets import load_for_model
from .datasets.spec import SAMPLE_HOLDOUT
from .distributions import _diagonal_gaussian_kl, diagonal_gaussian_logpdf, reparameterize
from .errors import InputError, InputTypeError
from .latent import encode_codes
from .losses import EPSILON
from .models import PREDICT_BATCH, VAE
from .models.footprint import DEFAULT_BUDGET, check_budget
from .pixels import check_images, to_float

DEFAULT_BATCH = PREDICT_BATCH    # latent points decoded at once
ACTIVE_THRESHOLD = 0.01      # Burda et al.'s threshold on Var_x E[z_u|x]
# Decoder passes evaluate_checkpoint runs without force: the default (10,000 ELBO images,
# 1,000 images at k = 100) needs 110,000; 2,000,000 is about 20 times that.
MAX_DECODES = 2_000_000
# IWAE work that reports its progress on stderr: about 10 s of decoding on two cores.
PROGRESS_DECODES = 100_000


def _check_vae(model, x, owner):
    if not isinstance(model, VAE):
        raise InputTypeError(f"{owner}: model must be a VAE (an encoder q(z|x) and a prior are "
                             f"needed for a likelihood bound), got {type(model).__name__}")
    if model.reconstruction_loss != "bce":
        raise InputError(f"{owner}: the bounds assume a Bernoulli decoder, as a model trained "
                         f"with BCE has; this one was trained with {model.reconstruction_loss!r}")
    return check_images(x, "x", model.input_shape, owner)


def _rng(rng):
    return np.random.default_rng(0) if rng is None else rng


def bernoulli_log_likelihood(x, p, from_logits=False):
    """sum over each image's pixels of x log p + (1 - x) log(1 - p), in float64.

    x, p (N, ...) broadcastable. from_logits=False: p holds probabilities, clipped
    to [1e-7, 1 - 1e-7] as Keras's BCE on probabilities clips them, so a saturated
    wrong pixel costs at most -log(1e-7) = 16.1 nats instead of infinity.
    from_logits=True: p holds the logits l behind a sigmoid, and each term is
    x l - max(l, 0) - log(1 + exp(-|l|)), finite and unclipped for any l. That is
    how the model's training loss scores a decoder ending in a sigmoid
    (docs/models.md), so the bounds below score what training optimised.
    Equals -P * binary_crossentropy(_from_logits)(x, p, reduction="none") up to rounding.
    Returns (N,) float64.
    """
    x = np.asarray(x, dtype=np.float64)
    if from_logits:
        logits = np.asarray(p, dtype=np.float64)
        with np.errstate(under="ignore"):                   # exp(-|l|) -> 0 is exact here
            ell = x * logits - np.maximum(logits, 0) - np.log1p(np.exp(-np.abs(logits)))
    else:
        p = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1.0 - EPSILON)
        ell = x * np.log(p) + (1.0 - x) * np.log1p(-p)
    return ell.reshape(ell.shape[0], -1).sum(axis=1)


def _log_terms(model, x, k, rng, batch_size, progress=None):
    """For each batch of images: (log p(x|z), log p(z), log q(z|x), mu, log_var).

    The first three are (k, B) for k samples z_i = mu + sigma * eps_i per image.
    Images per batch are batch_size // k (at least one), and the k samples of a batch
    are drawn and decoded in chunks of at most batch_size points, so memory stays
    flat whatever k. eps is drawn chunk by chunk along k, which gives the numbers
    of one rng.standard_normal((k, B, d)) in the same order: k = 1 draws the same
    eps whatever the caller. progress(samples done), when given, is called after each
    chunk with the number of (image, sample) pairs decoded so far.
    """
    d, n = model.latent_dim, max(1, batch_size // k)
    from_logits = model.output_activation is not None     # as training scored them
    for start in range(0, len(x), n):
        xb = x[start:start + n]
        mu, log_var = encode_codes(model, xb, DEFAULT_BATCH)
        target = to_float(xb, np.float64)
        chunk = max(1, batch_size // len(xb))
        terms = []
        for lo in range(0, k, chunk):
            eps = rng.standard_normal((min(chunk, k - lo), len(xb), d))
            z = reparameterize(mu, log_var, eps)[0]                             # (c, B, d)
            out = model.decode(z.reshape(-1, d).astype(model.dtype), batch_size=batch_size,
                               logits=from_logits)
            c = len(eps)
            log_px_z = bernoulli_log_likelihood(np.broadcast_to(target, (c,) + target.shape)
                                                .reshape(out.shape), out, from_logits
                                                ).reshape(c, len(xb))
            terms.append((log_px_z, diagonal_gaussian_logpdf(z, 0.0, 0.0),
                          diagonal_gaussian_logpdf(z, mu, log_var)))
            if progress is not None:
                progress(start * k + (lo + c) * len(xb))
        log_px_z, log_pz, log_qz = (np.concatenate(t) for t in zip(*terms))
        yield log_px_z, log_pz, log_qz, mu, log_var


def elbo_terms(model, x, rng=None, kl="analytic", batch_size=DEFAULT_BATCH):
    """Per image: (log p(x|z) with one z ~ q(z|x), KL), each (N,) float64, in nats.

    kl="analytic": KL(q(z|x) || p(z)) in closed form, the book's KL loss.
    kl="sampled": its one-sample estimate log q(z|x) - log p(z) at the same z,
    so that log p(x|z) - KL is then exactly the k = 1 importance-weighted bound.
    """
    owner = "elbo_terms"
    x = _check_vae(model, x, owner)
    if kl not in ("analytic", "sampled"):
        raise InputError(f"{owner}: kl must be 'analytic' or 'sampled', got {kl!r}")
    recs, kls = [], []
    for log_px_z, log_pz, log_qz, mu, log_var in _log_terms(model, x, 1, _rng(rng), batch_size):
        recs.append(log_px_z[0])
        kls.append(_diagonal_gaussian_kl(mu, log_var) if kl == "analytic"
                   else log_qz[0] - log_pz[0])
    return np.concatenate(recs), np.concatenate(kls)


def elbo(model, x, rng=None, kl="analytic", batch_size=DEFAULT_BATCH):
    """The evidence lower bound in nats per image, averaged over x (see elbo_terms)."""
    log_px_z, kl_n = elbo_terms(model, x, rng, kl, batch_size)
    return float(np.mean(log_px_z - kl_n))


def iwae_per_image(model, x, ks=(1, 10, 100), rng=None, batch_size=DEFAULT_BATCH,
                   progress=None):
    """{k: (N,) bounds}: IWAE_k of each image, for every k in ks, in nats.

    max(ks) samples are drawn per image and IWAE_k uses the first k of them, so
    the whole set costs max(ks) decodes per image, not sum(ks); each IWAE_k is
    still the estimator of its own k.
    """
    owner = "iwae_per_image"
    x = _check_vae(model, x, owner)
    ks = [check_positive_int(k, "k", owner) for k in np.atleast_1d(ks).tolist()]
    k_max = max(ks)
    parts = {k: [] for k in ks}
    for log_px_z, log_pz, log_qz, _, _ in _log_terms(model, x, k_max, _rng(rng), batch_size,
                                                      progress):
        log_w = log_px_z + log_pz - log_qz                                      # (k_max, B)
        for k in ks:
            # log mean_i w_i without forming w_i = exp(-300) or so: logsumexp shifts by the max
            parts[k].append(logsumexp(log_w[:k], axis=0) - math.log(k))
    return {k: np.concatenate(v) for k, v in parts.items()}


def iwae_bounds(model, x, ks=(1, 10, 100), rng=None, batch_size=DEFAULT_BATCH):
    """{k: IWAE_k in nats per image averaged over x} for every k in ks."""
    return {k: float(v.mean()) for k, v in iwae_per_image(model, x, ks, rng, batch_size).items()}


def iwae_bound(model, x, k, rng=None, batch_size=DEFAULT_BATCH):
    """The importance-weighted bound with k samples per image, nats per image averaged over x.

    k = 1 is the ELBO with a sampled KL (elbo(..., kl="sampled") with the same rng).
    """
    return iwae_bounds(model, x, (k,), rng, batch_size)[check_positive_int(k, "k", "iwae_bound")]


def kl_per_dimension(model, x, batch_size=DEFAULT_BATCH):
    """Mean over x of KL(q(z_j|x) || N(0, 1)) for each latent dimension j: (d,) nats.

    The entries sum to the analytic KL term of the ELBO.
    """
    x = _check_vae(model, x, "kl_per_dimension")
    mu, log_var = encode_codes(model, x, batch_size)
    return (0.5 * (np.square(mu) + np.expm1(log_var) - log_var)).mean(axis=0)


def posterior_mean_variance(model, x, batch_size=DEFAULT_BATCH):
    """Var over x of E[z_j|x] = z_mean_j, for each latent dimension: (d,)."""
    x = _check_vae(model, x, "posterior_mean_variance")
    return encode_codes(model, x, batch_size)[0].var(axis=0)


def active_units(model, x, threshold=ACTIVE_THRESHOLD, batch_size=DEFAULT_BATCH):
    """How many latent dimensions the encoder uses: Var_x E[z_j|x] > threshold.

    A collapsed unit has q(z_j|x) = p(z_j) for every x, so its mean does not
    move with x; Burda et al. (2016) count units above 0.01.
    """
    return int(np.sum(posterior_mean_variance(model, x, batch_size) > threshold))


def bits_per_dim(bound, pixels):
    """A bound in nats per image as bits per pixel: -bound / (pixels ln 2)."""
    return -bound / (pixels * math.log(2.0))


def _stderr(values):
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def summarize(model, x, iwae_k=(1, 10, 100), iwae_limit=None, rng=None,
              threshold=ACTIVE_THRESHOLD, batch_size=DEFAULT_BATCH, progress=None):
    """Every diagnostic of a VAE on x, as a JSON-ready dict (what `minivae evaluate` prints).

    The ELBO uses all of x; the IWAE bounds the first iwae_limit images (all by
    default), at max(iwae_k) decodes per image. One rng drives both, in that order.
    stderr entries are the standard error of the mean over images. progress(samples
    decoded) is called as the IWAE bounds advance.
    """
    owner = "summarize"
    x = _check_vae(model, x, owner)
    rng = _rng(rng)
    pixels = int(np.prod(model.input_shape))
    log_px_z, kl_n = elbo_terms(model, x, rng, batch_size=batch_size)
    bound = float(np.mean(log_px_z - kl_n))
    mu, log_var = encode_codes(model, x, batch_size)
    variance = mu.var(axis=0)
    out = {"images": len(x), "pixels": pixels, "elbo": bound,
           "elbo_stderr": _stderr(log_px_z - kl_n),
           "reconstruction_log_likelihood": float(log_px_z.mean()), "kl": float(kl_n.mean()),
           "bits_per_dim": bits_per_dim(bound, pixels),
           "kl_per_dimension": (0.5 * (np.square(mu) + np.expm1(log_var) - log_var))
           .mean(axis=0).tolist(),
           "posterior_mean_variance": variance.tolist(),
           "active_units": int(np.sum(variance > threshold)), "active_threshold": threshold}
    if iwae_k:
        x_iwae = x if iwae_limit is None else x[:check_positive_int(iwae_limit, "iwae_limit",
                                                                     owner)]
        per_image = iwae_per_image(model, x_iwae, iwae_k, rng, batch_size, progress)
        out["iwae_images"] = len(x_iwae)
        out["iwae"] = {str(k): {"bound": float(v.mean()), "stderr": _stderr(v),
                                "bits_per_dim": bits_per_dim(float(v.mean()), pixels)}
                       for k, v in sorted(per_image.items())}
    return out


def format_summary(summary):
    """The summary as a small table of lines, for a terminal."""
    s = summary
    lines = [f"{'ELBO':<18}{s['elbo']:10.2f} nats/image  (+- {s['elbo_stderr']:.2f})   "
             f"{s['bits_per_dim']:.4f} bits/dim   on {s['images']} images, "
             f"{s['pixels']} pixels each",
             f"{'  log p(x|z)':<18}{s['reconstruction_log_likelihood']:10.2f}",
             f"{'  KL':<18}{s['kl']:10.2f}"]
    for k, v in s.get("iwae", {}).items():
        lines.append(f"{'IWAE k=' + k:<18}{v['bound']:10.2f} nats/image  (+- {v['stderr']:.2f})"
                     f"   {v['bits_per_dim']:.4f} bits/dim   on {s['iwae_images']} images")
    kl_dims = "  ".join(f"z_{j + 1} {v:.3f}" for j, v in enumerate(s["kl_per_dimension"]))
    lines.append(f"{'KL per dimension':<18}{kl_dims}")
    variances = ", ".join(f"{v:.3g}" for v in s["posterior_mean_variance"])
    lines.append(f"{'active units':<18}{s['active_units']} of {len(s['kl_per_dimension'])}"
                 f"   (Var_x E[z|x]: {variances}; active above {s['active_threshold']:g})")
    return "\n".join(lines)


def _non_finite(values, prefix=""):
    """Names of the non-finite numbers in a nested dict/list of results."""
    if isinstance(values, dict):
        return [n for k, v in values.items() for n in _non_finite(v, f"{prefix}{k}.")]
    if isinstance(values, (list, tuple)):
        return [n for i, v in enumerate(values) for n in _non_finite(v, f"{prefix}{i}.")]
    if isinstance(values, float) and not np.isfinite(values):
        return [prefix.rstrip(".")]
    return []


def _iwae_ks(iwae_k, owner):
    """iwae_k as a list of positive ints: None or () for none, one int, or a list of them."""
    if iwae_k is None:
        return []
    if isinstance(iwae_k, numbers.Integral) and not isinstance(iwae_k, bool):
        iwae_k = [iwae_k]
    if isinstance(iwae_k, (str, bytes)) or not isinstance(iwae_k, (list, tuple, np.ndarray)):
        raise InputTypeError(f"{owner}: iwae_k must be positive integers (an int or a list of "
                             f"them, e.g. (1, 10, 100)), got {iwae_k!r} of type "
                             f"{type(iwae_k).__name__}")
    return [check_positive_int(k, "iwae_k", owner) for k in iwae_k]


def evaluate_checkpoint(checkpoint, data=None, data_dir=None, image_size=None, verify=True,
                        batch_size=100, seed=None, limit=None, iwae_k=(1, 10, 100),
                        iwae_limit=1000, force=False, json_path=None,
                        memory_budget=DEFAULT_BUDGET):
    """`minivae evaluate`: a checkpoint's losses and bounds on the test split of its data.

    The data is what the checkpoint's run recorded unless named (datasets.
    load_for_model), its first `limit` images; where the embedded sample stands in
    for the test split, its last SAMPLE_HOLDOUT images, the ones a run on the sample
    validates on and never trains on. Returns a JSON-ready dict: "losses" (the
    model's evaluate), "dataset", "split" (which of its images), and for a VAE with
    a Bernoulli decoder everything summarize gives (the ELBO on every image, the
    IWAE bounds for each k in iwae_k on the first iwae_limit, one
    default_rng(seed or 0) for both) and the "seconds" it took. seed also restarts
    the model's Generator. A model whose forward pass of the batches evaluated at
    once would need more than memory_budget bytes (models.footprint) is refused
    before any data is read, and work beyond MAX_DECODES decoder passes before any
    is done, unless force=True; IWAE work beyond PROGRESS_DECODES samples reports
    its progress on stderr as it goes. A model without those bounds (an
    autoencoder, a decoder trained with MSE) gets its losses only, and a line on
    stderr says so. A non-finite result is refused rather than reported.
    json_path: also write the dict there, as strict JSON.
    """
    owner = "evaluate_checkpoint"
    batch_size = check_positive_int(batch_size, "batch_size", owner)
    seed = check_seed(seed, "--seed")
    if limit is not None:
        limit = check_positive_int(limit, "limit", owner)
    iwae_k = _iwae_ks(iwae_k, owner)
    iwae_limit = check_positive_int(iwae_limit, "iwae_limit", owner)
    memory_budget = check_real(memory_budget, "memory_budget", owner, minimum=0)
    model = load(checkpoint)
    # The most examples one pass runs at once: the model's evaluate takes batch_size
    # images, the bounds encode and decode at most DEFAULT_BATCH points at a time.
    at_once = max(batch_size, DEFAULT_BATCH) if limit is None else \
        max(min(batch_size, limit), min(DEFAULT_BATCH, limit * max(iwae_k or [1])))
    check_budget(model, at_once, memory_budget)
    test = load_for_model(model.input_shape, "test", data, data_dir, image_size,
                          (model.run or {}).get("data"), verify=verify, reader=str(checkpoint),
                          image_shape=model.image_shape)
    if seed is not None:
        model.reseed(seed)
    # The sample stands in for both splits; a run on it trains on all but its last
    # SAMPLE_HOLDOUT images (datasets.load_for_training), so only those are test images.
    x = test.images[-SAMPLE_HOLDOUT:] if test.is_sample else test.images
    x = x[:limit]
    bounds = isinstance(model, VAE) and model.reconstruction_loss == "bce"
    iwae_images = min(len(x), iwae_limit) if iwae_k else 0
    decodes = len(x) * (2 if bounds else 1) + iwae_images * max(iwae_k or [0])
    if decodes > MAX_DECODES and not force:
        raise InputError(f"this evaluation needs about {decodes:,} decoder passes "
                         f"({iwae_images:,} images x {max(iwae_k):,} IWAE samples, plus the "
                         f"ELBO's); the limit without --force is {MAX_DECODES:,}; lower "
                         f"--iwae-k or --iwae-limit, or pass --force")
    report = {"losses": model.evaluate(x, batch_size=batch_size)}
    if bounds:
        started = time.perf_counter()
        samples = iwae_images * max(iwae_k or [0])
        with progress_line("IWAE", samples, "samples decoded",
                           show=samples > PROGRESS_DECODES) as progress:
            summary = summarize(model, x, iwae_k=iwae_k, iwae_limit=iwae_limit,
                                rng=np.random.default_rng(seed or 0), progress=progress)
        summary["seconds"] = round(time.perf_counter() - started, 1)
        report.update(summary)
    report["dataset"] = "embedded sample" if test.is_sample else test.source
    report["split"] = f"the sample's last {SAMPLE_HOLDOUT:,} images (a run on the sample " \
                      f"holds them out)" if test.is_sample else "test"
    bad = _non_finite(report)
    if bad:
        raise InputError(f"{checkpoint} gives non-finite results ({', '.join(bad[:4])}"
                         f"{' ...' if len(bad) > 4 else ''}): its weights or the data are "
                         f"broken, so there is nothing to report")
    if not bounds:
        held = f"a VAE trained with {model.reconstruction_loss}" if isinstance(model, VAE) \
            else with_article(type(model).__name__)
        print(f"minivae: {checkpoint} holds {held}; a likelihood bound needs a VAE with a "
              f"Bernoulli decoder (bce), so only its losses are shown", file=sys.stderr)
    if json_path:
        write_json(json_path, report)
    return report
