"""The command line: `minivae train | sample | reconstruct | evaluate | gradcheck`,
and beyond the book `compare | sweep | interpolate`.

Every failure the user can cause (missing data, a bad checkpoint, wrong flags,
divergence) ends as one line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

EXIT_ERROR, EXIT_GRADCHECK_FAILED = 2, 1
# Whole-model tolerances (docs/gradcheck.md): the VAE's measured worst is ~5e-6; the
# autoencoder's loss ~0.7 against encoder gradients ~1e-6 puts the central-difference
# rounding floor near 1.5e-4 of the gradient's scale.
GRADCHECK_RTOL = {"vae": 1e-5, "ae": 3e-4}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# --------------------------------------------------------------------- train --

def _training_data(args):
    from .datasets import load_dataset
    train = load_dataset("train", args.data_dir, dtype="uint8", allow_sample=not args.no_sample)
    if train.is_sample:
        # The sample is 2,000 test images: hold the last 200 out for validation.
        print(f"minivae: Fashion-MNIST not found; training on the embedded sample of "
              f"{len(train)} images ({train.source}). Install the full dataset with "
              f"`apt-get install dataset-fashion-mnist` or pass --data-dir.", file=sys.stderr)
        return (train.images[:1800], train.labels[:1800], train.images[1800:],
                train.labels[1800:], train)
    test = load_dataset("test", args.data_dir, dtype="uint8", allow_sample=False)
    return train.images, train.labels, test.images, test.labels, train


def _build_model(args):
    from .architectures import fashion_autoencoder, fashion_vae
    if args.model == "vae":
        return fashion_vae(latent_dim=args.latent_dim, beta=args.beta,
                           reconstruction_weight=args.reconstruction_weight, seed=args.seed,
                           dtype=args.dtype)
    return fashion_autoencoder(latent_dim=args.latent_dim, seed=args.seed, dtype=args.dtype)


def write_json(path, obj):
    from ._atomic import atomic_write
    data = (json.dumps(obj, indent=2) + "\n").encode()
    atomic_write(path, lambda f: f.write(data))


def write_figures(model, out, x_val, y_val, history, classes, seed=0):
    """The book's figures for a trained model, into `out`; returns their paths."""
    from . import plotting
    from .models import VAE
    rng = np.random.default_rng(seed)
    n = min(len(x_val), 5000)
    x, y = x_val[:n], y_val[:n]
    paths = [plotting.plot_reconstructions(x[:10].astype(np.float32) / 255,
                                           model.reconstruct(x[:10]),
                                           os.path.join(out, "reconstructions.png"))]
    z = model.encode(x)[0] if isinstance(model, VAE) else model.encode(x)
    paths.append(plotting.plot_latent_scatter(z, y, os.path.join(out, "latent_scatter.png"),
                                              class_names=classes))
    components = None
    if z.shape[1] > 2:
        components = plotting.principal_components(z)[1]
    if isinstance(model, VAE):
        # The prior's quantiles: N(0, I) projected on orthonormal components is N(0, I_2).
        paths.append(plotting.plot_latent_grid(model.decode, os.path.join(out, "latent_grid.png"),
                                               components=components, latent_dim=z.shape[1]))
        paths.append(plotting.plot_image_grid(model.generate(30, rng),
                                              os.path.join(out, "samples.png"), ncols=10,
                                              title="samples from the prior N(0, I)"))
    else:
        # An autoencoder has no prior: span the region its codes occupy instead.
        scale = z.std(axis=0) if components is None else (z @ components.T).std(axis=0)
        paths.append(plotting.plot_latent_grid(model.decode, os.path.join(out, "latent_grid.png"),
                                               components=components, latent_dim=z.shape[1],
                                               mean=z.mean(axis=0), scale=scale))
    paths.append(plotting.plot_history(history.history, os.path.join(out, "loss_curves.png")))
    return paths


