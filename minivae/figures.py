"""A trained model's figures, written to files: what `minivae sample | reconstruct |
interpolate | embedding | attribute | morph` draw from a checkpoint, and the figures
of a training run.

    write_figures(model, out, data, history)    a run's five figures, into the folder out
    sample(checkpoint, out, n)                  decoded prior samples: a figure, or a .npy
    reconstruct(checkpoint, out, n)             test images over their reconstructions
    interpolate(checkpoint, out, a, b)          the path between two test images' codes
    embedding(checkpoint, out)                  the chapter's views of the latent space
    attribute(checkpoint, out, positive=...)    the book's attribute vector, added to images
    morph(checkpoint, out, a, b)                (1 - alpha) z_A + alpha z_B, decoded

Each reads any minivae checkpoint (the model rebuilds itself from it) and the data
its run recorded unless told otherwise (datasets.load_for_model), or with
celeba=ROOT a CelebA copy for a faces model, and returns what it wrote. The
numbers come from minivae.latent and minivae.attributes, the drawing from
minivae.plotting. Work is bounded: a figure tiles at most MAX_FIGURE_IMAGES
images. Errors a user can cause raise InputError (or CheckpointError,
DatasetError), naming each option as its command-line flag; an argument only Python
passes (a float where an index goes, say) raises InputTypeError naming it.

Memory is bounded too: embedding and attribute read and encode their images
STREAM_BATCH at a time, whatever their limit (a folder's or CelebA's images are
read from disk batch by batch), and embedding keeps at most MAX_CODES codes.
"""

import math
import numbers
import os
import sys

import numpy as np
from numpy.lib.format import dtype_to_descr, write_array_header_1_0

from . import attributes, latent, plotting
from ._atomic import atomic_write, write_json
from ._progress import progress_line
from ._validation import (check_image_shape, check_positive_int, check_real, check_seed,
                          with_article)
from .checkpoint import load
from .datasets import FolderImages, flatten_images, load_for_model, load_spec, open_celeba
from .datasets import parse_spec
from .datasets.celeba import face_pixels
from .errors import InputError, InputTypeError
from .models import PREDICT_BATCH, VAE
from .models.footprint import DEFAULT_BUDGET, check_budget
from .pixels import to_float

# One PNG of 1,000 32x32 tiles at the figures' 0.8 inch per tile and dpi 100 is about
# 3200 x 2000 pixels; ten times that many tiles made figures of gigabytes.
MAX_FIGURE_IMAGES = 1000
NPY_CHUNK = 1000                # images generated and written at a time to a .npy
PROGRESS_SAMPLES = 20_000       # a .npy of more shows its progress (about 5 s of decoding)
SCATTER_CODES = 5000            # codes a run's scatter shows (the notebooks' n_to_predict)
STREAM_BATCH = PREDICT_BATCH    # images embedding and attribute read and encode at a time
# Codes embedding keeps for its figures (z and a draw, d float64 each: 320 MB at the faces
# VAE's d = 200); more is refused. A scatter of more shows nothing new, and all of
# Fashion-MNIST's training split (60,000) fits.
MAX_CODES = 100_000


def _note(text):
    """One line on stderr: what a figure could not show, and why."""
    print(f"minivae: {text}", file=sys.stderr)


def _check_index(value, name, owner):
    """An image index: an int (its range is checked against the data, by its flag)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{owner}: {name} must be an integer (an image index), got "
                             f"{value!r} of type {type(value).__name__}")
    return int(value)


def _check_path(index_a, index_b, steps, owner, ends):
    """The two image indices and the steps of a path between their codes (interpolate,
    morph), each checked; steps also as a figure's count. ends: what steps 2 are."""
    indices = _check_index(index_a, "index_a", owner), _check_index(index_b, "index_b", owner)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise InputTypeError(f"{owner}: steps must be an integer >= 2, got {steps!r} of type "
                             f"{type(steps).__name__}")
    if steps < 2:
        raise InputError(f"--steps must be at least 2 ({ends}), got {steps}")
    _check_figure_count(steps, "--steps")
    return indices


