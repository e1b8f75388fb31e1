"""The command line, a thin shell: each command parses its flags, calls one library
function and prints what it returns.

    train         runs.train_run               a run folder: checkpoint, history, figures
    sample        figures.sample               prior samples: a figure, or a .npy
    reconstruct   figures.reconstruct          test images over their reconstructions
    evaluate      evaluation.evaluate_checkpoint   the ELBO, IWAE bounds, active units
    gradcheck     model_check.check_whole_model    finite differences of a whole model
    interpolate   figures.interpolate          the path between two test images' codes
    compare       experiments.compare_run      an autoencoder's latent space against a VAE's
    sweep         experiments.sweep_run        one VAE per beta: the rate-distortion curve
    embedding     figures.embedding            the chapter's views of a latent space
    attribute     figures.attribute            the book's attribute vector, added to images
    morph         figures.morph                the path between two images' codes

Every failure the user can cause (missing data, a bad checkpoint or file, wrong
flags, divergence) ends as one line on stderr and exit status 2, naming the flag
or file as typed; an interruption (Ctrl-C, SIGTERM) says what was saved. Errors
of other kinds are bugs and keep their traceback, so they can be reported. The
process is the command's own, so `train`, `compare` and `sweep` tune malloc for
training and split each batch between two threads (minivae/fast), which a
library call does only when asked.
"""

import argparse
import json
import signal
import sys
import threading

import numpy as np

from . import evaluation, experiments, figures, model_check, runs
from .checkpoint import CheckpointError
from .datasets import DatasetError
from .errors import InputError, InputTypeError
from .fast import memory
from .serialization import SerializationError
from .training import TrainingDiverged

EXIT_ERROR, EXIT_INTERRUPTED, EXIT_GRADCHECK_FAILED = 2, 130, 1

__all__ = ["main", "build_parser", "EXIT_ERROR"]


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (no usage block): `--help` shows the usage.
    Flags are spelled whole: an abbreviation (`--n` taken for `--no-verify`) is refused."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------ flag types --

def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def nonnegative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _float(text, test, expected):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and test(value)):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_float(text):
    return _float(text, lambda v: v > 0, "a finite number > 0")


def nonnegative_float(text):
    return _float(text, lambda v: v >= 0, "a finite number >= 0")


def add_data_flags(parser, train=False):
    """--data, --data-dir, --image-size, --no-verify (and --no-sample for training)."""
    parser.add_argument("--data", metavar="NAME",
                        help="fashion-mnist, mnist, folder:PATH (PNG/JPEG images), "
                             "celeba:ROOT (img_align_celeba/ and its attribute table, resized "
                             "as the book does) or sample (the embedded 2,000 images); "
                             "default: what the checkpoint was trained on, else fashion-mnist")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="the folder holding the IDX files; it must exist and hold them "
                             "(no other place is searched)")
    parser.add_argument("--image-size", type=positive_int, metavar="N",
                        help="28 (unpadded) or 32 (the book's padding) for the MNIST-format "
                             "sets, any N for a folder (N x N); default: the model's input")
    parser.add_argument("--no-verify", action="store_true",
                        help="use IDX files of the published size even if their SHA-256 "
                             "differs (a DatasetWarning says so)")
    if train:
        parser.add_argument("--no-sample", action="store_true",
                            help="fail instead of falling back to the embedded sample")


def _data(args):
    """The data flags as the library's keyword arguments."""
    options = {"data": args.data, "data_dir": args.data_dir, "image_size": args.image_size,
               "verify": not args.no_verify}
    if hasattr(args, "no_sample"):
        options["allow_sample"] = not args.no_sample
    return options


def add_memory_budget_flag(parser):
    """--memory-budget: what one forward pass of the checkpoint's model may need."""
    parser.add_argument("--memory-budget", type=positive_float, default=2.0, metavar="GIB",
                        help="GiB a forward pass may need, estimated from the model's layer "
                             "shapes before it runs (default 2)")


