"""Two cores for the work numpy and BLAS would leave on one.

Batch-parallel memory passes. BLAS runs the GEMMs on every core, but numpy's
elementwise passes (col2im's scatter-adds, im2col's gather, padding, ReLU masks)
run on one. They are independent per image, and numpy releases the GIL inside its
loops, so `over_batch(fn, n)` calls fn(slice) on contiguous batch chunks from a
small thread pool. Every chunk writes only its own slice, so the result is
bit-identical for any number of threads.

Data parallelism. A training step can go further: `batch_chunks` splits the batch
into DATA_PARALLEL_CHUNKS fixed parts, and `run_each` runs each part's whole
forward and backward on its own thread, through a replica of the model, with BLAS
held to one thread (models._Model.compute_gradients, blas.single_threaded). Then
every pass and every GEMM uses both cores, and no BLAS thread spins while numpy
works: measured on the book's step, 54 ms against 71. Inside the parts over_batch
runs inline. The split is fixed, so results do not depend on the thread count.

MINIVAE_THREADS sets the number of threads (default: the machine's cores, at most
8; 1 runs everything on the calling thread, in the same order).
"""

import contextvars
import os
from concurrent.futures import ThreadPoolExecutor, wait

from ._malloc import share_one_arena

_pool = None           # created on first use; holds no data and never changes a result
_MIN_CHUNK = 8         # smaller batches are not worth a hand-off to another thread


def threads():
    """The number of chunks a batch is split into (MINIVAE_THREADS or the core count)."""
    text = os.environ.get("MINIVAE_THREADS")
    if text:
        try:
            return max(1, int(text))
        except ValueError:
            raise ValueError(f"MINIVAE_THREADS must be a positive integer, got {text!r}") \
                from None
    return max(1, min(os.cpu_count() or 1, 8))


def _executor(k):
    global _pool
    if _pool is None or _pool._max_workers < k:
        share_one_arena()                   # before any pool thread allocates (_malloc)
        _pool = ThreadPoolExecutor(max_workers=k, thread_name_prefix="minivae")
    return _pool


def _in_callers_context():
    """Runs a call in a copy of the calling thread's context: numpy's errstate (a
    context variable) then holds in the pool's threads as it does in the caller's."""
    return contextvars.copy_context().run


def over_batch(fn, n):
    """Call fn(slice) for contiguous chunks covering range(n), in parallel; returns None.

    Inside run_each's parts every thread is busy already: fn runs inline.
    """
    k = 1 if _inline else min(threads(), n // _MIN_CHUNK)
    if k <= 1:
        fn(slice(0, n))
        return
    pool = _executor(k)
    bounds = [n * i // k for i in range(k + 1)]
    futures = [pool.submit(_in_callers_context(), fn, slice(bounds[i], bounds[i + 1]))
               for i in range(1, k)]
    fn(slice(bounds[0], bounds[1]))        # the calling thread takes the first chunk
    for future in futures:
        future.result()


# Data parallelism: a batch split into DATA_PARALLEL_CHUNKS fixed parts, each run whole
# (forward and backward) by its own replica of the model on its own thread, with
# single-threaded BLAS (minivae.blas.single_threaded); models.py combines the parts.
# The split does not depend on the thread count, so neither do the results: with one
# thread the parts run one after the other, with the same arithmetic.
DATA_PARALLEL_CHUNKS = 2
_inline = False


def batch_chunks(n):
    """The fixed split of a batch of n: DATA_PARALLEL_CHUNKS contiguous slices, or None
    when the batch is too small to be worth splitting."""
    k = DATA_PARALLEL_CHUNKS
    if n < k * _MIN_CHUNK:
        return None
    bounds = [n * i // k for i in range(k + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(k)]


def run_each(fns):
    """Call every fn(), the first on the calling thread and the others on the pool (all
    in turn on the calling thread when threads() is 1), with over_batch inline; returns
    their results in order."""
    global _inline
    _inline = True
    try:
        k = min(threads(), len(fns))
        if k <= 1:
            return [fn() for fn in fns]
        pool = _executor(k)
        futures = [pool.submit(_in_callers_context(), fn) for fn in fns[1:]]
        try:
            first = fns[0]()
        finally:
            wait(futures)                   # never leave a part running past this call
        return [first] + [future.result() for future in futures]
    finally:
        _inline = False
