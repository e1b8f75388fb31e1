"""Commands that use a checkpoint: sample, reconstruct, evaluate, interpolate.

Each works on any minivae checkpoint (the model rebuilds itself from it). The data
they read is what the checkpoint's run recorded, unless flags say otherwise, and
must match the model's input shape. Work is bounded: a figure tiles at most
MAX_FIGURE_IMAGES images, and evaluate refuses more than MAX_DECODES decoder
passes unless --force (then it reports its progress).
"""

import json
import sys
import time

import numpy as np

from .common import (CLIError, add_data_flags, check_fits, data_spec, figure, load_checkpoint,
                     load_data, positive_int, write_json)

# One PNG of 1,000 32x32 tiles at the figures' 0.8 inch per tile and dpi 100 is about
# 3200 x 2000 pixels; ten times that many tiles made figures of gigabytes.
MAX_FIGURE_IMAGES = 1000
# Decoder passes evaluate runs without --force: the default (10,000 ELBO images, 1,000
# images at k = 100) needs 110,000; 2,000,000 is about 20 times that.
MAX_DECODES = 2_000_000
NPY_CHUNK = 1000                # images generated and written at a time to a .npy


def add_parsers(sub):
    s = sub.add_parser("sample", help="decode samples from the prior N(0, I)")
    s.add_argument("checkpoint", help="a model.npz written by train (any minivae VAE)")
    s.add_argument("-n", type=positive_int, default=30, help="how many images (default 30)")
    s.add_argument("--out", default="samples.png",
                   help="a figure (.png, .jpg, .pdf, .svg) of at most "
                        f"{MAX_FIGURE_IMAGES:,} images, or .npy for the images themselves, "
                        "any number, written in chunks (default samples.png)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(run=cmd_sample)

    r = sub.add_parser("reconstruct", help="test images over their reconstructions")
    r.add_argument("checkpoint")
    r.add_argument("-n", type=positive_int, default=10, help="how many images (default 10)")
    add_data_flags(r)
    r.add_argument("--out", default="reconstructions.png")
    r.set_defaults(run=cmd_reconstruct)

    e = sub.add_parser("evaluate", help="the ELBO, IWAE bounds and latent diagnostics on "
                       "the test set", description="Prints the ELBO (nats per image and bits "
                       "per dimension), the importance-weighted bounds, the KL per latent "
                       "dimension and the active units (docs/evaluation.md), then the "
                       "model's losses as one JSON line.")
    e.add_argument("checkpoint")
    add_data_flags(e)
    e.add_argument("--batch-size", type=positive_int, default=100)
    e.add_argument("--seed", type=int, default=None, help="fix the sampling noise")
    e.add_argument("--limit", type=positive_int, metavar="N", help="use the first N test images")
    e.add_argument("--iwae-k", type=positive_int, nargs="*", default=[1, 10, 100], metavar="K",
                   help="samples per image of the IWAE bounds (default 1 10 100; none: skip)")
    e.add_argument("--iwae-limit", type=positive_int, default=1000, metavar="N",
                   help="IWAE on the first N images (default 1000): it costs max(K) decodes "
                   "per image, where the ELBO costs one")
    e.add_argument("--force", action="store_true",
                   help=f"run even beyond {MAX_DECODES:,} decoder passes, reporting progress")
    e.add_argument("--json", metavar="PATH", help="also write everything to PATH as JSON")
    e.set_defaults(run=cmd_evaluate)

    i = sub.add_parser("interpolate", help="decode the path between two test images' codes")
    i.add_argument("checkpoint")
    i.add_argument("--index-a", type=int, default=0, help="first test image (default 0)")
    i.add_argument("--index-b", type=int, default=1, help="last test image (default 1)")
    i.add_argument("--steps", type=positive_int, default=10,
                   help="images in the strip (default 10)")
    i.add_argument("--spherical", action="store_true",
                   help="a great-circle path (slerp) instead of a straight line")
    add_data_flags(i)
    i.add_argument("--out", default="interpolation.png")
    i.set_defaults(run=cmd_interpolate)


def _model_and_data(args):
    model = load_checkpoint(args.checkpoint)
    spec = data_spec(args, (model.run or {}).get("data"), model.input_shape)
    data = load_data(spec, "test", args)
    check_fits(model, data, args.checkpoint)
    return model, data


def _require_vae(model, args, why):
    from ..models import VAE
    if not isinstance(model, VAE):
        raise CLIError(f"{args.checkpoint} holds an {type(model).__name__}, which has no {why}; "
                       f"train a VAE")


def _check_figure_count(n, flag="-n"):
    if n > MAX_FIGURE_IMAGES:
        raise CLIError(f"{flag} {n:,} would tile {n:,} images into one figure; a figure holds "
                       f"at most {MAX_FIGURE_IMAGES:,} (use --out FILE.npy for the images "
                       f"themselves)")


def cmd_sample(args):
    from .. import plotting
    model = load_checkpoint(args.checkpoint)
    _require_vae(model, args, "prior to sample from")
    rng = np.random.default_rng(args.seed)
    if args.out.lower().endswith(".npy"):
        # Streamed: the file is allocated on disk and filled chunk by chunk, so memory does
        # not grow with n. The draws are those of one generate(n): the same order.
        from numpy.lib.format import open_memmap
        try:
            out = open_memmap(args.out, mode="w+", dtype=model.dtype,
                              shape=(args.n, *model.input_shape))
            for lo in range(0, args.n, NPY_CHUNK):
                out[lo:lo + NPY_CHUNK] = model.generate(min(NPY_CHUNK, args.n - lo), rng)
            out.flush()
            del out
        except OSError as exc:
            raise CLIError(f"could not write {args.out}: {exc.strerror or exc}") from exc
        print(args.out)
        return 0
    _check_figure_count(args.n)
    images = model.generate(args.n, rng)
    print(figure(args.out, plotting.plot_image_grid, images, ncols=min(10, args.n)))
    return 0


def cmd_reconstruct(args):
    from .. import plotting
    from ..pixels import to_float
    _check_figure_count(args.n)
    model, data = _model_and_data(args)
    x = data.images[:args.n]
    print(figure(args.out, plotting.plot_reconstructions, to_float(x), model.reconstruct(x),
                 n=args.n))
    return 0


def _non_finite(values, prefix=""):
    """Names of the non-finite numbers in a nested dict/list of results."""
    if isinstance(values, dict):
        return [n for k, v in values.items() for n in _non_finite(v, f"{prefix}{k}.")]
    if isinstance(values, (list, tuple)):
        return [n for i, v in enumerate(values) for n in _non_finite(v, f"{prefix}{i}.")]
    if isinstance(values, float) and not np.isfinite(values):
        return [prefix.rstrip(".")]
    return []


def cmd_evaluate(args):
    from .. import evaluation
    from ..models import VAE
    model, data = _model_and_data(args)
    if args.seed is not None:
        model.reseed(args.seed)
    x = data.images[:args.limit]
    bounds = isinstance(model, VAE) and model.reconstruction_loss == "bce"
    iwae_images = min(len(x), args.iwae_limit) if args.iwae_k else 0
    decodes = len(x) * (2 if bounds else 1) + iwae_images * max(args.iwae_k or [0])
    if decodes > MAX_DECODES and not args.force:
        raise CLIError(f"this evaluation needs about {decodes:,} decoder passes "
                       f"({iwae_images:,} images x {max(args.iwae_k):,} IWAE samples, plus the "
                       f"ELBO's); the limit without --force is {MAX_DECODES:,}; lower --iwae-k "
                       f"or --iwae-limit, or pass --force")
    metrics = model.evaluate(x, batch_size=args.batch_size)
    report = {"losses": metrics}
    if bounds:
        started = time.perf_counter()

        def report_progress(done):
            print(f"\rIWAE: {done:,} of {iwae_images:,} images", end="", file=sys.stderr,
                  flush=True)
        progress = report_progress if decodes > MAX_DECODES else None
        summary = evaluation.summarize(model, x, iwae_k=args.iwae_k, iwae_limit=args.iwae_limit,
                                       rng=np.random.default_rng(args.seed or 0),
                                       progress=progress)
        if progress is not None:
            print(file=sys.stderr)
        summary["seconds"] = round(time.perf_counter() - started, 1)
        report.update(summary)
    report["dataset"] = "embedded sample" if data.is_sample else data.source
    bad = _non_finite(report)
    if bad:
        raise CLIError(f"{args.checkpoint} gives non-finite results ({', '.join(bad[:4])}"
                       f"{' ...' if len(bad) > 4 else ''}): its weights or the data are "
                       f"broken, so there is nothing to report")
    if bounds:
        print(evaluation.format_summary(report))
    else:
        print(f"minivae: {args.checkpoint} holds an {type(model).__name__} with "
              f"{model.reconstruction_loss}; a likelihood bound needs a VAE with a Bernoulli "
              f"decoder, so only its losses are shown", file=sys.stderr)
    if args.json:
        write_json(args.json, report)
    print(json.dumps({k: round(v, 4) for k, v in metrics.items()}))
    return 0


def cmd_interpolate(args):
    from .. import latent, plotting
    from ..pixels import to_float
    model, data = _model_and_data(args)
    for flag, index in (("--index-a", args.index_a), ("--index-b", args.index_b)):
        if not 0 <= index < len(data):
            raise CLIError(f"{flag} must lie in [0, {len(data) - 1}], got {index}")
    if args.steps < 2:
        raise CLIError(f"--steps must be at least 2 (both ends), got {args.steps}")
    _check_figure_count(args.steps, "--steps")
    x_a, x_b = to_float(data.images[[args.index_a, args.index_b]])
    images, _ = latent.interpolation_images(model, x_a, x_b, steps=args.steps,
                                              spherical=args.spherical)
    if data.labels is not None:
        names = [data.classes[data.labels[i]] for i in (args.index_a, args.index_b)]
        ends = f"{args.index_a} ({names[0]}) to {args.index_b} ({names[1]})"
    else:
        ends = f"{args.index_a} to {args.index_b}"
    title = f"{'spherical' if args.spherical else 'linear'} path from test image {ends}"
    print(figure(args.out, plotting.plot_interpolation, images, title=title))
    return 0
