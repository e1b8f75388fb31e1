"""The chapter's argument in numbers: an autoencoder's latent space against a VAE's,
and beta's trade of rate against distortion (docs/evaluation.md).

    compare_latent_spaces(models, x)   each model's codes, gap shares, Gaussian fit, and
                                       images decoded from uniform points
    train_pair(x)                      the book's autoencoder and VAE on the same data
    sweep(x, x_eval, betas)            one VAE per beta: rate, distortion, ELBO, samples
"""

import numpy as np

from . import evaluation
from .architectures import fashion_autoencoder, fashion_vae
from .errors import InputError
from .gaps import DEFAULT_RADII, DEFAULT_TRIM, latent_report, uniform_points
from .latent import encode_codes
from .optimizers import Adam

LEARNING_RATE, BATCH_SIZE = 5e-4, 100           # the book's
FASHION_PIXELS = 32 * 32                        # the book's padded 32 x 32 x 1 images


def compare_latent_spaces(models, x, radius=DEFAULT_RADII, n_points=20000, n_images=36,
                          trim=DEFAULT_TRIM, seed=0):
    """For each named model: its codes of x, the report, and images decoded from
    n_images points drawn uniformly over its region (the chapter's "sample the
    latent space" experiment). Every model sees the same seeds.

    models: {name: trained model}. Returns {name: {"codes", "points", "images", "report"}}.
    """
    out = {}
    for name, model in models.items():
        z, log_var = encode_codes(model, x)
        noise_variance = None if log_var is None else np.exp(log_var).mean(axis=0)
        report = latent_report(z, radius, n_points, trim, np.random.default_rng(seed),
                               noise_variance)
        points = uniform_points(z, n_images, np.random.default_rng(seed + 1), trim)
        images = model.decode(points.astype(model.dtype))
        out[name] = {"codes": z, "points": points, "images": images, "report": report}
    return out


def _fit(model, x, epochs, seed, verbose, data_parallel=False):
    model.compile(Adam(learning_rate=LEARNING_RATE))
    history = model.fit(x, epochs=epochs, batch_size=BATCH_SIZE, seed=seed, verbose=verbose,
                        data_parallel=data_parallel)
    return model, history


def train_pair(x, epochs=5, latent_dim=2, seed=0, verbose=1, data_parallel=False):
    """The book's autoencoder and VAE trained on the same x with the same seed.

    data_parallel is fit's (off unless asked: it sets BLAS threads process-wide).
    Returns {"autoencoder": model, "vae": model}.
    """
    models = {"autoencoder": fashion_autoencoder(latent_dim=latent_dim, seed=seed),
              "vae": fashion_vae(latent_dim=latent_dim, seed=seed)}
    for name, model in models.items():
        if verbose:
            print(f"training the {name} on {len(x)} images", flush=True)
        _fit(model, x, epochs, seed, verbose, data_parallel)
    return models


def sweep(x, x_eval, betas, epochs=3, latent_dim=2, seed=0, n_samples=10, verbose=1,
          data_parallel=False):
    """One VAE per beta on x; each one's rate and distortion on x_eval, and samples.

    beta weighs the KL against the *summed* pixel log-likelihood (the model's
    reconstruction_weight is set to the pixel count), so beta = 1 trains on the
    true ELBO and the book's 500 x mean BCE + KL is beta = 1024 / 500 = 2.048.
    rate = E_x KL(q(z|x) || p(z)), distortion = -E_x log p(x|z), both in nats
    per image (one z per image, default_rng(seed)); rate + distortion = -ELBO.
    Returns one dict per beta: beta, rate, distortion, elbo, active_units,
    history (the last epoch's losses), samples (n_samples images from the prior).
    """
    bad = [beta for beta in betas if not (np.isfinite(beta) and beta >= 0)]
    if bad or not len(betas):       # refused before any training starts
        raise InputError(f"sweep: betas must be finite numbers >= 0, at least one, got {betas!r}")
    points = []
    for beta in betas:
        if verbose:
            print(f"training the VAE with beta = {beta:g} on {len(x)} images", flush=True)
        model = fashion_vae(latent_dim=latent_dim, seed=seed, beta=beta,
                            reconstruction_weight=FASHION_PIXELS)
        model, history = _fit(model, x, epochs, seed, verbose, data_parallel)
        log_px_z, kl = evaluation.elbo_terms(model, x_eval, np.random.default_rng(seed))
        points.append({"beta": float(beta), "rate": float(kl.mean()),
                       "distortion": float(-log_px_z.mean()),
                       "elbo": float(np.mean(log_px_z - kl)),
                       "active_units": evaluation.active_units(model, x_eval),
                       "history": {k: v[-1] for k, v in history.history.items()},
                       "samples": model.generate(n_samples, np.random.default_rng(seed))})
    return points