def _budget(args):
    return int(args.memory_budget * 2 ** 30)


def add_figure_flags(parser):
    """--memory-budget, and --image-shape: how a model of flat vectors that records none
    shows them."""
    add_memory_budget_flag(parser)
    parser.add_argument("--image-shape", metavar="HxWxC",
                        help="the images a model of flat vectors reads, e.g. 28x28x1, when "
                             "its checkpoint records none (a run of `minivae train` does)")


def _figure(args):
    return {"memory_budget": _budget(args), "image_shape": args.image_shape}


def _chapter_flags(p):
    add_data_flags(p)
    add_figure_flags(p)
    p.add_argument("--split", choices=("train", "test"), default="test",
                   help="Fashion-MNIST split (default test)")
    p.add_argument("--celeba", metavar="ROOT",
                   help="use CelebA at ROOT (img_align_celeba/ and list_attr_celeba.csv) "
                   "instead of Fashion-MNIST, for a 64x64x3 model")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="sampling and shuffling (default 0)")


def _chapter(args):
    return {"split": args.split, "celeba": args.celeba, "seed": args.seed, **_data(args),
            **_figure(args)}


# -------------------------------------------------------------------- commands --

def cmd_train(args):
    memory.tune_for_training()      # this process is the command's own
    run = runs.train_run(
        args.out, model=args.model, epochs=args.epochs,
        resume=True if args.resume == "auto" else args.resume, overwrite=args.overwrite,
        batch_size=args.batch_size, learning_rate=args.learning_rate, beta=args.beta,
        reconstruction_weight=args.reconstruction_weight, latent_dim=args.latent_dim,
        seed=args.seed, dtype=args.dtype, limit=args.limit, verbose=0 if args.quiet else 1,
        data_parallel=True, **_data(args))
    if not args.quiet:
        last = {k: round(v[-1], 4) for k, v in run.history.history.items()}
        print(f"trained {run.epochs - run.initial_epoch} epoch(s) in {run.seconds:.1f}s on "
              f"{run.data.description}")
        print("final metrics: " + json.dumps(last))
        print(f"wrote {run.checkpoint}, {run.history_file} and "
              f"{', '.join(p.name for p in run.figures)}")
    return 0


def cmd_sample(args):
    print(figures.sample(args.checkpoint, args.out, n=args.n, seed=args.seed, **_figure(args)))
    return 0


def cmd_reconstruct(args):
    print(figures.reconstruct(args.checkpoint, args.out, n=args.n, **_data(args),
                              **_figure(args)))
    return 0


def cmd_evaluate(args):
    report = evaluation.evaluate_checkpoint(
        args.checkpoint, batch_size=args.batch_size, seed=args.seed, limit=args.limit,
        iwae_k=args.iwae_k, iwae_limit=args.iwae_limit, force=args.force, json_path=args.json,
        memory_budget=_budget(args), **_data(args))
    if "elbo" in report:                # a VAE with a Bernoulli decoder: its bounds
        print(evaluation.format_summary(report))
    print(json.dumps({k: round(v, 4) for k, v in report["losses"].items()}))
    return 0


def cmd_gradcheck(args):
    report, rtol = model_check.check_whole_model(
        args.model, args.checkpoint, latent_dim=args.latent_dim, batch_size=args.batch_size,
        max_entries=args.max_entries, directions=args.directions, rtol=args.rtol,
        step=args.step, seed=args.seed)
    print(report)
    word = {"pass": "PASSED", "FAIL": "FAILED",
            "inconclusive": "INCONCLUSIVE (no error beyond rounding, but not certified to "
                            "the tolerance)"}[report.verdict]
    print(f"worst relative error {report.worst():.2e} (tolerance {rtol:g}): {word}")
    return 0 if report.passed else EXIT_GRADCHECK_FAILED