def write_figures(model, out, data, history, seed=0):
    """The book's figures of a trained model, into the folder `out`; returns their paths.

    data: a Dataset (the run's validation images); history: the run's History.
    reconstructions.png, latent_scatter.png, latent_grid.png (a VAE's over the
    prior's quantiles, an autoencoder's over the region its codes occupy),
    samples.png (a VAE's, from N(0, I)) and loss_curves.png. Drawn from what there
    is: a folder of a few images leaves one or two validation images, and a figure
    that cannot be drawn from them (the plane of codes with d > 2 needs two, an
    autoencoder's grid codes that spread) is left out, with a line on stderr saying
    why; so is the grid of a 1-D latent space.
    """
    rng = np.random.default_rng(seed)
    x = data.images[:SCATTER_CODES]
    y = None if data.labels is None else data.labels[:SCATTER_CODES]
    path = lambda name: os.path.join(out, name)     # noqa: E731
    show = model.as_images          # flat vectors shown as the images they are
    paths = [plotting.plot_reconstructions(show(to_float(x[:10])), show(model.reconstruct(x[:10])),
                                           path("reconstructions.png"))]
    z = latent.encode_codes(model, x, dtype=None)[0]     # the model's dtype, as drawn before
    n, d = z.shape
    few = f"the validation data holds {n} image(s)"
    if d > 2 and n < 2:
        _note(f"no latent_scatter.png: {few}, and codes of {d} dimensions need two for the "
              f"plane they are drawn in")
    else:
        paths.append(plotting.plot_latent_scatter(z, y, path("latent_scatter.png"),
                                                  class_names=data.classes))
    components = latent.principal_components(z)[1] if d > 2 and n >= 2 else None
    if d < 2:
        _note("no latent_grid.png: a 1-D latent space has no 2-D grid")
    elif isinstance(model, VAE):
        # The prior's quantiles: N(0, I) projected on orthonormal components is N(0, I_2),
        # and so is any other plane (the first two axes, without the codes' components).
        paths.append(plotting.plot_latent_grid(lambda z: show(model.decode(z)),
                                               path("latent_grid.png"),
                                               components=components, latent_dim=d))
    else:
        # An autoencoder has no prior: span the region its codes occupy instead.
        scale = z.std(axis=0)[:2] if components is None else (z @ components.T).std(axis=0)
        if np.all(scale > 0):
            paths.append(plotting.plot_latent_grid(lambda z: show(model.decode(z)),
                                                   path("latent_grid.png"),
                                                   components=components, latent_dim=d,
                                                   mean=z.mean(axis=0), scale=scale))
        else:
            _note(f"no latent_grid.png: {few}, and an autoencoder's grid spans the spread "
                  f"of its codes, which have none")
    if isinstance(model, VAE):
        paths.append(plotting.plot_image_grid(show(model.generate(30, rng)), path("samples.png"),
                                              ncols=10, title="samples from the prior N(0, I)"))
    paths.append(plotting.plot_history(history.history, path("loss_curves.png")))
    return paths


def _check_figure_count(n, flag="-n", hint=""):
    if n > MAX_FIGURE_IMAGES:
        raise InputError(f"{flag} {n:,} would tile {n:,} images into one figure; a figure "
                         f"holds at most {MAX_FIGURE_IMAGES:,}{hint}")


def _load_model(checkpoint, n, memory_budget, what="a forward pass", image_shape=None):
    """The checkpoint's model, refused before it runs when a pass of the images it will
    run at once (min(n, PREDICT_BATCH)) needs more than memory_budget bytes
    (models.footprint): a checkpoint of kilobytes may describe gigabytes of activations.

    A model of flat vectors is shown as the images it records (model.image_shape), or
    as image_shape when given; one that records none is refused, saying how to give it.
    """
    model = load(checkpoint)
    check_budget(model, max(1, min(n, PREDICT_BATCH)), memory_budget, what)
    if image_shape is not None:
        shape = check_image_shape(image_shape, "--image-shape")
        if len(model.input_shape) == 3 and shape != tuple(model.input_shape):
            raise InputError(f"--image-shape {'x'.join(map(str, shape))} contradicts "
                             f"{checkpoint}, which reads images of shape "
                             f"{tuple(model.input_shape)}")
        if len(model.input_shape) == 1 and math.prod(shape) != model.input_shape[0]:
            raise InputError(f"--image-shape {'x'.join(map(str, shape))} has "
                             f"{math.prod(shape)} values, but {checkpoint} reads vectors of "
                             f"{model.input_shape[0]}")
        model.image_shape = shape
    if model.image_shape is None:
        raise InputError(f"{checkpoint} reads flat vectors {tuple(model.input_shape)} and "
                         f"records no image shape to show them as; pass --image-shape HxWxC "
                         f"(e.g. 28x28x1; image_shape= in Python)")
    return model


