"""The training loop: batches, epochs, metrics, progress (docs/training.md).

Reads like the book's `fit`: for each epoch, shuffle, run `train_step` on each
batch, average the metrics, evaluate on the validation data, report, call the
callbacks. Models supply `train_step(x)` and `test_step(x)` returning a dict of
scalar metrics; everything else is here.
"""

import math
import sys
import time

import numpy as np

from ._malloc import release_freed_memory, reuse_freed_memory
from ._validation import (check_choice, check_finite, check_nonnegative_int,
                          check_positive_int)


class TrainingDiverged(RuntimeError):
    """A loss or gradient became NaN or infinite; nothing was updated by that batch."""


class History:
    """Keras's History: `history` maps metric name -> per-epoch list; `epoch` the indices."""

    def __init__(self, history=None, epoch=None):
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self.epoch = list(epoch or [])

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, metrics={sorted(self.history)})"


def to_batch(x, dtype):
    """A batch in the model's dtype: uint8 pixels are read as x / 255 (kept as uint8
    until here so a whole dataset need not sit in memory as floats)."""
    if x.dtype == np.uint8:
        return np.multiply(x, dtype.type(1 / 255), dtype=dtype)
    return x.astype(dtype, copy=False)


def check_images(x, name, input_shape, owner):
    """Validate a whole dataset once at the public boundary."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{owner}: {name} must be float images in [0, 1] or uint8 pixels, "
                        f"got dtype {x.dtype}")
    if x.ndim != len(input_shape) + 1 or x.shape[1:] != tuple(input_shape):
        raise ValueError(f"{owner}: {name} must have shape (N, {', '.join(map(str, input_shape))})"
                         f" for this architecture, got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{owner}: {name} must hold at least one image, got shape {x.shape}")
    if x.dtype != np.uint8:
        check_finite(x, name, owner)
    return x


class Progress:
    """A Keras-style progress line: live on a terminal, one line per epoch otherwise."""

    def __init__(self, steps, epoch, epochs, verbose, stream=None):
        self.stream = stream or sys.stdout
        self.live = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()
        self.verbose, self.steps, self.start = verbose, steps, time.perf_counter()
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}", file=self.stream, flush=True)

    @staticmethod
    def _fmt(logs):
        return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())

    def update(self, step, logs):
        if not self.live:
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / step * (self.steps - step)
        bar = "=" * int(20 * step / self.steps)
        # \x1b[K clears what a longer previous line left to the right of this one
        print(f"\r{step}/{self.steps} [{bar:<20}] {elapsed:.0f}s ETA {eta:.0f}s - "
              f"{self._fmt(logs)}\x1b[K", end="", file=self.stream, flush=True)

    def close(self, logs):
        if not self.verbose:
            return
        elapsed = time.perf_counter() - self.start
        per_step = 1000 * elapsed / self.steps
        prefix, suffix = ("\r", "\x1b[K") if self.live else ("", "")
        print(f"{prefix}{self.steps}/{self.steps} - {elapsed:.1f}s {per_step:.0f}ms/step - "
              f"{self._fmt(logs)}{suffix}", file=self.stream, flush=True)


def _check_finite_step(metrics, grads, epoch, batch):
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    bad += [k for k, g in grads.items() if not np.all(np.isfinite(g))]
    if bad:
        raise TrainingDiverged(
            f"training diverged at epoch {epoch + 1}, batch {batch + 1}: non-finite "
            f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}; the parameters were left "
            f"as they were before this batch (lower the learning rate, or check the data)")


def batches(n, batch_size, rng=None):
    """Index arrays covering range(n) in batches; shuffled when rng is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def run_epoch(model, x, batch_size, rng, epoch, progress):
    """One pass over x: train_step per batch; returns the mean of each metric
    over batches (Keras's running mean weighs every batch alike)."""
    sums = {}
    index = batches(len(x), batch_size, rng)
    for b, idx in enumerate(index):
        # The forward pass moves state (BatchNormalization's moving statistics) before the
        # check below can refuse the batch; a copy lets a refused batch leave no trace.
        state = {k: v.copy() for k, v in model.named_state().items()}
        # No overflow warnings from numpy: the check below reports a non-finite loss or
        # gradient itself, naming the epoch and batch, which a warning would not.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            metrics = model.compute_gradients(to_batch(x[idx], model.dtype))
        try:
            _check_finite_step(metrics, model.named_grads(), epoch, b)
        except TrainingDiverged:
            for k, v in model.named_state().items():
                v[...] = state[k]
            raise
        model.optimizer.apply_gradients(model.named_params(), model.named_grads())
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + v
        progress.update(b + 1, {k: v / (b + 1) for k, v in sums.items()})
    return {k: v / len(index) for k, v in sums.items()}


