"""The chapter's argument in numbers: an autoencoder's latent space against a VAE's,
and beta's trade of rate against distortion (docs/evaluation.md).

    compare_latent_spaces(models, x)   each model's codes, gap shares, Gaussian fit, and
                                       images decoded from uniform points
    train_pair(x)                      the book's autoencoder and VAE on the same data
    sweep(x, x_eval, betas)            one VAE per beta: rate, distortion, ELBO, samples
    compare_run(out), sweep_run(out)   `minivae compare` and `minivae sweep`: the data,
                                       the training, and the folder of figures and JSON

The runs train the book's 32x32 models on the data a spec names, as `minivae train`
chooses it (datasets.load_for_training), and compare's checkpoints record that data
and the settings as a run of `minivae train` does, so that every command reads them
back on their data (and `train --resume` continues them). Every argument is checked
before the data is read and any training starts. data_parallel is fit's (on by
default: each batch split between the cores, BLAS held to one thread during each
step and restored after it). Errors a user can cause raise InputError,
InputTypeError or DatasetError, naming each option as its flag (a Python argument
the command line never passes, by its name).
"""

import numbers
import os
import time

import numpy as np

from . import checkpoint, evaluation, plotting
from ._atomic import write_json
from ._validation import check_positive_int, check_seed
from .architectures import fashion_autoencoder, fashion_vae
from .datasets import load_for_training, parse_spec
from .datasets.spec import GREY, SAMPLE
from .errors import InputError, InputTypeError
from .gaps import DEFAULT_RADII, DEFAULT_TRIM, latent_report, uniform_points
from .latent import encode_codes
from .optimizers import Adam

LEARNING_RATE, BATCH_SIZE = 5e-4, 100           # the book's
RUN_MODELS = {"autoencoder": "ae", "vae": "vae"}  # each one's --model, as runs.BOOK_MODELS
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


def _fit(model, x, epochs, seed, verbose, data_parallel=True):
    model.compile(Adam(learning_rate=LEARNING_RATE))
    history = model.fit(x, epochs=epochs, batch_size=BATCH_SIZE, seed=seed, verbose=verbose,
                        data_parallel=data_parallel)
    return model, history


def _train_pair(x, epochs, latent_dim, seed, verbose, data_parallel):
    """({"autoencoder": model, "vae": model}, their Histories alike)."""
    models = {"autoencoder": fashion_autoencoder(latent_dim=latent_dim, seed=seed),
              "vae": fashion_vae(latent_dim=latent_dim, seed=seed)}
    histories = {}
    for name, model in models.items():
        if verbose:
            print(f"training the {name} on {len(x)} images", flush=True)
        histories[name] = _fit(model, x, epochs, seed, verbose, data_parallel)[1]
    return models, histories


def train_pair(x, epochs=5, latent_dim=2, seed=0, verbose=1, data_parallel=True):
    """The book's autoencoder and VAE trained on the same x with the same seed.

    data_parallel is fit's (on by default; False trains on whole batches).
    Returns {"autoencoder": model, "vae": model}.
    """
    return _train_pair(x, epochs, latent_dim, seed, verbose, data_parallel)[0]


def _radii(radius, owner):
    """radius as a list of finite numbers > 0: one number, or a non-empty list of them."""
    values = [radius] if isinstance(radius, numbers.Real) else radius
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, np.ndarray)) \
            or not all(isinstance(r, numbers.Real) and not isinstance(r, bool) for r in values):
        raise InputTypeError(f"{owner}: radius must be a number or a list of numbers (radii in "
                             f"standard deviations), got {radius!r}")
    if not len(values) or not all(np.isfinite(r) and r > 0 for r in values):
        raise InputError(f"--radius must be positive and finite (radii in standard "
                         f"deviations), at least one, got {radius}")
    return [float(r) for r in values]


def _betas(betas, owner):
    """betas as a list of finite numbers >= 0, at least one."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, (list, tuple, np.ndarray)) \
            or not all(isinstance(b, numbers.Real) and not isinstance(b, bool) for b in betas):
        raise InputTypeError(f"{owner}: betas must be a list of numbers >= 0 (e.g. [0.5, 1, 2]), "
                             f"got {betas!r}")
    if not len(betas) or not all(np.isfinite(b) and b >= 0 for b in betas):
        raise InputError(f"--beta: betas must be finite numbers >= 0, at least one, got "
                         f"{betas!r}")
    return [float(b) for b in betas]


def _check_training(owner, epochs, latent_dim, seed, limit):
    """The settings of a run's training, checked before any data is read."""
    check_positive_int(epochs, "epochs", owner)
    check_positive_int(latent_dim, "latent_dim", owner)
    check_seed(seed, "seed", owner)
    if limit is not None:
        check_positive_int(limit, "limit", owner)


def sweep(x, x_eval, betas, epochs=3, latent_dim=2, seed=0, n_samples=10, verbose=1,
          data_parallel=True):
    """One VAE per beta on x; each one's rate and distortion on x_eval, and samples.

    beta weighs the KL against the *summed* pixel log-likelihood (the model's
    reconstruction_weight is set to the pixel count), so beta = 1 trains on the
    true ELBO and the book's 500 x mean BCE + KL is beta = 1024 / 500 = 2.048.
    rate = E_x KL(q(z|x) || p(z)), distortion = -E_x log p(x|z), both in nats
    per image (one z per image, default_rng(seed)); rate + distortion = -ELBO.
    Returns one dict per beta: beta, rate, distortion, elbo, active_units,
    history (the last epoch's losses), samples (n_samples images from the prior).
    """
    betas = _betas(betas, "sweep")      # refused before any training starts
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