def cmd_train(args):
    from . import checkpoint
    from .optimizers import Adam
    x_train, _, x_val, y_val, train = _training_data(args)
    if args.limit is not None:
        x_train, x_val, y_val = x_train[:args.limit], x_val[:args.limit], y_val[:args.limit]
    ckpt = os.path.join(args.out, "model.npz")
    if args.resume:
        model = checkpoint.load(args.resume if args.resume != "auto" else ckpt)
        initial_epoch, history = model.epoch, model.history
        if initial_epoch >= args.epochs:
            raise CLIError(f"the checkpoint has {initial_epoch} epochs done; pass --epochs "
                           f"larger than that to train further")
        print(f"minivae: resuming at epoch {initial_epoch + 1} of {args.epochs}",
              file=sys.stderr)
    else:
        model = _build_model(args).compile(Adam(learning_rate=args.learning_rate))
        initial_epoch, history = 0, None
    os.makedirs(args.out, exist_ok=True)
    started = time.perf_counter()
    try:
        history = model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size,
                            validation_data=x_val, initial_epoch=initial_epoch,
                            history=history, verbose=0 if args.quiet else 1,
                            callbacks=[checkpoint.CheckpointCallback(ckpt)])
    except Exception as exc:
        from .training import TrainingDiverged
        if isinstance(exc, TrainingDiverged) and os.path.exists(ckpt):
            raise CLIError(f"{exc}; the last good checkpoint is {ckpt}") from exc
        raise
    seconds = time.perf_counter() - started
    write_json(os.path.join(args.out, "history.json"), history.history)
    figures = write_figures(model, args.out, x_val, y_val, history, train.classes, args.seed)
    last = {k: round(v[-1], 4) for k, v in history.history.items()}
    if not args.quiet:
        print(f"trained {args.epochs - initial_epoch} epoch(s) in {seconds:.1f}s on "
              f"{'the embedded sample' if train.is_sample else train.source}")
        print("final metrics: " + json.dumps(last))
        print(f"wrote {ckpt}, {os.path.join(args.out, 'history.json')} and "
              f"{', '.join(os.path.basename(p) for p in figures)}")
    return 0


# ------------------------------------------------------ using a checkpoint --

def _load(path):
    from . import checkpoint
    return checkpoint.load(path)


def cmd_sample(args):
    from . import plotting
    from .models import VAE
    model = _load(args.checkpoint)
    if not isinstance(model, VAE):
        raise CLIError(f"{args.checkpoint} holds an {type(model).__name__}, which has no prior "
                       f"to sample from; train one with --model vae")
    images = model.generate(args.n, np.random.default_rng(args.seed))
    print(plotting.plot_image_grid(images, args.out, ncols=min(10, args.n)))
    return 0


def _test_data(args):
    from .datasets import load_dataset
    data = load_dataset("test", args.data_dir, dtype="uint8")
    if data.is_sample:
        print("minivae: Fashion-MNIST not found; using the embedded sample", file=sys.stderr)
    return data


def cmd_reconstruct(args):
    from . import plotting
    model, data = _load(args.checkpoint), _test_data(args)
    x = data.images[:args.n]
    print(plotting.plot_reconstructions(x.astype(np.float32) / 255, model.reconstruct(x),
                                        args.out, n=args.n))
    return 0


def cmd_evaluate(args):
    from . import evaluation
    from .models import VAE
    model, data = _load(args.checkpoint), _test_data(args)
    if args.seed is not None:
        model.reseed(args.seed)
    x = data.images[:args.limit]
    metrics = model.evaluate(x, batch_size=args.batch_size)
    report = {"losses": metrics}
    if isinstance(model, VAE) and model.reconstruction_loss == "bce":
        started = time.perf_counter()
        summary = evaluation.summarize(model, x, iwae_k=args.iwae_k, iwae_limit=args.iwae_limit,
                                       rng=np.random.default_rng(args.seed or 0))
        summary["seconds"] = round(time.perf_counter() - started, 1)
        report.update(summary)
        print(evaluation.format_summary(summary))
    else:
        print(f"minivae: {args.checkpoint} holds an {type(model).__name__}; a likelihood bound "
              f"needs a VAE with a Bernoulli decoder, so only its losses are shown",
              file=sys.stderr)
    report["dataset"] = "embedded sample" if data.is_sample else data.source
    if args.json:
        write_json(args.json, report)
    print(json.dumps({k: round(v, 4) for k, v in metrics.items()}))
    return 0


def cmd_gradcheck(args):
    from .architectures import fashion_autoencoder, fashion_vae
    from .gradcheck import check_model
    rng = np.random.default_rng(args.seed)
    model = (fashion_vae if args.model == "vae" else fashion_autoencoder)(
        latent_dim=args.latent_dim, seed=args.seed, dtype="float64")
    for name, value in model.named_params().items():
        if name.endswith("/bias"):
            # Zero biases sit ReLU pre-activations exactly on the kink (see docs/gradcheck.md).
            value[:] = 0.1 * rng.standard_normal(value.shape)
    x = rng.uniform(0.05, 0.95, size=(args.batch_size, *model.input_shape))
    eps = rng.standard_normal((args.batch_size, args.latent_dim))
    rtol = args.rtol if args.rtol is not None else GRADCHECK_RTOL[args.model]
    report = check_model(model, x, eps=eps, rtol=rtol, max_entries=args.max_entries, rng=rng)
    print(report)
    print(f"worst relative error {report.worst():.2e} (tolerance {rtol:g}): "
          f"{'PASSED' if report.passed else 'FAILED'}")
    return 0 if report.passed else EXIT_GRADCHECK_FAILED