def _test_data(model, checkpoint, data, data_dir, image_size, verify):
    """The test split of the data the checkpoint's run recorded (or the one named)."""
    return load_for_model(model.input_shape, "test", data, data_dir, image_size,
                          (model.run or {}).get("data"), verify=verify, reader=str(checkpoint),
                          image_shape=model.image_shape)


def sample(checkpoint, out="samples.png", n=30, seed=0, memory_budget=DEFAULT_BUDGET,
           image_shape=None):
    """n images decoded from the prior N(0, I) of a VAE's checkpoint, default_rng(seed).

    out: a figure (.png, .jpg, .pdf, .svg) of at most MAX_FIGURE_IMAGES images,
    or a .npy of the images themselves, any number: its file is allocated on disk
    and filled NPY_CHUNK images at a time, so memory does not grow with n (the
    draws are those of one generate(n), in the same order). Returns out.
    memory_budget: the bytes a forward pass may need (models.footprint), in every
    function here. image_shape (H, W, C): how a model of flat vectors that records none
    shows them (the .npy holds what the model outputs), in every function here.
    """
    n = check_positive_int(n, "n", "sample")
    check_seed(seed, "seed", "sample")
    model = _load_model(checkpoint, n, memory_budget, "decoding", image_shape)
    if not isinstance(model, VAE):
        raise InputError(f"{checkpoint} holds {with_article(type(model).__name__)}, which has "
                         f"no prior to sample from; train a VAE")
    rng = np.random.default_rng(seed)
    if os.fspath(out).lower().endswith(".npy"):
        # Streamed, chunk by chunk, so memory does not grow with n; written through a
        # temporary file (a memory map of a file the disk cannot hold dies of SIGBUS),
        # so the file is whole or absent. The draws are those of one generate(n).
        header = {"descr": dtype_to_descr(np.dtype(model.dtype)), "fortran_order": False,
                  "shape": (n, *model.input_shape)}

        def write(f):
            write_array_header_1_0(f, header)
            with progress_line("sample", n, "images decoded",
                               show=n > PROGRESS_SAMPLES) as progress:
                for lo in range(0, n, NPY_CHUNK):
                    f.write(np.ascontiguousarray(model.generate(min(NPY_CHUNK, n - lo), rng))
                            .tobytes())
                    if progress is not None:
                        progress(min(lo + NPY_CHUNK, n))
        return atomic_write(out, write)
    _check_figure_count(n, "-n", " (use --out FILE.npy for the images themselves)")
    return plotting.plot_image_grid(model.as_images(model.generate(n, rng)), out,
                                    ncols=min(10, n))


def reconstruct(checkpoint, out="reconstructions.png", n=10, data=None, data_dir=None,
                image_size=None, verify=True, memory_budget=DEFAULT_BUDGET, image_shape=None):
    """The first n test images over their reconstructions (as many as there are, when
    fewer); returns the figure's path."""
    n = check_positive_int(n, "n", "reconstruct")
    _check_figure_count(n)
    model = _load_model(checkpoint, n, memory_budget, image_shape=image_shape)
    x = _test_data(model, checkpoint, data, data_dir, image_size, verify).images[:n]
    return plotting.plot_reconstructions(model.as_images(to_float(x)),
                                         model.as_images(model.reconstruct(x)), out, n=n)


def interpolate(checkpoint, out="interpolation.png", index_a=0, index_b=1, steps=10,
                spherical=False, data=None, data_dir=None, image_size=None, verify=True,
                memory_budget=DEFAULT_BUDGET, image_shape=None):
    """The images decoded along the path between two test images' codes (a straight
    line, or with spherical=True the great circle: latent.interpolate); returns the
    figure's path."""
    index_a, index_b = _check_path(index_a, index_b, steps, "interpolate", "both ends")
    model = _load_model(checkpoint, steps, memory_budget, image_shape=image_shape)
    test = _test_data(model, checkpoint, data, data_dir, image_size, verify)
    for flag, index in (("--index-a", index_a), ("--index-b", index_b)):
        if not 0 <= index < len(test):
            raise InputError(f"{flag} must lie in [0, {len(test) - 1}], got {index}")
    x_a, x_b = to_float(test.images[[index_a, index_b]])
    images, _ = latent.interpolation_images(model, x_a, x_b, steps=steps, spherical=spherical)
    if test.labels is not None:
        names = [test.classes[test.labels[i]] for i in (index_a, index_b)]
        ends = f"{index_a} ({names[0]}) to {index_b} ({names[1]})"
    else:
        ends = f"{index_a} to {index_b}"
    title = f"{'spherical' if spherical else 'linear'} path from test image {ends}"
    return plotting.plot_interpolation(model.as_images(images), out, title=title)