def cmd_interpolate(args):
    print(figures.interpolate(args.checkpoint, args.out, args.index_a, args.index_b,
                              steps=args.steps, spherical=args.spherical, **_data(args),
                              **_figure(args)))
    return 0


def cmd_compare(args):
    memory.tune_for_training()
    report, figure = experiments.compare_run(
        args.out, epochs=args.epochs, latent_dim=args.latent_dim, seed=args.seed,
        limit=args.limit, radius=args.radius, scatter=args.scatter,
        verbose=0 if args.quiet else 1, data_parallel=True, **_data(args))
    if not args.quiet:
        for name in ("autoencoder", "vae"):
            rep = report[name]
            gaps = "  ".join(f"r={k}: {100 * v:.1f}%" for k, v in rep["gap_share"].items())
            print(f"{name:<12} gaps {gaps}   KL(Gaussian fit || N(0, I)) "
                  f"{rep['gaussian_fit_kl']:.3f}   mean {np.round(rep['mean'], 2).tolist()}  "
                  f"std {np.round(rep['std'], 2).tolist()}")
        print(f"wrote {figure} and compare.json, autoencoder.npz, vae.npz beside it")
    return 0


def cmd_sweep(args):
    memory.tune_for_training()
    rows, figure = experiments.sweep_run(
        args.out, args.beta, epochs=args.epochs, latent_dim=args.latent_dim, seed=args.seed,
        limit=args.limit, verbose=0 if args.quiet else 1, data_parallel=True, **_data(args))
    if not args.quiet:
        print(f"{'beta':>8} {'rate (KL)':>10} {'distortion':>11} {'ELBO':>9} {'active':>7}")
        for p in rows:
            print(f"{p['beta']:8g} {p['rate']:10.2f} {p['distortion']:11.2f} {p['elbo']:9.2f} "
                  f"{p['active_units']:7d}")
        print(f"wrote {figure} and sweep.json beside it")
    return 0


def cmd_embedding(args):
    paths, report = figures.embedding(args.checkpoint, args.out, limit=args.limit, n=args.n,
                                      grid=args.grid, dims=args.dims, **_chapter(args))
    if not args.quiet:
        print(f"encoded {report['codes']} images of {report['data']}")
        print("wrote " + ", ".join(str(p) for p in paths) + " and embedding.json")
    return 0


def cmd_attribute(args):
    found, figure = figures.attribute(
        args.checkpoint, args.out, positive=args.positive, attribute=args.attribute,
        limit=args.limit, batch_size=args.batch_size, tolerance=args.tolerance,
        max_positive=args.max_positive, sample=not args.z_mean, faces=args.faces,
        factors=args.factors, verbose=0 if args.quiet else 1, **_chapter(args))
    if not args.quiet:
        print(f"{'converged' if found.converged else 'not converged'}: |mean with - mean "
              f"without| = {found.distance:.3f} over {found.batches} batches")
        print(f"wrote {figure} and attribute.json beside it")
    return 0


def cmd_morph(args):
    print(figures.morph(args.checkpoint, args.out, args.index_a, args.index_b,
                        steps=args.steps, **_chapter(args)))
    return 0


# ---------------------------------------------------------------------- parser --

