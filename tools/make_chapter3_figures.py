"""Remake docs/figures/ch3_*.png and their numbers: the rest of chapter 3 on real Fashion-MNIST.

    python3 tools/make_chapter3_figures.py [--epochs 5] [--runs runs/ch3] [--reuse]
        [--models autoencoder vae2 vae32] [--train-only]

Trains (or with --reuse, loads from --runs) three models on the 60,000 training
images: the book's autoencoder and VAE with a 2-D latent space, and the VAE
with a 32-D one for the attribute arithmetic; then draws the figures from the
first 5,000 test images, as the notebooks do, and prints the numbers README
quotes (also written to RUNS/chapter3.json). About 15 minutes on 2 cores
when nothing else runs. Each model's checkpoint is written after every epoch,
so `--models vae2 --train-only` in parallel processes and a last `--reuse` run
for the figures work too. Needs the real dataset (it refuses the embedded sample).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from minivae import attributes, checkpoint, evaluation, gaps, latent, plotting  # noqa: E402
from minivae.architectures import fashion_autoencoder, fashion_vae  # noqa: E402
from minivae.datasets import load_dataset  # noqa: E402
from minivae.fast import memory  # noqa: E402
from minivae.optimizers import Adam  # noqa: E402
from minivae.pixels import to_float  # noqa: E402

FIGURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "figures")
FOOTWEAR = (5, 7, 9)                  # Sandal, Sneaker, Ankle boot
N_TO_PREDICT = 5000                   # the notebooks' n_to_predict
MODELS = {                            # name: (builder, keyword arguments, learning rate)
    "autoencoder": (fashion_autoencoder, {"latent_dim": 2}, 1e-3),   # the book's "adam"
    "vae2": (fashion_vae, {"latent_dim": 2}, 5e-4),
    "vae32": (fashion_vae, {"latent_dim": 32}, 5e-4),
}


def figure(name):
    return os.path.join(FIGURES, f"ch3_{name}.png")


def trained(name, x, args):
    """The model and what its run recorded: epochs, seconds, the last losses."""
    path = os.path.join(args.runs, f"{name}.npz")
    if args.reuse and os.path.exists(path):
        model = checkpoint.load(path)
        return model, {"epochs": model.epoch,
                       "last": {k: v[-1] for k, v in model.history.history.items()}}
    build, kwargs, learning_rate = MODELS[name]
    model = build(seed=0, **kwargs).compile(Adam(learning_rate=learning_rate))
    started = time.perf_counter()
    history = model.fit(x, epochs=args.epochs, batch_size=100, seed=0, verbose=2,
                        data_parallel=True, callbacks=[checkpoint.CheckpointCallback(path)])
    run = {"epochs": args.epochs, "seconds": round(time.perf_counter() - started),
           "last": {k: v[-1] for k, v in history.history.items()}}
    print(f"{name}: {run}", flush=True)
    return model, run


def footwear_judge(x, y, steps=300, learning_rate=0.5):
    """A logistic regression on pixels, footwear or not, fitted here by gradient descent:
    a judge of decoded images that owes nothing to the VAE's encoder."""
    X = to_float(x, "float64").reshape(len(x), -1)
    t = np.isin(y, FOOTWEAR).astype(np.float64)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
        w -= learning_rate * X.T @ (p - t) / len(X)
        b -= learning_rate * float(np.mean(p - t))
    return lambda images: 1.0 / (1.0 + np.exp(-(images.reshape(len(images), -1) @ w + b)))


def autoencoder_figures(model, x, y, classes, numbers):
    z = latent.codes(model, x)
    plotting.plot_reconstructions(to_float(x[:10]), model.reconstruct(x[:10]),
                                  figure("ae_reconstructions"))
    plotting.plot_latent_scatter(z, None, figure("ae_scatter"),
                                 title="autoencoder: 5,000 test images encoded")
    plotting.plot_latent_scatter(z, y, figure("ae_scatter_labels"), class_names=classes,
                                 title="autoencoder: coloured by class")
    box = latent.bounding_box_samples(z, 18, np.random.default_rng(0))
    plotting.plot_latent_samples(z, box, latent.decode_points(model, box),
                                 figure("ae_box_samples"),
                                 title="autoencoder: 18 points drawn uniformly from the "
                                       "codes' bounding box")
    grid = latent.range_grid(z, 15)
    plotting.plot_range_grid(latent.decode_points(model, grid["points"]), grid["xs"],
                             grid["ys"], figure("ae_range_grid"), codes=grid["plane"],
                             labels=y, class_names=classes)
    numbers["autoencoder"] = gap_numbers(z, box)


def gap_numbers(z, points):
    """How empty the bounding box is: the share of it (and of the 18 drawn points) farther
    than r standard deviations of each axis from every code."""
    from scipy.spatial import cKDTree
    lo, hi = latent.bounding_box(z)
    std = z.std(axis=0)
    tree = cKDTree(z / std)
    distance, _ = tree.query(points / std)
    return {"bounding_box": [lo.tolist(), hi.tolist()],
            "box_share_farther_than_0.25_std": gaps.gap_share(z, 0.25, trim=0.0,
                                                                  rng=np.random.default_rng(1)),
            "drawn_points_farther_than_0.25_std": int((distance > 0.25).sum())}