def evaluate(model, x, batch_size=100):
    """Mean of each test metric over batches of x (no shuffling, no updates)."""
    sums, index = {}, batches(len(x), batch_size)
    for idx in index:
        for k, v in model.test_step(to_batch(x[idx], model.dtype)).items():
            sums[k] = sums.get(k, 0.0) + v
    return {k: v / len(index) for k, v in sums.items()}


def _check_callbacks(callbacks, owner):
    """A list of callables, checked before the first epoch rather than after it."""
    if callable(callbacks) or isinstance(callbacks, (str, bytes)):
        raise TypeError(f"{owner}: callbacks must be a list of callables, got a single "
                        f"{type(callbacks).__name__}; wrap it as [callback]")
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError(f"{owner}: callbacks must be a list of callables cb(model, epoch, "
                        f"logs, history), got {type(callbacks).__name__}") from None
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"{owner}: callbacks[{i}] must be callable as "
                            f"cb(model, epoch, logs, history), got {type(callback).__name__}")
    return callbacks


def fit(model, x, epochs=1, batch_size=100, validation_data=None, shuffle=True,
        initial_epoch=0, verbose=1, callbacks=(), history=None):
    """Train `model` on x for epochs [initial_epoch, epochs). Returns a History.

    callbacks: callables cb(model, epoch, logs, history) run after each epoch
    (a checkpoint writer, say); they see the History including that epoch.
    """
    owner = type(model).__name__ + ".fit"
    if model.optimizer is None:
        raise RuntimeError(f"{owner}: call compile(optimizer) first, e.g. "
                           f"model.compile(Adam(learning_rate=5e-4))")
    epochs = check_positive_int(epochs, "epochs", owner)
    batch_size = check_positive_int(batch_size, "batch_size", owner)
    reuse_freed_memory()            # each step's buffers reused, not faulted in again (_malloc)
    initial_epoch = check_nonnegative_int(initial_epoch, "initial_epoch", owner)
    if initial_epoch > epochs:
        raise ValueError(f"{owner}: initial_epoch must lie in [0, epochs={epochs}], "
                         f"got {initial_epoch}")
    verbose = check_choice(verbose, "verbose", (0, 1, 2), owner)
    callbacks = _check_callbacks(callbacks, owner)
    if history is not None and not isinstance(history, History):
        raise TypeError(f"{owner}: history must be a minivae.training.History to append to "
                        f"(or None), got {type(history).__name__}")
    x = check_images(x, "x", model.input_shape, owner)
    if validation_data is not None:
        if isinstance(validation_data, tuple):
            validation_data = validation_data[0]
        validation_data = check_images(validation_data, "validation_data", model.input_shape,
                                       owner)
    history = history if history is not None else History()
    steps = math.ceil(len(x) / batch_size)
    try:
        for epoch in range(initial_epoch, epochs):
            progress = Progress(steps, epoch, epochs, verbose)
            logs = run_epoch(model, x, batch_size, model.rng if shuffle else None, epoch,
                             progress)
            if validation_data is not None:
                logs.update({"val_" + k: v for k, v in
                             evaluate(model, validation_data, batch_size).items()})
            progress.close(logs)
            history.append(epoch, logs)
            for callback in callbacks:
                callback(model, epoch, logs, history)
    finally:
        release_freed_memory()      # training's buffers go back to the kernel (_malloc)
    return history