# ------------------------------------------------------- beyond the book --

def _analysis_data(args):
    """Training images and labels, and held-out images, as `minivae train` chooses them."""
    x_train, y_train, x_val, y_val, train = _training_data(args)
    if args.limit is not None:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
        x_val, y_val = x_val[:args.limit], y_val[:args.limit]
    return x_train, y_train, x_val, y_val, train


def cmd_compare(args):
    from . import analysis, checkpoint, plotting
    if not all(r > 0 for r in args.radius):         # refused before the long training
        raise CLIError(f"--radius must be positive, got {args.radius}")
    x, y, _, _, train = _analysis_data(args)
    os.makedirs(args.out, exist_ok=True)
    started = time.perf_counter()
    models = analysis.train_pair(x, epochs=args.epochs, latent_dim=args.latent_dim,
                                 seed=args.seed, verbose=0 if args.quiet else 1)
    trained = time.perf_counter() - started
    result = analysis.compare_latent_spaces(models, x, radius=args.radius, seed=args.seed)
    shown = np.random.default_rng(args.seed).permutation(len(x))[:args.scatter]
    panels = []
    for name, title in (("autoencoder", "autoencoder"), ("vae", "VAE")):
        checkpoint.save(os.path.join(args.out, f"{name}.npz"), models[name], epoch=args.epochs)
        r = result[name]
        gaps = ", ".join(f"{100 * s:.0f}% (r = {k})" for k, s in r["report"]["gap_share"].items())
        panels.append({"title": f"{title}: gaps {gaps}\nKL(Gaussian fit || N(0, I)) = "
                                f"{r['report']['gaussian_fit_kl']:.3g}",
                       "codes": r["codes"][shown], "labels": y[shown], "points": r["points"],
                       "images": r["images"]})
    figure = plotting.plot_compare(panels, os.path.join(args.out, "compare.png"),
                                   class_names=train.classes)
    report = {"dataset": "embedded sample" if train.is_sample else train.source,
              "images": len(x), "epochs": args.epochs, "latent_dim": args.latent_dim,
              "seed": args.seed, "radius_units": "standard deviations of each latent axis",
              "region": f"per axis, percentiles {analysis.DEFAULT_TRIM:g} to "
                        f"{100 - analysis.DEFAULT_TRIM:g} of the codes",
              "training_seconds": round(trained, 1),
              **{name: result[name]["report"] for name in result}}
    write_json(os.path.join(args.out, "compare.json"), report)
    if not args.quiet:
        for name in result:
            rep = result[name]["report"]
            gaps = "  ".join(f"r={k}: {100 * v:.1f}%" for k, v in rep["gap_share"].items())
            print(f"{name:<12} gaps {gaps}   KL(Gaussian fit || N(0, I)) "
                  f"{rep['gaussian_fit_kl']:.3f}   mean {np.round(rep['mean'], 2).tolist()}  "
                  f"std {np.round(rep['std'], 2).tolist()}")
        print(f"wrote {figure} and compare.json, autoencoder.npz, vae.npz beside it")
    return 0


def cmd_sweep(args):
    from . import analysis, plotting
    x, _, x_val, _, train = _analysis_data(args)
    started = time.perf_counter()
    points = analysis.sweep(x, x_val, args.beta, epochs=args.epochs, latent_dim=args.latent_dim,
                            seed=args.seed, verbose=0 if args.quiet else 1)
    seconds = time.perf_counter() - started
    os.makedirs(args.out, exist_ok=True)
    figure = plotting.plot_rate_distortion(points, os.path.join(args.out, "sweep.png"))
    rows = [{k: v for k, v in p.items() if k != "samples"} for p in points]
    write_json(os.path.join(args.out, "sweep.json"),
               {"dataset": "embedded sample" if train.is_sample else train.source,
                "train_images": len(x), "eval_images": len(x_val), "epochs": args.epochs,
                "seconds": round(seconds, 1), "points": rows})
    if not args.quiet:
        print(f"{'beta':>8} {'rate (KL)':>10} {'distortion':>11} {'ELBO':>9} {'active':>7}")
        for p in rows:
            print(f"{p['beta']:8g} {p['rate']:10.2f} {p['distortion']:11.2f} {p['elbo']:9.2f} "
                  f"{p['active_units']:7d}")
        print(f"wrote {figure} and sweep.json beside it")
    return 0


