"""The rest of chapter 3 on the command line: `minivae embedding | attribute | morph`.

    embedding CHECKPOINT   the notebooks' views of the latent space, as PNGs
    attribute CHECKPOINT   the book's attribute vector for a label, added to images
    morph CHECKPOINT       decode the path between two images' codes

Each reads a checkpoint (any model minivae trained) and its data: Fashion-MNIST
(or what the checkpoint was trained on, as the other commands choose it), or with
--celeba ROOT a CelebA copy for a 64x64x3 model. `add_commands(subparsers)` adds
them to minivae's parser; errors a user can cause raise CLIError (one line on
stderr, exit 2).
"""

import os

import numpy as np

from .common import (CLIError, add_data_flags, data_spec, load_checkpoint, load_data,
                     positive_int, write_json)

DEFAULT_LIMIT = 5000            # the notebooks' n_to_predict


# ----------------------------------------------------------------------- data --

def _data(args, model, limit, attribute=None):
    """(images, labels or None, class names or None, what they are) for the model:
    the data it was trained on (or the data flags'), with its labels, or with
    --celeba the column `attribute` (None: no labels)."""
    from ..datasets import load_celeba
    if args.celeba:
        loaded = load_celeba(args.celeba, limit, attribute, size=model.input_shape[:2],
                             shuffle=True, rng=np.random.default_rng(args.seed))
        images, labels = loaded if attribute is not None else (loaded, None)
        where, classes = f"CelebA at {args.celeba}", None
    else:
        try:
            spec = data_spec(args, (getattr(model, "run", None) or {}).get("data"),
                             model.input_shape)
        except CLIError as exc:
            raise CLIError(f"{exc}, or pass --celeba ROOT") from None
        data = load_data(spec, args.split, args)
        images = data.images[:limit]
        labels = None if data.labels is None else data.labels[:limit]
        classes = data.classes
        where = "the embedded sample" if data.is_sample else f"{data.source} ({args.split})"
    if tuple(images.shape[1:]) != tuple(model.input_shape):
        hint = "" if args.celeba else "; for a faces model pass --celeba ROOT"
        raise CLIError(f"{args.checkpoint} reads images of shape {tuple(model.input_shape)} but "
                       f"{where} holds {tuple(images.shape[1:])}{hint}")
    return images, labels, classes, where


# ------------------------------------------------------------------ embedding --

def cmd_embedding(args):
    from .. import latent, plotting
    from ..models import VAE
    from ..pixels import to_float
    model = load_checkpoint(args.checkpoint)
    images, labels, classes, where = _data(args, model, args.limit)
    rng = np.random.default_rng(args.seed)
    z, z_sampled = latent.codes_and_draws(model, images, np.random.default_rng(args.seed))
    if z.shape[1] < 2:
        raise CLIError(f"{args.checkpoint} has a 1-D latent space; these figures need 2 or more "
                       f"dimensions")
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)     # noqa: E731
    paths = [plotting.plot_reconstructions(to_float(images[:10]), model.reconstruct(images[:10]),
                                           out("reconstructions.png"))]
    paths.append(plotting.plot_latent_scatter(z, None, out("scatter.png")))
    if labels is not None:
        paths.append(plotting.plot_latent_scatter(z, labels, out("scatter_labels.png"),
                                                  class_names=classes))
    box = latent.bounding_box_samples(z, args.n, rng)
    paths.append(plotting.plot_latent_samples(
        z, box, latent.decode_points(model, box), out("box_samples.png"),
        title=f"{args.n} points drawn uniformly from the codes' bounding box"))
    grid = latent.range_grid(z, args.grid)
    paths.append(plotting.plot_range_grid(
        latent.decode_points(model, grid["points"]), grid["xs"], grid["ys"],
        out("range_grid.png"), codes=grid["plane"], labels=labels, class_names=classes,
        axis_names=grid["axis_names"]))
    report = {"data": where, "codes": len(z), "latent_dim": int(z.shape[1]),
              "bounding_box": [b.tolist() for b in latent.bounding_box(z)]}
    if isinstance(model, VAE):
        prior = latent.prior_samples(z.shape[1], args.n, rng)
        paths.append(plotting.plot_latent_samples(
            z_sampled, prior, latent.decode_points(model, prior), out("prior_samples.png"),
            title=f"{args.n} points drawn from the prior N(0, I)"))
        paths.append(plotting.plot_p_space(z_sampled, labels, out("p_space.png"),
                                           class_names=classes))
        paths.append(plotting.plot_latent_histograms(z_sampled, out("latent_histograms.png"),
                                                     dims=args.dims))
        hist = latent.latent_histograms(z_sampled, args.dims)
        report["axes"] = {"mean": hist["mean"].tolist(), "std": hist["std"].tolist(),
                          "kl_to_prior": hist["kl"].tolist()}
    write_json(out("embedding.json"), report)
    if not args.quiet:
        print(f"encoded {len(z)} images of {where}")
        print("wrote " + ", ".join(str(p) for p in paths) + " and embedding.json")
    return 0


