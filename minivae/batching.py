"""What fit reads: a dataset in memory, or batches that arrive one at a time.

`fit` and `evaluate` take any of three kinds of data, as Keras's fit does:

    an array (N, ...) of images     the whole dataset in memory; batches of batch_size,
                                    in a fresh shuffled order each epoch
    a Sequence                      an object with __len__ (the number of batches) and
                                    __getitem__(i) returning batch i, as
                                    keras.utils.Sequence: only one batch is in memory at
                                    a time; shuffle=True visits the batches in a fresh
                                    random order each epoch, and on_epoch_end() is
                                    called after each epoch when it exists
    an iterable of batches          read in the order it gives: an object whose
                                    __iter__ starts over each epoch; a generator can be
                                    read once, so fit refuses it for more than one epoch

A batch is an array of images, or a tuple (x, ...) whose first element is (the
targets of a Keras-style (x, y) pair are not used: an autoencoder's target is
its input). Lists and tuples are arrays of images, as numpy reads them. Anything
else (a dict, a string, a number) is refused before the first batch is read.
"""

import math

import numpy as np

from .errors import InputError, InputTypeError


def _is_array(x):
    return isinstance(x, (np.ndarray, list, tuple))


def _is_sequence(x):
    return hasattr(x, "__len__") and hasattr(x, "__getitem__")


NOT_DATA = (str, bytes, dict, set, frozenset)        # iterable, but never batches


def _batch(item, where, owner):
    """The images of one item a Sequence or iterable gave."""
    if isinstance(item, tuple):
        if not item:
            raise InputError(f"{owner}: {where} is an empty tuple; expected images or (x, ...)")
        item = item[0]
    if not isinstance(item, np.ndarray):
        raise InputTypeError(f"{owner}: {where} must be an array of images (or a tuple whose "
                             f"first element is one), got {type(item).__name__}")
    return item


def batches(n, batch_size, rng=None):
    """Index arrays covering range(n) in batches; shuffled when rng is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


class Batches:
    """Data as fit reads it: epoch(rng) yields its batches, steps() counts them (None
    when an iterable does not say), and check_whole(fn) checks data in memory once
    (epoch's `check` each batch from a source as it arrives)."""

    def __init__(self, data, batch_size, owner, name="x"):
        self.owner, self.name, self.batch_size = owner, name, batch_size
        if _is_array(data):
            try:
                self.kind, self.data = "array", np.asarray(data)
            except ValueError as exc:      # ragged lists: numpy cannot make an array of them
                raise InputTypeError(f"{owner}: {name} must be images (an array (N, ...)): "
                                     f"{exc}") from None
        elif isinstance(data, NOT_DATA):
            self.kind = None
        elif _is_sequence(data):
            self.kind, self.data = "sequence", data
        elif hasattr(data, "__iter__"):
            self.kind, self.data = "iterable", data
        else:
            self.kind = None
        if self.kind is None:
            raise InputTypeError(
                f"{owner}: {name} must be images (an array (N, ...)), a Sequence (__len__ and "
                f"__getitem__ returning batches) or an iterable of batches, got "
                f"{type(data).__name__}")

    def check_whole(self, check):
        """For data in memory: the array checked once by check(x) (which also builds the
        model from it); batches are then slices of what it returns."""
        if self.kind == "array":
            self.data = check(self.data)

    def steps(self):
        """Batches per epoch, or None for an iterable that does not say."""
        if self.kind == "array":
            return math.ceil(len(self.data) / self.batch_size)
        return len(self.data) if hasattr(self.data, "__len__") else None

    def epoch(self, rng=None, check=None):
        """The batches of one epoch; rng shuffles (arrays: the images; Sequences: the
        order of the batches); check(batch, where), when given, checks each batch that
        did not come from memory."""
        if self.kind == "array":
            for index in batches(len(self.data), self.batch_size, rng):
                yield self.data[index]
            return
        if self.kind == "sequence":
            count = len(self.data)
            order = rng.permutation(count) if rng is not None else range(count)
            items = ((f"{self.name}[{i}]", self.data[int(i)]) for i in order)
        else:
            items = ((f"batch {b} of {self.name}", item) for b, item in enumerate(self.data))
        empty = True
        for where, item in items:
            empty = False
            batch = _batch(item, where, self.owner)
            yield batch if check is None else check(batch, where)
        if empty:
            raise InputError(f"{self.owner}: {self.name} gave no batch")
        if self.kind == "sequence" and hasattr(self.data, "on_epoch_end"):
            self.data.on_epoch_end()