def _book_spec(data, data_dir, image_size):
    """The data spec (datasets.parse_spec) of the book's 32x32 grey images."""
    image_size = image_size or 32
    if image_size != 32:
        raise InputError(f"--image-size must be 32: compare and sweep train the book's 32x32 "
                         f"models, got {image_size}")
    spec = parse_spec(data, data_dir, image_size, None, (32, 32, 1))
    if spec["name"] not in GREY:
        raise InputError("compare and sweep train the book's Fashion-MNIST models: --data must "
                         "be fashion-mnist, mnist or sample")
    return spec


def _book_data(spec, limit, verify, allow_sample, verbose):
    """(train, validation, the spec to record) as `minivae train` chooses and records
    them: a run that fell back to the embedded sample records it by name."""
    train, val = load_for_training(spec, limit, allow_sample, verify, verbose)
    if train.is_sample and spec["name"] != SAMPLE:
        spec = {**spec, "name": SAMPLE}
    return train, val, spec


def _dataset(data):
    return "embedded sample" if data.is_sample else data.source


def compare_run(out="runs/compare", data=None, epochs=5, latent_dim=2, seed=0, limit=None,
                radius=DEFAULT_RADII, scatter=5000, data_dir=None, image_size=None, verify=True,
                allow_sample=True, verbose=1, data_parallel=True):
    """`minivae compare`: the book's autoencoder and VAE trained on the same images
    (train_pair), their latent spaces compared (compare_latent_spaces).

    Writes out/compare.png (both scatters of `scatter` codes, and images decoded
    from points drawn uniformly over the region the codes occupy), out/compare.json
    and both checkpoints (autoencoder.npz, vae.npz), each recording its run as
    `minivae train` does (its model, ae or vae, the settings and the data). Returns
    (the report written to compare.json, the figure's path).
    """
    owner = "compare_run"           # every argument refused before the long training
    radius = _radii(radius, owner)
    _check_training(owner, epochs, latent_dim, seed, limit)
    scatter = check_positive_int(scatter, "scatter", owner)
    spec = _book_spec(data, data_dir, image_size)
    os.makedirs(out, exist_ok=True)
    train, _, spec = _book_data(spec, limit, verify, allow_sample, verbose)
    x, y = train.images, train.labels
    started = time.perf_counter()
    models, histories = _train_pair(x, epochs, latent_dim, seed, verbose, data_parallel)
    trained = time.perf_counter() - started
    result = compare_latent_spaces(models, x, radius=radius, seed=seed)
    shown = np.random.default_rng(seed).permutation(len(x))[:scatter]
    panels = []
    for name, title in (("autoencoder", "autoencoder"), ("vae", "VAE")):
        model = models[name]
        # what runs.train_run records: `train --resume` and every command read it back
        run = {"model": RUN_MODELS[name], "seed": seed, "batch_size": BATCH_SIZE,
               "limit": limit, "dtype": str(model.dtype), "latent_dim": model.latent_dim,
               "data": spec, "sample": train.is_sample}
        checkpoint.save(os.path.join(out, f"{name}.npz"), model, epoch=epochs,
                        history=histories[name], run=run)
        r = result[name]
        gaps = ", ".join(f"{100 * s:.0f}% (r = {k})" for k, s in r["report"]["gap_share"].items())
        panels.append({"title": f"{title}: gaps {gaps}\nKL(Gaussian fit || N(0, I)) = "
                                f"{r['report']['gaussian_fit_kl']:.3g}",
                       "codes": r["codes"][shown], "labels": y[shown], "points": r["points"],
                       "images": r["images"]})
    figure = plotting.plot_compare(panels, os.path.join(out, "compare.png"),
                                   class_names=train.classes)
    report = {"dataset": _dataset(train), "images": len(x), "epochs": epochs,
              "latent_dim": latent_dim, "seed": seed,
              "radius_units": "standard deviations of each latent axis",
              "region": f"per axis, percentiles {DEFAULT_TRIM:g} to "
                        f"{100 - DEFAULT_TRIM:g} of the codes",
              "training_seconds": round(trained, 1),
              **{name: result[name]["report"] for name in result}}
    write_json(os.path.join(out, "compare.json"), report)
    return report, figure


def sweep_run(out="runs/sweep", betas=(0.5, 1.0, 2.0, 4.0), epochs=3, latent_dim=2, seed=0,
              limit=None, data=None, data_dir=None, image_size=None, verify=True,
              allow_sample=True, verbose=1, data_parallel=True):
    """`minivae sweep`: one VAE per beta (sweep), trained on the training split and
    measured on the held-out one.

    Writes out/sweep.png (distortion against rate, samples of each model) and
    out/sweep.json. Returns (one row per beta: beta, rate, distortion, elbo,
    active_units, history; the figure's path).
    """
    betas = _betas(betas, "sweep_run")      # every argument refused before any training
    _check_training("sweep_run", epochs, latent_dim, seed, limit)
    spec = _book_spec(data, data_dir, image_size)
    os.makedirs(out, exist_ok=True)
    train, val, _ = _book_data(spec, limit, verify, allow_sample, verbose)
    x, x_val = train.images, val.images
    started = time.perf_counter()
    points = sweep(x, x_val, betas, epochs=epochs, latent_dim=latent_dim, seed=seed,
                   verbose=verbose, data_parallel=data_parallel)
    seconds = time.perf_counter() - started
    figure = plotting.plot_rate_distortion(points, os.path.join(out, "sweep.png"))
    rows = [{k: v for k, v in p.items() if k != "samples"} for p in points]
    write_json(os.path.join(out, "sweep.json"),
               {"dataset": _dataset(train), "train_images": len(x), "eval_images": len(x_val),
                "epochs": epochs, "seconds": round(seconds, 1), "points": rows})
    return rows, figure