def vae2_figures(model, x, y, classes, numbers):
    z_mean, z = latent.codes_and_draws(model, x, np.random.default_rng(0))
    plotting.plot_reconstructions(to_float(x[:10]), model.reconstruct(x[:10]),
                                  figure("vae_reconstructions"))
    prior = latent.prior_samples(2, 18, np.random.default_rng(0))
    plotting.plot_latent_samples(z, prior, latent.decode_points(model, prior),
                                 figure("vae_prior_samples"),
                                 title="VAE: 18 points drawn from the prior N(0, I)")
    box = latent.bounding_box_samples(z_mean, 18, np.random.default_rng(0))
    plotting.plot_p_space(z, y, figure("vae_p_space"), class_names=classes)
    plotting.plot_latent_grid(model.decode, figure("vae_grid"))
    p = latent.p_space(z)
    counts = np.histogram2d(p[:, 0], p[:, 1], bins=4, range=((0, 1), (0, 1)))[0]
    numbers["vae2"] = {**gap_numbers(z_mean, box),
                       "z_mean": z.mean(axis=0).tolist(), "z_std": z.std(axis=0).tolist(),
                       "p_space_4x4_counts_min_max": [int(counts.min()), int(counts.max())],
                       "expected_per_cell": len(z) / 16}


def vae32_figures(model, x, y, classes, x_train, y_train, numbers):
    z = latent.codes(model, x, sample=True, rng=np.random.default_rng(0))
    hist = latent.latent_histograms(z, 32)
    plotting.plot_latent_histograms(z, figure("vae32_histograms"), dims=32, ncols=8)
    plotting.plot_image_grid(model.generate(30, np.random.default_rng(0)),
                             figure("vae32_samples"), ncols=10,
                             title="30 samples from N(0, I), latent 32")
    rows = []
    found = attributes.attribute_vector(model, x_train, np.isin(y_train, FOOTWEAR),
                                        rng=np.random.default_rng(0), callback=rows.append)
    shown = x[[int(np.argmax(y == c)) for c in (0, 1, 3, 8, 7)]]   # the first of 5 classes
    decoded, _ = attributes.add_vector(model, shown, found.vector)
    plotting.plot_attribute_arithmetic(
        to_float(shown), decoded, attributes.BOOK_FACTORS, figure("vae32_footwear"),
        title=f"z + factor x the footwear vector (Sandal, Sneaker, Ankle boot against the "
              f"rest; {found.n_positive} + {found.n_negative} training images)",
        row_labels=[classes[c] for c in (0, 1, 3, 8, 7)])
    a, b = to_float(x[[1, 0]])         # a pullover into an ankle boot
    morph_images, _ = attributes.morph(model, a, b)
    plotting.plot_morph(morph_images, attributes.BOOK_ALPHAS, figure("vae32_morph"),
                        originals=np.stack([a, b]),
                        title="(1 - α) z_A + α z_B, z = z_mean: a pullover into an ankle boot")
    judge = footwear_judge(x_train, y_train)
    test_footwear = np.isin(y, FOOTWEAR)
    moved = {}
    for group, mask in (("without", ~test_footwear), ("with", test_footwear)):
        images = x[mask][:500]
        out, _ = attributes.add_vector(model, images, found.vector)
        moved[group] = {(f"{f:+g}" if f else "0"): float((judge(out[:, k]) > 0.5).mean())
                        for k, f in enumerate(attributes.BOOK_FACTORS)}
    numbers["vae32"] = {
        "histograms": {"std_min": float(hist["std"].min()), "std_max": float(hist["std"].max()),
                       "kl_max": float(hist["kl"].max()),
                       "axes_with_kl_below_0.05": int((hist["kl"] < 0.05).sum())},
        "active_units": evaluation.active_units(model, x),
        "attribute": {"converged": found.converged, "n_positive": found.n_positive,
                      "n_negative": found.n_negative, "batches": found.batches,
                      "distance": found.distance, "last_rows": rows[-3:]},
        "judge_accuracy_on_test": float(((judge(to_float(x, "float64")) > 0.5)
                                         == test_footwear).mean()),
        "share_judged_footwear_after_adding": moved,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--runs", default="runs/ch3", help="checkpoints and chapter3.json")
    p.add_argument("--reuse", action="store_true", help="load the checkpoints in --runs")
    p.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))
    p.add_argument("--train-only", action="store_true", help="no figures")
    args = p.parse_args()
    train = load_dataset("train", dtype="uint8", allow_sample=False)
    test = load_dataset("test", dtype="uint8", allow_sample=False)
    os.makedirs(args.runs, exist_ok=True)
    memory.tune_for_training()
    x, y = test.images[:N_TO_PREDICT], test.labels[:N_TO_PREDICT]
    numbers = {"data": train.source, "epochs": args.epochs, "test_images": len(x)}
    models = {}
    for name in args.models:
        models[name], numbers[f"{name}_run"] = trained(name, train.images, args)
    if args.train_only:
        return
    autoencoder_figures(models["autoencoder"], x, y, train.classes, numbers)
    vae2_figures(models["vae2"], x, y, train.classes, numbers)
    vae32_figures(models["vae32"], x, y, train.classes, train.images, train.labels, numbers)
    with open(os.path.join(args.runs, "chapter3.json"), "w") as f:
        json.dump(numbers, f, indent=2)
    print(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