# -------------------------------------------------- the rest of chapter 3 --

def _chapter_data(model, checkpoint, limit, split, celeba, seed, attribute=None, data=None,
                  data_dir=None, image_size=None, verify=True):
    """(images, labels or None, class names or None, what they are) for the model: the
    first `limit` images of the data it was trained on (or the one named), or with
    celeba=ROOT that many faces in an order drawn from default_rng(seed), labelled by
    the column `attribute` (-1/1).

    images is indexable and not read yet where it lies on disk (a folder's, CelebA's:
    datasets.FolderImages, each image read when indexed), so that a caller reads only
    the batch it works on; the MNIST-format sets are arrays in memory, as loaded.
    """
    if celeba:
        faces = open_celeba(celeba)
        if attribute is not None:
            column = faces.attribute(attribute)         # a missing column: refused now
        # The order CelebA.batches(shuffle=True, rng=default_rng(seed)) visits, its first
        # `limit` faces read as `minivae train --data celeba:ROOT` reads them (uint8).
        order = np.random.default_rng(seed).permutation(np.arange(len(faces)))[:limit]
        images = FolderImages([faces.image_folder / faces.files[i] for i in order],
                              model.image_shape[:2], face_pixels)
        labels = None if attribute is None else column[order]
        where, classes = f"CelebA at {celeba}", None
    else:
        try:
            spec = parse_spec(data, data_dir, image_size, (model.run or {}).get("data"),
                              model.image_shape)
        except InputError as exc:
            raise InputError(f"{exc}, or pass --celeba ROOT") from None
        found = load_spec(spec, split, limit, verify=verify).head(limit)
        images, labels, classes = found.images, found.labels, found.classes
        where = "the embedded sample" if found.is_sample else f"{found.source} ({split})"
    if len(model.input_shape) == 1 and tuple(images.shape[1:]) == model.image_shape:
        images = flatten_images(images)         # the vectors a model of flat vectors reads
    if tuple(images.shape[1:]) != tuple(model.input_shape):
        hint = "" if celeba else "; for a faces model pass --celeba ROOT"
        raise InputError(f"{checkpoint} reads images of shape {tuple(model.input_shape)} but "
                         f"{where} holds {tuple(images.shape[1:])}{hint}")
    return images, labels, classes, where


def _encoded(model, images, rng):
    """codes_and_draws of all the images, read and encoded STREAM_BATCH at a time: the
    same numbers as one call on them all (the draws come from rng in the same order)."""
    parts = [latent.codes_and_draws(model, images[lo:lo + STREAM_BATCH], rng)
             for lo in range(0, len(images), STREAM_BATCH)]
    z = np.concatenate([part[0] for part in parts])
    return z, None if parts[0][1] is None else np.concatenate([part[1] for part in parts])


def _check_counts(owner, **counts):
    return [check_positive_int(value, name, owner) for name, value in counts.items()]