def _add_train(sub):
    t = sub.add_parser("train", help="train a VAE or autoencoder (the book's, or your own)",
                       description="Train on Fashion-MNIST, MNIST or a folder of images "
                       "(found on disk, else the embedded 2,000-image sample). Writes "
                       "OUT/model.npz and OUT/history.json after every epoch, then the "
                       "figures as PNG.")
    t.add_argument("--model", metavar="NAME",
                   help=f"{', '.join(runs.BOOK_MODELS)} (the book's Fashion VAE, its "
                        f"autoencoder, its faces VAE, Keras's example VAE), or module:function "
                        f"returning a model of your own (default vae)")
    add_data_flags(t, train=True)
    t.add_argument("--epochs", type=positive_int, default=runs.DEFAULTS["epochs"],
                   help=f"total epochs (default {runs.DEFAULTS['epochs']})")
    t.add_argument("--batch-size", type=positive_int, help="default 100")
    t.add_argument("--learning-rate", type=positive_float, help="Adam's (default 5e-4)")
    t.add_argument("--beta", type=nonnegative_float, help="weight of the KL term (default 1)")
    t.add_argument("--reconstruction-weight", type=nonnegative_float,
                   help="weight on the mean pixel loss (default: the model's, 500 for the book)")
    t.add_argument("--latent-dim", type=positive_int, help="default: the model's (2 for vae)")
    t.add_argument("--out", default="runs/fashion", help="output folder (default runs/fashion)")
    t.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                   help="continue from CHECKPOINT (default OUT/model.npz) up to --epochs")
    t.add_argument("--overwrite", action="store_true",
                   help="replace a run already in OUT (its checkpoint and history)")
    t.add_argument("--seed", type=int, help="weights, shuffling and noise (default 0)")
    t.add_argument("--dtype", choices=("float32", "float64"))
    t.add_argument("--limit", type=positive_int, metavar="N",
                   help="use only the first N training and N validation images (a quick run)")
    t.add_argument("--quiet", action="store_true",
                   help="print nothing but warnings and errors")
    t.set_defaults(run=cmd_train)


def _add_checkpoint_commands(sub):
    s = sub.add_parser("sample", help="decode samples from the prior N(0, I)")
    s.add_argument("checkpoint", help="a model.npz written by train (any minivae VAE)")
    s.add_argument("-n", type=positive_int, default=30, help="how many images (default 30)")
    s.add_argument("--out", default="samples.png",
                   help="a figure (.png, .jpg, .pdf, .svg) of at most "
                        f"{figures.MAX_FIGURE_IMAGES:,} images, or .npy for the images "
                        "themselves, any number, written in chunks (default samples.png)")
    s.add_argument("--seed", type=nonnegative_int, default=0)
    add_figure_flags(s)
    s.set_defaults(run=cmd_sample)

    r = sub.add_parser("reconstruct", help="test images over their reconstructions")
    r.add_argument("checkpoint")
    r.add_argument("-n", type=positive_int, default=10, help="how many images (default 10)")
    add_data_flags(r)
    add_figure_flags(r)
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
    e.add_argument("--seed", type=nonnegative_int, default=None, help="fix the sampling noise")
    e.add_argument("--limit", type=positive_int, metavar="N", help="use the first N test images")
    e.add_argument("--iwae-k", type=positive_int, nargs="*", default=[1, 10, 100], metavar="K",
                   help="samples per image of the IWAE bounds (default 1 10 100; none: skip)")
    e.add_argument("--iwae-limit", type=positive_int, default=1000, metavar="N",
                   help="IWAE on the first N images (default 1000): it costs max(K) decodes "
                   "per image, where the ELBO costs one")
    e.add_argument("--force", action="store_true",
                   help=f"run even beyond {evaluation.MAX_DECODES:,} decoder passes, "
                        f"reporting progress")
    e.add_argument("--json", metavar="PATH", help="also write everything to PATH as JSON")
    add_memory_budget_flag(e)
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
    add_figure_flags(i)
    i.add_argument("--out", default="interpolation.png")
    i.set_defaults(run=cmd_interpolate)