# ------------------------------------------------------------------ attribute --

def _positive_classes(names, classes):
    """--positive CLASS ... (names, any case, or indices) -> sorted class indices."""
    lower = [c.lower() for c in classes]
    chosen = set()
    for name in names:
        if name.isdigit() and int(name) < len(classes):
            chosen.add(int(name))
        elif name.lower() in lower:
            chosen.add(lower.index(name.lower()))
        else:
            raise CLIError(f"--positive: unknown class {name!r}; expected an index 0-"
                           f"{len(classes) - 1} or one of {', '.join(classes)}")
    if len(chosen) == len(classes):
        raise CLIError("--positive names every class; the attribute needs images without it")
    return sorted(chosen)


def cmd_attribute(args):
    from .. import attributes, plotting
    from ..pixels import to_float
    if (args.attribute is None) == (args.positive is None):
        raise CLIError("give the attribute one way: --positive CLASS ... (Fashion-MNIST "
                       "classes) or --attribute NAME (a CelebA column, with --celeba ROOT)")
    if args.attribute is not None and not args.celeba:
        raise CLIError(f"--attribute {args.attribute} names a CelebA column; pass --celeba ROOT "
                       f"too, or use --positive CLASS ... for Fashion-MNIST")
    if not all(np.isfinite(args.factors)):
        raise CLIError(f"--factors must be finite numbers, got {args.factors}")
    model = load_checkpoint(args.checkpoint)
    images, labels, classes, where = _data(args, model, args.limit, args.attribute)
    if args.positive is not None:
        chosen = _positive_classes(args.positive, classes)
        name = " + ".join(classes[c] for c in chosen)
        labels = np.isin(labels, chosen)
    else:
        name, labels = args.attribute, labels == 1
    progress = None
    if not args.quiet:
        print(f"label: {name} ({int(labels.sum())} of {len(labels)} images of {where})")
        print(f"{'with':>7} {'without':>8} {'move +':>8} {'move -':>8} {'distance':>9} "
              f"{'change':>8}")
        progress = lambda r: print(                      # noqa: E731
            f"{r['n_positive']:7d} {r['n_negative']:8d} {r['move_positive']:8.3f} "
            f"{r['move_negative']:8.3f} {r['distance']:9.3f} {r['change']:8.3f}")
    found = attributes.attribute_vector(
        model, images, labels, batch_size=args.batch_size, tolerance=args.tolerance,
        max_positive=args.max_positive, sample=not args.z_mean,
        rng=np.random.default_rng(args.seed), callback=progress)
    shown = images[:args.faces]
    decoded, _ = attributes.add_vector(model, shown, found.vector, args.factors)
    os.makedirs(args.out, exist_ok=True)
    state = "converged" if found.converged else "not converged"
    figure = plotting.plot_attribute_arithmetic(
        to_float(shown), decoded, args.factors, os.path.join(args.out, "attribute.png"),
        title=f"z + factor x the '{name}' vector ({state} after {found.n_positive} images "
              f"with it, {found.n_negative} without)")
    write_json(os.path.join(args.out, "attribute.json"), {
        "label": name, "data": where, "converged": found.converged,
        "n_positive": found.n_positive, "n_negative": found.n_negative,
        "distance": found.distance, "tolerance": args.tolerance,
        "max_positive": args.max_positive, "sampled_z": not args.z_mean,
        "vector": found.vector.tolist(), "difference": found.difference.tolist(),
        # the first batch's move is infinite by definition: JSON null, not a non-JSON token
        "history": [{k: (v if not isinstance(v, float) or np.isfinite(v) else None)
                     for k, v in row.items()} for row in found.history]})
    if not args.quiet:
        print(f"{state}: |mean with - mean without| = {found.distance:.3f} over "
              f"{found.batches} batches")
        print(f"wrote {figure} and attribute.json beside it")
    return 0


# ---------------------------------------------------------------------- morph --