def embedding(checkpoint, out="runs/embedding", limit=5000, n=latent.BOOK_SAMPLES,
              grid=latent.BOOK_GRID, dims=latent.BOOK_HISTOGRAM_DIMS, split="test", celeba=None,
              seed=0, data=None, data_dir=None, image_size=None, verify=True,
              memory_budget=DEFAULT_BUDGET, image_shape=None):
    """The chapter's views of a model's latent space, into the folder `out`.

    Encodes the first `limit` images and writes reconstructions.png, scatter.png
    (and scatter_labels.png, coloured by class), box_samples.png (n points drawn
    uniformly from the codes' bounding box, decoded), range_grid.png (a grid x
    grid decoded over the codes' range) and, for a VAE, prior_samples.png,
    p_space.png and latent_histograms.png (of `dims` axes), with embedding.json.
    Returns (the figures' paths, the report written to embedding.json). n and
    grid x grid are decoded into one figure each, so each is at most
    MAX_FIGURE_IMAGES; the images are read and encoded STREAM_BATCH at a time,
    and limit is at most MAX_CODES (the codes are kept).
    """
    limit, n, grid, dims = _check_counts("embedding", limit=limit, n=n, grid=grid, dims=dims)
    check_seed(seed, "seed", "embedding")
    if limit > MAX_CODES:
        raise InputError(f"--limit {limit:,} would keep {limit:,} codes; embedding encodes at "
                         f"most {MAX_CODES:,} images (its scatter of more shows nothing new)")
    _check_figure_count(n, "-n")
    _check_figure_count(grid * grid, "--grid (its square)")
    model = _load_model(checkpoint, max(n, grid * grid, limit), memory_budget,
                        image_shape=image_shape)
    show = model.as_images
    images, labels, classes, where = _chapter_data(model, checkpoint, limit, split, celeba,
                                                   seed, None, data, data_dir, image_size,
                                                   verify)
    if len(images) < 2:
        raise InputError(f"{where} holds {len(images)} image(s); the embedding's figures need "
                         f"at least 2 codes (more images, or --split train)")
    rng = np.random.default_rng(seed)
    z, z_sampled = _encoded(model, images, np.random.default_rng(seed))
    if z.shape[1] < 2:
        raise InputError(f"{checkpoint} has a 1-D latent space; these figures need 2 or more "
                         f"dimensions")
    os.makedirs(out, exist_ok=True)
    path = lambda name: os.path.join(out, name)     # noqa: E731
    first = images[:10]
    paths = [plotting.plot_reconstructions(show(to_float(first)), show(model.reconstruct(first)),
                                           path("reconstructions.png")),
             plotting.plot_latent_scatter(z, None, path("scatter.png"))]
    if labels is not None:
        paths.append(plotting.plot_latent_scatter(z, labels, path("scatter_labels.png"),
                                                  class_names=classes))
    box = latent.bounding_box_samples(z, n, rng)
    paths.append(plotting.plot_latent_samples(
        z, box, show(latent.decode_points(model, box)), path("box_samples.png"),
        title=f"{n} points drawn uniformly from the codes' bounding box"))
    square = latent.range_grid(z, grid)
    paths.append(plotting.plot_range_grid(
        show(latent.decode_points(model, square["points"])), square["xs"], square["ys"],
        path("range_grid.png"), codes=square["plane"], labels=labels, class_names=classes,
        axis_names=square["axis_names"]))
    report = {"data": where, "codes": len(z), "latent_dim": int(z.shape[1]),
              "bounding_box": [b.tolist() for b in latent.bounding_box(z)]}
    if isinstance(model, VAE):
        prior = latent.prior_samples(z.shape[1], n, rng)
        paths.append(plotting.plot_latent_samples(
            z_sampled, prior, show(latent.decode_points(model, prior)),
            path("prior_samples.png"),
            title=f"{n} points drawn from the prior N(0, I)"))
        paths.append(plotting.plot_p_space(z_sampled, labels, path("p_space.png"),
                                           class_names=classes))
        paths.append(plotting.plot_latent_histograms(z_sampled, path("latent_histograms.png"),
                                                     dims=dims))
        hist = latent.latent_histograms(z_sampled, dims)
        report["axes"] = {"mean": hist["mean"].tolist(), "std": hist["std"].tolist(),
                          "kl_to_prior": hist["kl"].tolist()}
    write_json(path("embedding.json"), report)
    return paths, report


def _positive_names(positive):
    """positive as a list of class names (str) or indices (int): one of them, or a list."""
    if isinstance(positive, (str, numbers.Integral)):
        positive = [positive]
    if not isinstance(positive, (list, tuple, np.ndarray)) or not all(
            isinstance(p, (str, numbers.Integral)) and not isinstance(p, bool) for p in positive):
        raise InputTypeError(f"attribute: positive must be class names or indices (a str, an "
                             f"int, or a list of them, e.g. ['Sandal', 'Sneaker']), got "
                             f"{positive!r}")
    if not len(positive):
        raise InputError("--positive names no class; name at least one, e.g. Sandal")
    return list(positive)


