"""DataParallel: each training batch split between model replicas on threads (docs/fast.md).

Threads each running a part of the batch through a replica of the model with
single-threaded BLAS beat one thread with multi-threaded BLAS: every memory pass
then runs on every core too, and no BLAS thread spins while numpy works
(measured on the book's step on 2 cores: 54 ms against 72). numpy's GEMMs
release the GIL, so the threads' products run at once.

    parts     = a fixed split of the batch into P contiguous slices, P = the cores
                this process may run on when the DataParallel is made (at most one
                part per MIN_CHUNK examples)
    eps       = the noise the whole batch would draw (model.draw_eps), sliced per part
    metrics_k = replica_k.forward_backward(x[part_k], eps[part_k]),  grads_k = its named_grads()
    metrics   = sum_k w_k metrics_k,   grads = sum_k w_k grads_k,   w_k = |part_k| / N

Each part's losses are means over its examples, so the weighted sums are the whole
batch's, up to float rounding, and the sums run in the parts' order. The split
depends on P and N only, never on the number of threads that run the parts
(MINIVAE_THREADS), so neither do the results. A replica is a deep copy of the
model that shares its parameter and state dicts (every update reaches it) and
takes its plain settings (beta, a layer's slope) before every step, with grads
and caches of its own. The step runs through the model's public forward_backward,
named_grads and draw_eps (no private method, no borrowed train_step), and
DataParallel offers the same forward_backward and named_grads, so
minivae.training's step runs either one.

A model splits only when its layers allow it: none couples the examples of a
batch (BatchNormalization) and none draws noise of its own except the Sampling
layer, whose eps is drawn for the whole batch first. Otherwise its batches stay
whole, on the model's own forward_backward with BLAS as the caller set it.
Holding BLAS to one thread is a setting of the whole process, so it lasts only
for the parts of each step (threadpoolctl's limit, which restores the previous
settings on the way out, as scikit-learn does); fit uses DataParallel unless
asked not to (data_parallel=False).
"""

import contextvars
import copy
from concurrent.futures import wait

import numpy as np
from threadpoolctl import ThreadpoolController

from ..errors import InputError
from ..layers import Sampling
from .threads import INLINE, MIN_CHUNK, cores, in_callers_context, pool, threads


def leaves(part):
    """Every layer of a model part that holds no other layers, in order, fused
    activations excluded (they have no params)."""
    layers = getattr(part, "layers", None)
    if layers is None:
        return [part]
    return [leaf for layer in layers for leaf in leaves(layer)]


def _inline_call(fn):
    INLINE.set(True)                        # in this part's own context only
    return fn()


