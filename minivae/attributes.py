"""Latent arithmetic, for any minivae model: attribute vectors, adding them, morphing
(docs/latent.md).

    attribute_vector(model, data, labels)   the book's running-mean algorithm, any binary label
    add_vector(model, images, vector)       decode z + f * vector for a range of factors f
    morph(model, x_a, x_b, alphas)          decode (1 - alpha) z_a + alpha z_b

The faces notebook finds a "Blond_Hair" direction in a VAE's latent space and
moves faces along it; nothing here knows faces: any images, any model with
encode/decode, any label that splits the images in two.
"""

import dataclasses
from collections.abc import Iterable

import numpy as np

from ._validation import (check_finite, check_float_array, check_positive_int, check_real,
                          generator_or_default)
from .errors import InputError, InputTypeError
from .latent import codes, decode_points

BOOK_TOLERANCE = 0.08               # stop when the two means together move less than this
BOOK_MAX_POSITIVE = 10_000          # ... or once this many images with the attribute are in
BOOK_BATCH = 128                    # the faces notebook's batch size
BOOK_FACTORS = (-4, -3, -2, -1, 0, 1, 2, 3, 4)
BOOK_ALPHAS = tuple(np.round(np.linspace(0.0, 1.0, 11), 10))     # 0, 0.1, ..., 1


@dataclasses.dataclass(frozen=True, eq=False)
class AttributeVector:
    """What attribute_vector found.

    vector (d,): the unit direction (mean_positive - mean_negative) / distance.
    difference (d,): mean_positive - mean_negative, before normalising.
    distance: |difference|. n_positive, n_negative: images averaged in each mean.
    converged: True when the stopping rule held; False when max_positive or
    the end of the data stopped the loop first (the vector is then the best
    estimate those images give, still normalised).
    history: one dict per batch, the book's printed table: n_positive,
    n_negative, move_positive, move_negative, distance, change (of distance).
    """

    vector: np.ndarray
    difference: np.ndarray
    mean_positive: np.ndarray
    mean_negative: np.ndarray
    n_positive: int
    n_negative: int
    converged: bool
    history: list = dataclasses.field(repr=False)

    @property
    def distance(self):
        return float(np.linalg.norm(self.difference))

    @property
    def batches(self):
        return len(self.history)