def _add_gradcheck(sub):
    g = sub.add_parser("gradcheck", help="finite-difference check of the whole model",
                       description="Builds the book's model (or a checkpoint's) in float64 and "
                       "compares every parameter's analytic gradient with finite differences "
                       "(a random subset of entries per array). Exit status 1 when any check "
                       "fails (an inconclusive check, one within the rounding floor, exits 0).")
    g.add_argument("--model", choices=("vae", "ae"), default="vae",
                   help="the book's model to build (default vae)")
    g.add_argument("--checkpoint", metavar="PATH",
                   help="check the model a checkpoint holds instead (any minivae model, at "
                        "its trained weights)")
    g.add_argument("--latent-dim", type=positive_int, default=2)
    g.add_argument("--batch-size", type=positive_int, default=2)
    g.add_argument("--max-entries", type=int, default=8,
                   help="entries checked per array (default 8)")
    g.add_argument("--directions", type=int, default=0, metavar="N",
                   help="check N random directions per array instead of entries")
    g.add_argument("--rtol", type=float, default=None,
                   help="certify max|a-n| / max|a| <= RTOL (default 1e-5 for the VAE, 3e-4 "
                   "for the autoencoder, whose tiny encoder gradients meet the rounding "
                   "floor of central differences: docs/gradcheck.md); an entry fails only "
                   "beyond what rounding allows")
    g.add_argument("--step", type=float, default=1e-6,
                   help="finite-difference step (default 1e-6)")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(run=cmd_gradcheck)


def _add_experiments(sub):
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
    c.add_argument("--seed", type=nonnegative_int, default=0)
    c.add_argument("--limit", type=positive_int, metavar="N", help="train on the first N images")
    c.add_argument("--radius", type=float, nargs="+", default=[0.25, 0.5], metavar="R",
                   help="gap radii in standard deviations of each latent axis (default 0.25 0.5)")
    c.add_argument("--scatter", type=positive_int, default=5000, metavar="N",
                   help="codes drawn in each scatter (default 5000)")
    c.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors")
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
    w.add_argument("--seed", type=nonnegative_int, default=0)
    w.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors")
    w.set_defaults(run=cmd_sweep)


def _add_chapter3(sub):
    e = sub.add_parser(
        "embedding", help="the chapter's views of a model's latent space, as PNGs",
        description="Encodes the data and writes OUT/reconstructions.png, scatter.png "
        "(and scatter_labels.png, coloured by class), box_samples.png (points drawn "
        "uniformly from the codes' bounding box, decoded: the autoencoder's gaps), "
        "range_grid.png (a grid decoded over the codes' range) and, for a VAE, "
        "prior_samples.png (points from N(0, I) on the scatter, decoded), p_space.png "
        "(norm.cdf of z beside z) and latent_histograms.png, with embedding.json.")
    e.add_argument("checkpoint")
    _chapter_flags(e)
    e.add_argument("--limit", type=positive_int, default=5000, metavar="N",
                   help="encode the first N images (default 5000)")
    e.add_argument("-n", type=positive_int, default=18, help="points to decode (default 18)")
    e.add_argument("--grid", type=positive_int, default=15, help="grid side (default 15)")
    e.add_argument("--dims", type=positive_int, default=50,
                   help="latent axes in the histograms (default 50)")
    e.add_argument("--out", default="runs/embedding", help="default runs/embedding")
    e.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors")
    e.set_defaults(run=cmd_embedding)

    a = sub.add_parser(
        "attribute", help="the book's attribute vector, added to images",
        description="Finds the direction from images without an attribute to images with "
        "it by the faces notebook's running means (stopping when both means together "
        "move less than --tolerance, or after --max-positive images with it), then "
        "decodes the first --faces images moved by each factor times that vector. "
        "Writes OUT/attribute.png and OUT/attribute.json (the vector and the table).")
    a.add_argument("checkpoint")
    a.add_argument("--positive", nargs="+", metavar="CLASS",
                   help="Fashion-MNIST classes (names or indices) that have the attribute, "
                   "e.g. Sandal Sneaker 'Ankle boot'")
    a.add_argument("--attribute", metavar="NAME", help="a CelebA column, e.g. Blond_Hair")
    _chapter_flags(a)
    a.add_argument("--limit", type=positive_int, default=20000, metavar="N",
                   help="read at most N images (default 20000)")
    a.add_argument("--batch-size", type=positive_int, default=128, help="default 128 (the book's)")
    a.add_argument("--tolerance", type=float, default=0.08, help="default 0.08 (the book's)")
    a.add_argument("--max-positive", type=positive_int, default=10000,
                   help="stop after N images with the attribute (default 10000, the book's)")
    a.add_argument("--z-mean", action="store_true",
                   help="average z_mean instead of z sampled from q(z|x) (the book's)")
    a.add_argument("--faces", type=positive_int, default=5, help="images to move (default 5)")
    a.add_argument("--factors", type=float, nargs="+", default=[-4, -3, -2, -1, 0, 1, 2, 3, 4],
                   help="multiples of the vector (default -4 ... 4)")
    a.add_argument("--out", default="runs/attribute", help="default runs/attribute")
    a.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors")
    a.set_defaults(run=cmd_attribute)

    m = sub.add_parser(
        "morph", help="decode (1 - alpha) z_A + alpha z_B between two images",
        description="Decodes the straight path between the codes (z_mean for a VAE) of two "
        "images for alpha = 0, ..., 1, between the two originals: alpha 0 and 1 are their "
        "reconstructions.")
    m.add_argument("checkpoint")
    m.add_argument("--index-a", type=int, default=0, help="first image (default 0)")
    m.add_argument("--index-b", type=int, default=1, help="second image (default 1)")
    m.add_argument("--steps", type=int, default=11, help="alphas 0, ..., 1 (default 11)")
    _chapter_flags(m)
    m.add_argument("--out", default="morph.png", help="PNG to write (default morph.png)")
    m.set_defaults(run=cmd_morph)