def cmd_interpolate(args):
    from . import analysis, plotting
    model, data = _load(args.checkpoint), _test_data(args)
    for flag, index in (("--index-a", args.index_a), ("--index-b", args.index_b)):
        if not 0 <= index < len(data):
            raise CLIError(f"{flag} must lie in [0, {len(data) - 1}], got {index}")
    x_a, x_b = data.images[[args.index_a, args.index_b]].astype(np.float32) / 255
    images, _ = analysis.interpolation_images(model, x_a, x_b,
                                              steps=args.steps, spherical=args.spherical)
    names = [data.classes[data.labels[i]] for i in (args.index_a, args.index_b)]
    title = (f"{'spherical' if args.spherical else 'linear'} path from test image "
             f"{args.index_a} ({names[0]}) to {args.index_b} ({names[1]})")
    print(plotting.plot_interpolation(images, args.out, title=title))
    return 0


# -------------------------------------------------------------------- parser --

def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser():
    p = argparse.ArgumentParser(prog="minivae", description="The VAE of Generative Deep "
                                "Learning (ch. 3) in NumPy: train it, sample it, check it.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train the Fashion-MNIST VAE (book defaults)",
                       description="Train on Fashion-MNIST (found on disk, else the embedded "
                       "2,000-image sample). Writes OUT/model.npz after every epoch, then "
                       "OUT/history.json and the figures as PNG.")
    t.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files (searched first)")
    t.add_argument("--epochs", type=int, default=5, help="total epochs (default 5)")
    t.add_argument("--batch-size", type=int, default=100, help="default 100")
    t.add_argument("--learning-rate", type=float, default=5e-4, help="Adam's (default 5e-4)")
    t.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (default 1)")
    t.add_argument("--reconstruction-weight", type=float, default=500.0,
                   help="the book's weight on the mean pixel BCE (default 500)")
    t.add_argument("--latent-dim", type=int, default=2, help="default 2")
    t.add_argument("--model", choices=("vae", "ae"), default="vae", help="default vae")
    t.add_argument("--out", default="runs/fashion", help="output folder (default runs/fashion)")
    t.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                   help="continue from CHECKPOINT (default OUT/model.npz) up to --epochs")
    t.add_argument("--seed", type=int, default=0, help="weights, shuffling and noise (default 0)")
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    t.add_argument("--limit", type=_positive, metavar="N",
                   help="use only the first N training and N validation images (a quick run)")
    t.add_argument("--no-sample", action="store_true",
                   help="fail instead of falling back to the embedded sample")
    t.add_argument("--quiet", action="store_true", help="print nothing but errors")
    t.set_defaults(run=cmd_train)

    s = sub.add_parser("sample", help="decode samples from the prior N(0, I) to a PNG")
    s.add_argument("checkpoint", help="a model.npz written by train")
    s.add_argument("-n", type=int, default=30, help="how many images (default 30)")
    s.add_argument("--out", default="samples.png", help="PNG to write (default samples.png)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(run=cmd_sample)

    r = sub.add_parser("reconstruct", help="test images over their reconstructions, as a PNG")
    r.add_argument("checkpoint")
    r.add_argument("-n", type=int, default=10, help="how many images (default 10)")
    r.add_argument("--data-dir")
    r.add_argument("--out", default="reconstructions.png")
    r.set_defaults(run=cmd_reconstruct)

    e = sub.add_parser("evaluate", help="the ELBO, IWAE bounds and latent diagnostics on "
                       "the test set", description="Prints the ELBO (nats per image and bits "
                       "per dimension), the importance-weighted bounds, the KL per latent "
                       "dimension and the active units (docs/evaluation.md), then the book's "
                       "three losses as one JSON line.")
    e.add_argument("checkpoint")
    e.add_argument("--data-dir")
    e.add_argument("--batch-size", type=int, default=100)
    e.add_argument("--seed", type=int, default=None, help="fix the sampling noise")
    e.add_argument("--limit", type=_positive, metavar="N", help="use the first N test images")
    e.add_argument("--iwae-k", type=_positive, nargs="*", default=[1, 10, 100], metavar="K",
                   help="samples per image of the IWAE bounds (default 1 10 100; none: skip)")
    e.add_argument("--iwae-limit", type=_positive, default=1000, metavar="N",
                   help="IWAE on the first N images (default 1000): it costs max(K) decodes "
                   "per image, where the ELBO costs one")
    e.add_argument("--json", metavar="PATH", help="also write everything to PATH as JSON")
    e.set_defaults(run=cmd_evaluate)

    c = sub.add_parser("compare", help="train an autoencoder and a VAE, compare latent spaces",
                       description="Trains the book's autoencoder and VAE on the same data and "
                       "writes OUT/compare.png (both latent scatters; images decoded from points "
                       "drawn uniformly over the region the codes occupy), OUT/compare.json "
                       "(the share of that region farther than r from any code, and the KL of a "
                       "Gaussian fitted to the codes from N(0, I)) and both checkpoints.")
    c.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files (searched first)")
    c.add_argument("--epochs", type=_positive, default=5, help="per model (default 5)")
    c.add_argument("--latent-dim", type=_positive, default=2, help="default 2")
    c.add_argument("--out", default="runs/compare", help="default runs/compare")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--limit", type=_positive, metavar="N", help="train on the first N images")
    c.add_argument("--radius", type=float, nargs="+", default=[0.25, 0.5], metavar="R",
                   help="gap radii in standard deviations of each latent axis (default 0.25 0.5)")
    c.add_argument("--scatter", type=_positive, default=5000, metavar="N",
                   help="codes drawn in each scatter (default 5000)")
    c.add_argument("--no-sample", action="store_true",
                   help="fail instead of falling back to the embedded sample")
    c.add_argument("--quiet", action="store_true", help="print nothing but errors")
    c.set_defaults(run=cmd_compare)

    w = sub.add_parser("sweep", help="one VAE per beta: the rate-distortion curve",
                       description="Trains one VAE per beta (the weight of the KL against the "
                       "summed pixel log-likelihood, so beta 1 is the true ELBO and the book's "
                       "loss is beta 2.048) and writes OUT/sweep.png (distortion against rate, "
                       "samples of each model) and OUT/sweep.json.")
    w.add_argument("--beta", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0],
                   help="default 0.5 1 2 4")
    w.add_argument("--epochs", type=_positive, default=3, help="per model (default 3)")
    w.add_argument("--latent-dim", type=_positive, default=2, help="default 2")
    w.add_argument("--out", default="runs/sweep", help="default runs/sweep")
    w.add_argument("--limit", type=_positive, metavar="N",
                   help="the first N training and N held-out images")
    w.add_argument("--data-dir")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--no-sample", action="store_true",
                   help="fail instead of falling back to the embedded sample")
    w.add_argument("--quiet", action="store_true", help="print nothing but errors")
    w.set_defaults(run=cmd_sweep)

    i = sub.add_parser("interpolate", help="decode the path between two test images' codes")
    i.add_argument("checkpoint")
    i.add_argument("--index-a", type=int, default=0, help="first test image (default 0)")
    i.add_argument("--index-b", type=int, default=1, help="last test image (default 1)")
    i.add_argument("--steps", type=int, default=10, help="images in the strip (default 10)")
    i.add_argument("--spherical", action="store_true",
                   help="a great-circle path (slerp) instead of a straight line")
    i.add_argument("--data-dir")
    i.add_argument("--out", default="interpolation.png")
    i.set_defaults(run=cmd_interpolate)

    g = sub.add_parser("gradcheck", help="finite-difference check of the whole model",
                       description="Builds the book's model in float64 and compares every "
                       "parameter's analytic gradient with central differences (a random "
                       "subset of entries per array). Exit status 1 when any check fails.")
    g.add_argument("--model", choices=("vae", "ae"), default="vae")
    g.add_argument("--latent-dim", type=int, default=2)
    g.add_argument("--batch-size", type=int, default=2)
    g.add_argument("--max-entries", type=int, default=8, help="entries checked per array")
    g.add_argument("--rtol", type=float, default=None,
                   help="pass when max|a-n| / max|a| <= RTOL (default 1e-5 for the VAE, 3e-4 "
                   "for the autoencoder, whose tiny encoder gradients meet the rounding "
                   "floor of central differences: docs/gradcheck.md)")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(run=cmd_gradcheck)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .checkpoint import CheckpointError
    from .datasets import DatasetError
    from .training import TrainingDiverged
    try:
        return args.run(args)
    except (CLIError, CheckpointError, DatasetError, TrainingDiverged, ValueError, TypeError,
            OSError, MemoryError) as exc:
        # One line however many the message has (not finding the data lists every folder).
        message = ""
        for line in str(exc).splitlines():
            line = " ".join(line.split()).removeprefix("- ")
            if line:
                message += (" " if message.endswith(":") else "; ") + line if message else line
        print(f"minivae {args.command}: error: {message or type(exc).__name__}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"minivae {args.command}: interrupted", file=sys.stderr)
        return 130