def _binary(labels, where, owner):
    """labels -> bool array: True for the attribute (1 or True), False for -1, 0 or False."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise InputError(f"{owner}: {where} must be one label per image, shape (N,), "
                         f"got shape {y.shape}")
    if y.dtype == bool:
        return y
    if not np.issubdtype(y.dtype, np.number) or not np.isin(y, (-1, 0, 1)).all():
        shown = np.unique(y)[:6] if y.size else y
        raise InputError(f"{owner}: {where} must be binary: 1 (or True) for images with the "
                         f"attribute, -1, 0 (or False) for those without, got values {shown}")
    return y == 1


def _batches(data, labels, batch_size, shuffle, rng, owner):
    """(images, bool labels) per batch: from arrays, or from an iterable of batches."""
    if isinstance(data, np.ndarray):
        if labels is None:
            raise InputError(f"{owner}: labels are required with an array of images; or pass "
                             f"an iterable of (images, labels) batches")
        y = _binary(labels, "labels", owner)
        if len(y) != len(data):
            raise InputError(f"{owner}: labels must be one per image: {len(data)} images but "
                             f"{len(y)} labels")
        order = rng.permutation(len(data)) if shuffle else np.arange(len(data))
        for start in range(0, len(order), batch_size):
            index = np.sort(order[start:start + batch_size])  # sorted: a contiguous read
            yield data[index], y[index]
        return
    if labels is not None:
        raise InputError(f"{owner}: pass labels only with an array of images; an iterable "
                         f"yields (images, labels) batches itself")
    if not isinstance(data, Iterable):
        raise InputTypeError(f"{owner}: data must be an array of images or an iterable of "
                             f"(images, labels) batches, got {type(data).__name__}")
    for i, batch in enumerate(data):
        try:
            images, batch_labels = batch
        except (TypeError, ValueError):
            raise InputTypeError(f"{owner}: batch {i} of data must be a pair (images, labels), "
                                 f"got {type(batch).__name__}") from None
        y = _binary(batch_labels, f"the labels of batch {i}", owner)
        if len(y) != len(images):
            raise InputError(f"{owner}: batch {i} holds {len(images)} images but {len(y)} "
                             f"labels")
        yield images, y


def attribute_vector(model, data, labels=None, batch_size=BOOK_BATCH, tolerance=BOOK_TOLERANCE,
                     max_positive=BOOK_MAX_POSITIVE, sample=True, shuffle=True, rng=None,
                     callback=None):
    """The direction in latent space from images without an attribute to images with it.

    The faces notebook's algorithm (docs/latent.md), for any binary label:
    batch by batch, encode the images (sample=True: z drawn from q(z|x), as the
    book; False: z_mean) and update two running means, m+ over the codes of
    images with the attribute and m- over those without. After each batch the
    means have moved by |m+_new - m+_old| and |m-_new - m-_old|; the loop stops
    when the two moves together fall below `tolerance` (the book's test:
    move+ + move- < 0.08, so each moves less than 0.08), when max_positive images
    with the attribute have been averaged (checked before each batch, as the
    book's `while n_pos < 10000`), or when the data ends. The result is
    (m+ - m-) / |m+ - m-|.

    Two choices differ from the book's code, both to keep the rule honest: a
    mean's first update has no move to measure (the book measures it from
    zero) and a batch without images of one class keeps that class's last
    move (as the book does), so the rule can only hold once both means have
    been updated twice; and the vector is normalised whichever way the loop
    ends (the book returns the raw difference when it hits 10,000 positives).

    data: images (N, H, W, C) with labels (N,), visited in an order drawn from
    rng (shuffle=True) in batches of batch_size; or an iterable of
    (images, labels) batches, visited as it yields them (labels=None).
    Labels: 1 or True for the attribute, -1 (CelebA), 0 or False without.
    callback(row), when given, sees each history row as it is made.
    Returns an AttributeVector.
    """
    owner = "attribute_vector"
    batch_size = check_positive_int(batch_size, "batch_size", owner)
    tolerance = check_real(tolerance, "tolerance", owner, minimum=0)
    max_positive = check_positive_int(max_positive, "max_positive", owner)
    rng = generator_or_default(rng, "rng", owner)
    d = model.latent_dim
    total = {True: np.zeros(d), False: np.zeros(d)}
    count = {True: 0, False: 0}
    mean = {True: None, False: None}
    move = {True: np.inf, False: np.inf}
    history, converged = [], False
    for images, y in _batches(data, labels, batch_size, shuffle, rng, owner):
        if count[True] >= max_positive:
            break
        if len(y) == 0:
            continue
        images = model.check_images(images, owner, "data")    # in this function's name
        z = codes(model, images, sample=sample, rng=rng)
        for side in (True, False):
            z_side = z[y == side]
            if len(z_side) == 0:
                continue                    # this mean did not move: its last move stands
            total[side] += z_side.sum(axis=0)
            count[side] += len(z_side)
            new = total[side] / count[side]
            move[side] = np.inf if mean[side] is None else float(np.linalg.norm(new - mean[side]))
            mean[side] = new
        if mean[True] is None or mean[False] is None:
            continue                        # no difference to report until both exist
        distance = float(np.linalg.norm(mean[True] - mean[False]))
        row = {"n_positive": count[True], "n_negative": count[False],
               "move_positive": move[True], "move_negative": move[False], "distance": distance,
               "change": distance - (history[-1]["distance"] if history else 0.0)}
        history.append(row)
        if callback is not None:
            callback(row)
        if move[True] + move[False] < tolerance:
            converged = True
            break
    if mean[True] is None or mean[False] is None:
        raise InputError(f"{owner}: the data held {count[True]} image(s) with the attribute and "
                         f"{count[False]} without; both kinds are needed for a direction")
    difference = mean[True] - mean[False]
    distance = np.linalg.norm(difference)
    if distance == 0:
        raise InputError(f"{owner}: the two means are equal; the attribute has no direction "
                         f"in this model's latent space")
    return AttributeVector(difference / distance, difference, mean[True], mean[False],
                           count[True], count[False], converged, history)


def _factors(values, name, owner):
    try:
        f = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputTypeError(f"{owner}: {name} must be a list of numbers, got {values!r}") from None
    if f.ndim != 1 or f.size == 0:
        raise InputError(f"{owner}: {name} must be a non-empty list of numbers, got {values!r}")
    return check_finite(f, name, owner)


def add_vector(model, images, vector, factors=BOOK_FACTORS, sample=False, rng=None):
    """Decode each image's code moved along `vector`: z + f * vector for each factor f.

    images (n, H, W, C); vector (d,), e.g. AttributeVector.vector; factors
    (k,), the book's -4 to 4. The code is z_mean for a VAE (sample=True: one
    draw from q(z|x), as the book), so factor 0 gives the reconstruction.
    Returns (decoded (n, k, H, W, C), codes (n, d)).
    """
    owner = "add_vector"
    v = check_finite(check_float_array(vector, "vector", owner, ndim=1), "vector", owner)
    if v.shape != (model.latent_dim,):
        raise InputError(f"{owner}: vector must have shape ({model.latent_dim},), the model's "
                         f"latent size, got {v.shape}")
    f = _factors(factors, "factors", owner)
    z = codes(model, model.check_images(images, owner, "images"), sample=sample, rng=rng)
    moved = z[:, None, :] + f[None, :, None] * v        # (n, k, d)
    decoded = decode_points(model, moved.reshape(-1, z.shape[1]))
    return decoded.reshape(len(z), len(f), *decoded.shape[1:]), z


def morph(model, x_a, x_b, alphas=BOOK_ALPHAS):
    """Decode the straight path between two images' codes: (1 - alpha) z_a + alpha z_b.

    x_a, x_b (H, W, C); alphas (k,), the book's 0, 0.1, ..., 1. The codes are
    z_mean for a VAE and z for an autoencoder, so alpha = 0 and alpha = 1 give
    exactly the two reconstructions. (The book draws z from q(z|x) and stops
    at alpha = 0.9; latent.interpolate offers a spherical path too.)
    Returns (decoded (k, H, W, C), path (k, d)).
    """
    owner = "morph"
    t = _factors(alphas, "alphas", owner)[:, None]
    x_a, x_b = np.asarray(x_a), np.asarray(x_b)
    if x_a.shape != tuple(model.input_shape) or x_b.shape != tuple(model.input_shape):
        raise InputError(f"{owner}: x_a and x_b must each be one image of shape "
                         f"{tuple(model.input_shape)}, got {x_a.shape} and {x_b.shape}")
    z = codes(model, model.check_images(np.stack([x_a, x_b]), owner, "x_a and x_b"))
    path = (1.0 - t) * z[0] + t * z[1]
    return decode_points(model, path), path


__all__ = ["AttributeVector", "attribute_vector", "add_vector", "morph", "BOOK_TOLERANCE",
           "BOOK_MAX_POSITIVE", "BOOK_FACTORS", "BOOK_ALPHAS"]
