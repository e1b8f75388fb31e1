"""The training loop: batches, epochs, metrics, progress (docs/training.md).

Reads like the book's `fit`: for each epoch, shuffle, run the model's
`train_step` on each batch, average the metrics, evaluate on the validation data
with `test_step`, report, call the callbacks. Models supply `forward_backward(x)`
(the metrics, every gradient filled) and `test_step(x)`, each returning a dict of
scalar metrics; `train_step` here turns the first into an optimizer step, and
everything else is here too.
"""

import math
import sys
import time

import numpy as np

from ._validation import check_choice, check_nonnegative_int, check_positive_int
from .batching import Batches
from .errors import InputError, InputTypeError
from .fast.data_parallel import DataParallel


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
        self.done = step
        if not self.live:
            return
        elapsed = time.perf_counter() - self.start
        if self.steps is None:          # an iterable that does not say how long it is
            where = f"{step}/? {elapsed:.0f}s"
        else:
            eta = elapsed / step * (self.steps - step)
            bar = "=" * int(20 * step / self.steps)
            where = f"{step}/{self.steps} [{bar:<20}] {elapsed:.0f}s ETA {eta:.0f}s"
        # \x1b[K clears what a longer previous line left to the right of this one
        print(f"\r{where} - {self._fmt(logs)}\x1b[K", end="", file=self.stream, flush=True)

    def close(self, logs):
        if not self.verbose:
            return
        steps = self.steps if self.steps is not None else getattr(self, "done", 0)
        elapsed = time.perf_counter() - self.start
        per_step = 1000 * elapsed / max(steps, 1)
        prefix, suffix = ("\r", "\x1b[K") if self.live else ("", "")
        print(f"{prefix}{steps}/{steps} - {elapsed:.1f}s {per_step:.0f}ms/step - "
              f"{self._fmt(logs)}{suffix}", file=self.stream, flush=True)


def _non_finite(metrics, arrays):
    """"non-finite a, b, ..." naming the metrics and arrays that are not finite (at most
    five), or None when all are."""
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    bad += [k for k, v in arrays.items() if not np.all(np.isfinite(v))]
    if not bad:
        return None
    return f"non-finite {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}"


def check_finite_step(metrics, grads):
    """Raise TrainingDiverged naming every non-finite metric or gradient (at most five)."""
    problem = _non_finite(metrics, grads)
    if problem:
        raise TrainingDiverged(problem)


def check_finite_epoch(model, logs, epoch):
    """Before an epoch's results are recorded or saved: every metric (validation's
    included), parameter, state array and optimizer array must be finite."""
    arrays = {**model.named_params(), **model.named_state()}
    state = model.optimizer.get_state() if hasattr(model.optimizer, "get_state") else {}
    arrays.update({f"optimizer/{k}": v for k, v in state.items()})
    problem = _non_finite(logs, arrays)
    if problem:
        raise TrainingDiverged(
            f"training diverged in epoch {epoch + 1}: {problem} at the end of the epoch; "
            f"nothing of this epoch was recorded or saved (lower the learning rate, or check "
            f"the data)")


def train_step(model, x, runner=None):
    """One optimizer step on the batch x; returns the batch's metrics.

    As the book's train_step: the losses and their gradients (runner.forward_backward
    and runner.named_grads, the model's own unless a DataParallel is given), then the
    optimizer. A non-finite loss or gradient raises TrainingDiverged before the
    update, with the parameters, the optimizer and any BatchNormalization statistics
    as they were before this batch.
    """
    runner = model if runner is None else runner
    if model.optimizer is None:
        raise RuntimeError(f"{type(model).__name__}: call compile(optimizer) first")
    # The forward pass moves state (BatchNormalization's moving statistics) before the
    # check below can refuse the batch; a copy lets a refused batch leave no trace.
    state = {k: v.copy() for k, v in model.named_state().items()}
    # No overflow warnings: the check reports a non-finite loss or gradient itself.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        metrics = runner.forward_backward(x)
    grads = runner.named_grads()
    try:
        check_finite_step(metrics, grads)
    except TrainingDiverged:
        for k, v in model.named_state().items():
            v[...] = state[k]
        raise
    model.optimizer.apply_gradients(model.named_params(), grads)
    return metrics


def run_epoch(model, data, rng, epoch, progress, runner=None, check=None):
    """One pass over data (a Batches): model.train_step per batch (train_step above with
    the runner, when one is given); returns the mean of each metric over batches
    (Keras's running mean weighs every batch alike)."""
    sums, b = {}, 0
    for b, x in enumerate(data.epoch(rng, check), 1):
        try:
            metrics = model.train_step(x) if runner is None else train_step(model, x, runner)
        except TrainingDiverged as exc:
            raise TrainingDiverged(
                f"training diverged at epoch {epoch + 1}, batch {b}: {exc}; the parameters "
                f"were left as they were before this batch (lower the learning rate, or check "
                f"the data)") from None
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + v
        progress.update(b, {k: v / b for k, v in sums.items()})
    return {k: v / b for k, v in sums.items()}