def run_each(fns):
    """Call every fn() on at most threads() threads, the calling thread included, with
    over_batch inline inside them; returns their results in order. Thread i runs fns
    i, i + k, i + 2k, ... in turn (all on the calling thread when threads() is 1). No
    call outlives run_each."""
    k = min(threads(), len(fns))

    def run_group(i):
        return [contextvars.copy_context().run(_inline_call, fn) for fn in fns[i::k]]
    if k <= 1:
        return run_group(0)
    futures = [pool(k).submit(in_callers_context(), run_group, i) for i in range(1, k)]
    try:
        first = run_group(0)
    finally:
        wait(futures)
    groups = [first] + [future.result() for future in futures]
    return [groups[i % k][i // k] for i in range(len(fns))]


SETTINGS = (bool, int, float, str, tuple, type(None))


def _settings(source, replica):
    """The plain settings of `source` (numbers, strings, tuples: a VAE's beta, a layer's
    slope) onto its replica, so a change made between steps reaches every part. Arrays,
    caches and objects stay each replica's own."""
    for name, value in vars(source).items():
        if isinstance(value, SETTINGS):
            setattr(replica, name, value)


def _blas_controller():
    """A threadpoolctl controller of this process's BLAS libraries, or None."""
    controller = ThreadpoolController().select(user_api="blas")
    return controller if controller.lib_controllers else None


class DataParallel:
    """The model's forward_backward, each batch run as `parts` parts on threads.

    forward_backward(x) returns the whole batch's metrics and named_grads() its
    gradients, as the model's own do; the model's layers keep their own grads.
    parts: how many parts a batch is split into (default: cores(), the cores this
    process may run on now); it fixes the float rounding of the results, which the
    number of threads never changes.
    """

    def __init__(self, model, parts=None):
        if parts is None:
            parts = cores()
        if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
            raise InputError(f"DataParallel: parts must be a positive integer, got {parts!r}")
        self.model, self.parts = model, parts
        self._replicas = None
        self._grads = {}
        self._blas = _blas_controller()

    def why_whole(self):
        """None when the model's batches can be split, else the reason they are not."""
        model_leaves = leaves(self.model.encoder) + leaves(self.model.decoder)
        for layer in model_leaves:
            if layer.couples_examples:
                return f"{layer} couples the examples of a batch"
            if layer.draws_noise and not isinstance(layer, Sampling):
                return f"{layer} draws noise of its own"
        if self._blas is None:
            return "this process's BLAS cannot be held to one thread (threadpoolctl found none)"
        return None

    def split(self, n):
        """The fixed split of a batch of n into min(parts, n // MIN_CHUNK) contiguous
        slices, or None when the batch stays whole (fewer than two such slices, or see
        why_whole)."""
        k = min(self.parts, n // MIN_CHUNK)
        if k < 2 or self.why_whole() is not None:
            return None
        bounds = [n * i // k for i in range(k + 1)]
        return [slice(bounds[i], bounds[i + 1]) for i in range(k)]

    def _replicas_for(self, k):
        """k replicas sharing the model's params and state dicts, made once (a smaller
        last batch uses the first of them)."""
        if self._replicas is None or len(self._replicas) < k:
            model = self.model
            # deepcopy's memo maps an object to its copy: mapping the arrays and objects
            # every replica must share to themselves keeps them shared (and uncopied).
            shared = [model.rng, model.optimizer]
            for layer in leaves(model.encoder) + leaves(model.decoder):
                shared += [v for v in vars(layer).values() if isinstance(v, np.ndarray)]
                shared += list(layer.params.values()) + list(layer.state.values())
            memo = {id(obj): obj for obj in shared}
            self._replicas = [copy.deepcopy(model, dict(memo)) for _ in range(k)]
        model_leaves = leaves(self.model.encoder) + leaves(self.model.decoder)
        for replica in self._replicas:
            _settings(self.model, replica)      # beta changed between epochs, say
            for layer, twin in zip(model_leaves,
                                   leaves(replica.encoder) + leaves(replica.decoder)):
                twin.params, twin.state = layer.params, layer.state
                _settings(layer, twin)
        return self._replicas[:k]

    def forward_backward(self, x, eps=None):
        """The model's forward_backward on the whole batch, computed in parts; the
        gradients are then named_grads()."""
        model = self.model
        model.build_for(x)                  # as the model's own would, from the first batch
        parts = self.split(len(x))
        if parts is None:
            metrics = model.forward_backward(x, eps)
            self._grads = model.named_grads()
            return metrics
        if eps is None:
            eps = model.draw_eps(len(x))
        replicas = self._replicas_for(len(parts))
        with self._blas.limit(limits=1):
            results = run_each(
                [lambda r=r, s=s: r.forward_backward(x[s], None if eps is None else eps[s])
                 for r, s in zip(replicas, parts)])
        weights = [(s.stop - s.start) / len(x) for s in parts]
        grads = [r.named_grads() for r in replicas]
        self._grads = {}
        for name in grads[0]:
            grad = grads[0][name] * weights[0]
            for twin, w in zip(grads[1:], weights[1:]):
                grad += twin[name] * w
            self._grads[name] = grad
        return {k: sum(w * m[k] for m, w in zip(results, weights)) for k in results[0]}

    def named_grads(self):
        """The gradients of the last forward_backward, keyed as the model's."""
        return self._grads