def _positive_classes(names, classes):
    """positive=[CLASS, ...] (names, any case, or indices) -> sorted class indices."""
    lower = [c.lower() for c in classes]
    chosen = set()
    for name in names:
        if isinstance(name, numbers.Integral) and 0 <= name < len(classes):
            chosen.add(int(name))
        elif isinstance(name, str) and name.isdigit() and int(name) < len(classes):
            chosen.add(int(name))
        elif isinstance(name, str) and name.lower() in lower:
            chosen.add(lower.index(name.lower()))
        else:
            raise InputError(f"--positive: unknown class {name!r}; expected an index 0-"
                             f"{len(classes) - 1} or one of {', '.join(classes)}")
    if len(chosen) == len(classes):
        raise InputError("--positive names every class; the attribute needs images without it")
    return sorted(chosen)


def _print_row(row):
    print(f"{row['n_positive']:7d} {row['n_negative']:8d} {row['move_positive']:8.3f} "
          f"{row['move_negative']:8.3f} {row['distance']:9.3f} {row['change']:8.3f}")


def _shuffled_batches(images, labels, batch_size, rng):
    """(images, labels) in batches, in an order drawn from rng when first asked: what
    attributes.attribute_vector does with images in memory (shuffle=True, the same rng,
    so the same numbers), reading only the batch it yields."""
    order = rng.permutation(len(images))
    for start in range(0, len(order), batch_size):
        index = np.sort(order[start:start + batch_size])        # sorted: a contiguous read
        yield images[index], labels[index]