def build_parser():
    p = _Parser(prog="minivae", description="The VAE of Generative Deep Learning (ch. 3) in "
                "NumPy: train it, sample it, check it; and models of your own.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)
    _add_train(sub)
    _add_checkpoint_commands(sub)
    _add_gradcheck(sub)
    _add_experiments(sub)
    _add_chapter3(sub)
    for command in sub.choices.values():     # a flag no command knows is refused by its own
        command.set_defaults(parser=command)
    return p


# ------------------------------------------------------------------------ main --

def _one_line(exc):
    """The message on one line however many it has (not finding data lists folders)."""
    message = ""
    for line in str(exc).splitlines():
        line = " ".join(line.split()).removeprefix("- ")
        if line:
            message += (" " if message.endswith(":") else "; ") + line if message else line
    return message or type(exc).__name__


def _interrupted(exc, args):
    """What an interruption left: for train, the last checkpoint and how to continue."""
    if not isinstance(exc, runs.RunInterrupted):
        return f"minivae {args.command}: interrupted"
    line = f"minivae {args.command}: interrupted; {exc.state}"
    if exc.checkpoint is not None:
        line += f"; continue with: python3 -m minivae train --out {args.out} --resume " \
                f"--epochs {exc.epochs}"
    return line


def _terminate(signum, frame):
    raise KeyboardInterrupt         # SIGTERM ends a command as Ctrl-C does, saying what was saved


def main(argv=None):
    try:
        args, unknown = build_parser().parse_known_args(argv)
        if unknown:
            args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exc:               # --help, or a flag argparse refused (one line)
        return exc.code
    handles_signals = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if handles_signals else None
    try:
        return args.run(args)
    except (CheckpointError, DatasetError, SerializationError, TrainingDiverged, InputError,
            InputTypeError, OSError, MemoryError) as exc:
        # A refused input or a failing environment: one line. Any other exception
        # (a ValueError from a bug, say) keeps its traceback, so that it can be reported.
        if isinstance(exc, MemoryError):
            exc = f"out of memory ({exc or 'no detail'}); free memory or ask for less"
        print(f"minivae {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        print(_interrupted(exc, args), file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if handles_signals:
            signal.signal(signal.SIGTERM, previous)