def cmd_morph(args):
    from .. import attributes, plotting
    from ..pixels import to_float
    if args.steps < 2:
        raise CLIError(f"--steps must be at least 2 (alpha 0 and 1), got {args.steps}")
    for flag, index in (("--index-a", args.index_a), ("--index-b", args.index_b)):
        if index < 0:
            raise CLIError(f"{flag} must be an image index >= 0, got {index}")
    model = load_checkpoint(args.checkpoint)
    # CelebA is read only as far as the later index; Fashion-MNIST is in memory already.
    limit = max(args.index_a, args.index_b) + 1 if args.celeba else None
    images, labels, classes, where = _data(args, model, limit)
    for flag, index in (("--index-a", args.index_a), ("--index-b", args.index_b)):
        if index >= len(images):
            raise CLIError(f"{flag} must lie in [0, {len(images) - 1}] for {where}, got {index}")
    pair = to_float(images[[args.index_a, args.index_b]])
    alphas = np.linspace(0.0, 1.0, args.steps)
    decoded, _ = attributes.morph(model, pair[0], pair[1], alphas)
    named = [f" ({classes[labels[i]]})" if classes else "" for i in (args.index_a, args.index_b)]
    title = (f"(1 - α) z_A + α z_B: A = image {args.index_a}{named[0]}, "
             f"B = image {args.index_b}{named[1]}")
    print(plotting.plot_morph(decoded, alphas, args.out, originals=pair, title=title))
    return 0


# --------------------------------------------------------------------- parser --

def _data_flags(p):
    add_data_flags(p)
    p.add_argument("--split", choices=("train", "test"), default="test",
                   help="Fashion-MNIST split (default test)")
    p.add_argument("--celeba", metavar="ROOT",
                   help="use CelebA at ROOT (img_align_celeba/ and list_attr_celeba.csv) "
                   "instead of Fashion-MNIST, for a 64x64x3 model")
    p.add_argument("--seed", type=int, default=0, help="sampling and shuffling (default 0)")


def add_commands(subparsers):
    """Add `embedding`, `attribute` and `morph` to minivae's subparsers action."""
    e = subparsers.add_parser(
        "embedding", help="the chapter's views of a model's latent space, as PNGs",
        description="Encodes the data and writes OUT/reconstructions.png, scatter.png "
        "(and scatter_labels.png, coloured by class), box_samples.png (points drawn "
        "uniformly from the codes' bounding box, decoded: the autoencoder's gaps), "
        "range_grid.png (a grid decoded over the codes' range) and, for a VAE, "
        "prior_samples.png (points from N(0, I) on the scatter, decoded), p_space.png "
        "(norm.cdf of z beside z) and latent_histograms.png, with embedding.json.")
    e.add_argument("checkpoint")
    _data_flags(e)
    e.add_argument("--limit", type=positive_int, default=DEFAULT_LIMIT, metavar="N",
                   help=f"encode the first N images (default {DEFAULT_LIMIT})")
    e.add_argument("-n", type=positive_int, default=18, help="points to decode (default 18)")
    e.add_argument("--grid", type=positive_int, default=15, help="grid side (default 15)")
    e.add_argument("--dims", type=positive_int, default=50,
                   help="latent axes in the histograms (default 50)")
    e.add_argument("--out", default="runs/embedding", help="default runs/embedding")
    e.add_argument("--quiet", action="store_true", help="print nothing but errors")
    e.set_defaults(run=cmd_embedding)

    a = subparsers.add_parser(
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
    _data_flags(a)
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
    a.add_argument("--quiet", action="store_true", help="print nothing but errors")
    a.set_defaults(run=cmd_attribute)

    m = subparsers.add_parser(
        "morph", help="decode (1 - alpha) z_A + alpha z_B between two images",
        description="Decodes the straight path between the codes (z_mean for a VAE) of two "
        "images for alpha = 0, ..., 1, between the two originals: alpha 0 and 1 are their "
        "reconstructions.")
    m.add_argument("checkpoint")
    m.add_argument("--index-a", type=int, default=0, help="first image (default 0)")
    m.add_argument("--index-b", type=int, default=1, help="second image (default 1)")
    m.add_argument("--steps", type=int, default=11, help="alphas 0, ..., 1 (default 11)")
    _data_flags(m)
    m.add_argument("--out", default="morph.png", help="PNG to write (default morph.png)")
    m.set_defaults(run=cmd_morph)
    return subparsers


__all__ = ["add_commands", "cmd_embedding", "cmd_attribute", "cmd_morph"]