def _check_factors(factors):
    try:
        values = np.asarray(factors, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputTypeError(f"attribute: factors must be a list of numbers, got "
                             f"{factors!r}") from None
    if values.ndim != 1 or not values.size or not np.all(np.isfinite(values)):
        raise InputError(f"--factors must be finite numbers, at least one, got {factors}")
    return factors


def attribute(checkpoint, out="runs/attribute", positive=None, attribute=None, limit=20000,
              batch_size=attributes.BOOK_BATCH, tolerance=attributes.BOOK_TOLERANCE,
              max_positive=attributes.BOOK_MAX_POSITIVE, sample=True, faces=5,
              factors=attributes.BOOK_FACTORS, split="test", celeba=None, seed=0, data=None,
              data_dir=None, image_size=None, verify=True, verbose=1,
              memory_budget=DEFAULT_BUDGET, image_shape=None):
    """The book's attribute vector (attributes.attribute_vector), added to images.

    The label is given one way: positive, the classes (names or indices, one or a
    list) that have the attribute; or attribute, a CelebA column (with celeba=ROOT).
    The first `faces` images, moved by each factor times the vector, are decoded into
    out/attribute.png; out/attribute.json holds the vector and the running
    means' table, which verbose=1 prints as it is made. sample=False averages
    z_mean instead of z drawn from q(z|x). The images are read and encoded one
    batch at a time (memory does not grow with limit). Returns (the AttributeVector,
    the figure's path).
    """
    owner = "attribute"
    if (attribute is None) == (positive is None):
        raise InputError("give the attribute one way: --positive CLASS ... (Fashion-MNIST "
                         "classes) or --attribute NAME (a CelebA column, with --celeba ROOT)")
    if positive is not None:
        positive = _positive_names(positive)
    elif not isinstance(attribute, str):
        raise InputTypeError(f"{owner}: attribute must be a CelebA column's name (a str, e.g. "
                             f"'Blond_Hair'), got {attribute!r} of type "
                             f"{type(attribute).__name__}")
    if attribute is not None and not celeba:
        raise InputError(f"--attribute {attribute} names a CelebA column; pass --celeba ROOT "
                         f"too, or use --positive CLASS ... for Fashion-MNIST")
    factors = _check_factors(factors)
    limit, batch_size, max_positive, faces = _check_counts(
        owner, limit=limit, batch_size=batch_size, max_positive=max_positive, faces=faces)
    check_real(tolerance, "tolerance", owner, minimum=0)
    check_seed(seed, "seed", owner)
    model = _load_model(checkpoint, limit, memory_budget, image_shape=image_shape)
    images, labels, classes, where = _chapter_data(model, checkpoint, limit, split, celeba,
                                                   seed, attribute, data, data_dir, image_size,
                                                   verify)
    if positive is not None:
        if labels is None or classes is None:
            raise InputError(f"--positive names classes, and {where} has no labels: use it with "
                             f"labelled data (fashion-mnist, mnist, sample), or --attribute NAME "
                             f"with --celeba")
        chosen = _positive_classes(positive, classes)
        name = " + ".join(classes[c] for c in chosen)
        labels = np.isin(labels, chosen)
    else:
        name, labels = attribute, labels == 1
    with_it = int(labels.sum())
    if not 0 < with_it < len(labels):
        label = "--positive" if positive is not None else "--attribute"
        raise InputError(f"{label} {name}: {with_it} of the {len(labels)} images of {where} "
                         f"have it; the attribute's direction needs images with it and "
                         f"without it (another {label}, or a larger --limit)")
    if verbose:
        print(f"label: {name} ({int(labels.sum())} of {len(labels)} images of {where})")
        print(f"{'with':>7} {'without':>8} {'move +':>8} {'move -':>8} {'distance':>9} "
              f"{'change':>8}")
    rng = np.random.default_rng(seed)
    found = attributes.attribute_vector(
        model, _shuffled_batches(images, labels, batch_size, rng), batch_size=batch_size,
        tolerance=tolerance, max_positive=max_positive, sample=sample, rng=rng,
        callback=_print_row if verbose else None)
    shown = images[:faces]
    decoded, _ = attributes.add_vector(model, shown, found.vector, factors)
    os.makedirs(out, exist_ok=True)
    state = "converged" if found.converged else "not converged"
    figure = plotting.plot_attribute_arithmetic(
        model.as_images(to_float(shown)),
        decoded.reshape(*decoded.shape[:2], *model.image_shape), factors,
        os.path.join(out, "attribute.png"),
        title=f"z + factor x the '{name}' vector ({state} after {found.n_positive} images "
              f"with it, {found.n_negative} without)")
    write_json(os.path.join(out, "attribute.json"), {
        "label": name, "data": where, "converged": found.converged,
        "n_positive": found.n_positive, "n_negative": found.n_negative,
        "distance": found.distance, "tolerance": tolerance, "max_positive": max_positive,
        "sampled_z": sample, "vector": found.vector.tolist(),
        "difference": found.difference.tolist(),
        # the first batch's move is infinite by definition: JSON null, not a non-JSON token
        "history": [{k: (v if not isinstance(v, float) or np.isfinite(v) else None)
                     for k, v in row.items()} for row in found.history]})
    return found, figure


def morph(checkpoint, out="morph.png", index_a=0, index_b=1, steps=11, split="test",
          celeba=None, seed=0, data=None, data_dir=None, image_size=None, verify=True,
          memory_budget=DEFAULT_BUDGET, image_shape=None):
    """The straight path between two images' codes (z_mean for a VAE), decoded for
    alpha = 0, ..., 1 between the two originals (attributes.morph); returns the
    figure's path."""
    owner = "morph"
    index_a, index_b = _check_path(index_a, index_b, steps, owner, "alpha 0 and 1")
    check_seed(seed, "seed", owner)
    for flag, index in (("--index-a", index_a), ("--index-b", index_b)):
        if index < 0:
            raise InputError(f"{flag} must be an image index >= 0, got {index}")
    model = _load_model(checkpoint, steps, memory_budget, image_shape=image_shape)
    # Read only as far as the later index, and then only the two images.
    limit = max(index_a, index_b) + 1
    images, labels, classes, where = _chapter_data(model, checkpoint, limit, split, celeba,
                                                   seed, None, data, data_dir, image_size,
                                                   verify)
    for flag, index in (("--index-a", index_a), ("--index-b", index_b)):
        if index >= len(images):
            raise InputError(f"{flag} must lie in [0, {len(images) - 1}] for {where}, got "
                             f"{index}")
    pair = to_float(images[[index_a, index_b]])
    alphas = np.linspace(0.0, 1.0, steps)
    decoded, _ = attributes.morph(model, pair[0], pair[1], alphas)
    named = [f" ({classes[labels[i]]})" if classes else "" for i in (index_a, index_b)]
    title = (f"(1 - α) z_A + α z_B: A = image {index_a}{named[0]}, "
             f"B = image {index_b}{named[1]}")
    return plotting.plot_morph(model.as_images(decoded), alphas, out,
                               originals=model.as_images(pair), title=title)


__all__ = ["write_figures", "sample", "reconstruct", "interpolate", "embedding", "attribute",
           "morph", "MAX_FIGURE_IMAGES", "MAX_CODES", "STREAM_BATCH"]