def evaluate(model, x, batch_size=100, check=None):
    """Mean of each test metric over batches of x, images in memory or a Batches (no
    shuffling, no updates); check(batch, where) checks each batch read from a source."""
    data = x if isinstance(x, Batches) else Batches(x, batch_size, "evaluate")
    sums, b = {}, 0
    # No overflow warnings: fit checks the results itself and names what is not finite.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for b, batch in enumerate(data.epoch(None, check), 1):
            for k, v in model.test_step(batch).items():
                sums[k] = sums.get(k, 0.0) + v
    return {k: v / b for k, v in sums.items()}


def _check_callbacks(callbacks, owner):
    """A list of callables, checked before the first epoch rather than after it."""
    if callable(callbacks) or isinstance(callbacks, (str, bytes)):
        raise InputTypeError(f"{owner}: callbacks must be a list of callables, got a single "
                             f"{type(callbacks).__name__}; wrap it as [callback]")
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise InputTypeError(f"{owner}: callbacks must be a list of callables cb(model, epoch, "
                             f"logs, history), got {type(callbacks).__name__}") from None
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise InputTypeError(f"{owner}: callbacks[{i}] must be callable as "
                                 f"cb(model, epoch, logs, history), got {type(callback).__name__}")
    return callbacks


def fit(model, x, epochs=1, batch_size=100, validation_data=None, shuffle=True,
        initial_epoch=0, verbose=1, callbacks=(), history=None, data_parallel=True):
    """Train `model` on x for epochs [initial_epoch, epochs). Returns a History.

    x and validation_data: images in memory (N, ...), a Sequence of batches or an
    iterable of batches (minivae/batching.py); batch_size applies to images in memory.

    callbacks: callables cb(model, epoch, logs, history) run after each epoch
    (a checkpoint writer, say); they see the History including that epoch.
    data_parallel (default True): run each step's forward_backward through
    minivae.fast.DataParallel(model), each batch split into one part per core, run on
    threads with every BLAS in the process held to one thread for the duration of the
    step and restored after it (docs/fast.md). A model that cannot be split
    (BatchNormalization, Dropout) and a class that overrides train_step run on the
    whole batch. data_parallel=False runs every step on the whole batch, BLAS left
    as the caller set it.
    """
    owner = type(model).__name__ + ".fit"
    if model.optimizer is None:
        raise RuntimeError(f"{owner}: call compile(optimizer) first, e.g. "
                           f"model.compile(Adam(learning_rate=5e-4))")
    epochs = check_positive_int(epochs, "epochs", owner)
    batch_size = check_positive_int(batch_size, "batch_size", owner)
    initial_epoch = check_nonnegative_int(initial_epoch, "initial_epoch", owner)
    if initial_epoch > epochs:
        raise InputError(f"{owner}: initial_epoch must lie in [0, epochs={epochs}], "
                         f"got {initial_epoch}")
    verbose = check_choice(verbose, "verbose", (0, 1, 2), owner)
    callbacks = _check_callbacks(callbacks, owner)
    if isinstance(history, dict):           # History.history, as a checkpoint keeps it
        history = History(history, range(len(next(iter(history.values()), []))))
    if history is not None and not isinstance(history, History):
        raise InputTypeError(f"{owner}: history must be the History to append to (or its "
                             f"history dict, or None), got {type(history).__name__}")
    data = Batches(x, batch_size, owner)
    if isinstance(validation_data, tuple):
        validation_data = validation_data[0]                # Keras's (x_val, y_val)
    val = None if validation_data is None else \
        Batches(validation_data, batch_size, owner, "validation_data")
    for source in (data, val):
        if source is not None and source.kind == "iterable" and epochs - initial_epoch > 1 \
                and iter(source.data) is source.data:
            raise InputError(f"{owner}: {source.name} is an iterator, which can be read once, "
                             f"and fit runs {epochs - initial_epoch} epochs; pass a Sequence "
                             f"or an object whose __iter__ starts over")
    # As Keras, a model is built from the first data it sees: all of x when it is in
    # memory, checked once, else each batch as it arrives.
    data.check_whole(lambda images: model.check_images(images, owner))

    def check(batch, where):
        return model.check_images(batch, owner, where)

    if val is not None:
        # (a model not built yet, read from a Sequence, builds from these)
        val.check_whole(lambda images: model.check_images(images, owner, "validation_data"))
    history = history if history is not None else History()
    # Model.train_step is train_step above; a class's own train_step runs as written
    own_step = getattr(type(model).train_step, "__qualname__", "") != "Model.train_step"
    runner = DataParallel(model) if data_parallel and not own_step else None
    for epoch in range(initial_epoch, epochs):
        progress = Progress(data.steps(), epoch, epochs, verbose)
        logs = run_epoch(model, data, model.rng if shuffle else None, epoch, progress, runner,
                         check)
        if val is not None:
            logs.update({"val_" + k: v for k, v in evaluate(model, val, check=check).items()})
        progress.close(logs)
        check_finite_epoch(model, logs, epoch)      # before history and any checkpoint
        history.append(epoch, logs)
        for callback in callbacks:
            callback(model, epoch, logs, history)
    return history
