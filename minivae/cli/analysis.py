"""Beyond the book: `compare` (an autoencoder's latent space against a VAE's) and
`sweep` (one VAE per beta: the rate-distortion curve). Both train the book's models."""

import os
import time

import numpy as np

from .common import CLIError, add_data_flags, data_spec, positive_int, write_json
from .train import _data, _limit


def add_parsers(sub):
    c = sub.add_parser("compare", help="train an autoencoder and a VAE, compare latent spaces",
                       description="Trains the book's autoencoder and VAE on the same data and "
                       "writes OUT/compare.png (both latent scatters; images decoded from points "
                       "drawn uniformly over the region the codes occupy), OUT/compare.json "
                       "(the share of that region farther than r from any code, and the KL of a "
                       "Gaussian fitted to the codes from N(0, I)) and both checkpoints.")
    add_data_flags(c, train=True)
    c.add_argument("--epochs", type=positive_int, default=5, help="per model (default 5)")
    c.add_argument("--latent-dim", type=positive_int, default=2, help="default 2")
    c.add_argument("--out", default="runs/compare", help="default runs/compare")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--limit", type=positive_int, metavar="N", help="train on the first N images")
    c.add_argument("--radius", type=float, nargs="+", default=[0.25, 0.5], metavar="R",
                   help="gap radii in standard deviations of each latent axis (default 0.25 0.5)")
    c.add_argument("--scatter", type=positive_int, default=5000, metavar="N",
                   help="codes drawn in each scatter (default 5000)")
    c.add_argument("--quiet", action="store_true", help="print nothing but errors")
    c.set_defaults(run=cmd_compare)

    w = sub.add_parser("sweep", help="one VAE per beta: the rate-distortion curve",
                       description="Trains one VAE per beta (the weight of the KL against the "
                       "summed pixel log-likelihood, so beta 1 is the true ELBO and the book's "
                       "loss is beta 2.048) and writes OUT/sweep.png (distortion against rate, "
                       "samples of each model) and OUT/sweep.json.")
    w.add_argument("--beta", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0],
                   help="default 0.5 1 2 4")
    w.add_argument("--epochs", type=positive_int, default=3, help="per model (default 3)")
    w.add_argument("--latent-dim", type=positive_int, default=2, help="default 2")
    w.add_argument("--out", default="runs/sweep", help="default runs/sweep")
    w.add_argument("--limit", type=positive_int, metavar="N",
                   help="the first N training and N held-out images")
    add_data_flags(w, train=True)
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--quiet", action="store_true", help="print nothing but errors")
    w.set_defaults(run=cmd_sweep)


def _analysis_data(args):
    """Training and held-out data, as `minivae train` chooses them, at the book's 32x32."""
    args.image_size = args.image_size or 32
    if args.image_size != 32:
        raise CLIError(f"--image-size must be 32: compare and sweep train the book's 32x32 "
                       f"models, got {args.image_size}")
    spec = data_spec(args, None, (32, 32, 1))
    if spec["name"] == "folder":
        raise CLIError("compare and sweep train the book's Fashion-MNIST models: --data must "
                       "be fashion-mnist or mnist")
    train, val = _data(spec, args, quiet=args.quiet)
    return _limit(train, args.limit), _limit(val, args.limit)


def cmd_compare(args):
    from .. import checkpoint, experiments, plotting
    from ..gaps import DEFAULT_TRIM
    from ..fast import memory
    if not all(r > 0 for r in args.radius):         # refused before the long training
        raise CLIError(f"--radius must be positive, got {args.radius}")
    train, _ = _analysis_data(args)
    x, y = train.images, train.labels
    os.makedirs(args.out, exist_ok=True)
    started = time.perf_counter()
    memory.tune_for_training()
    models = experiments.train_pair(x, epochs=args.epochs, latent_dim=args.latent_dim,
                                 seed=args.seed, verbose=0 if args.quiet else 1,
                                 data_parallel=True)
    trained = time.perf_counter() - started
    result = experiments.compare_latent_spaces(models, x, radius=args.radius, seed=args.seed)
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
              "region": f"per axis, percentiles {DEFAULT_TRIM:g} to "
                        f"{100 - DEFAULT_TRIM:g} of the codes",
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
    from .. import experiments, plotting
    from ..fast import memory
    train, val = _analysis_data(args)
    x, x_val = train.images, val.images
    started = time.perf_counter()
    memory.tune_for_training()
    points = experiments.sweep(x, x_val, args.beta, epochs=args.epochs, latent_dim=args.latent_dim,
                            seed=args.seed, verbose=0 if args.quiet else 1, data_parallel=True)
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
