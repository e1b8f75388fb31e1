"""Both cores for the memory passes numpy would run on one (docs/fast.md, "Threads").

BLAS runs the GEMMs on every core, but numpy's elementwise passes (im2col's
gather, the scatter-adds, padding, ReLU masks) run on one. They are independent
per image, and numpy releases the GIL inside its loops, so `over_batch(fn, n)`
calls fn(slice) on contiguous batch chunks from a small thread pool. Every chunk
writes only its own slice, so the result is bit-identical for any number of
threads.

DataParallel (data_parallel.py) runs whole functions on the same pool instead,
the parts of a batch split between model replicas. Inside them every thread is
busy already, so over_batch runs inline there: the context variable INLINE, set
in each part's own context, says so.

MINIVAE_THREADS sets the number of threads (default: the cores this process may
run on, so that DataParallel's one part per core all run at once; 1 runs
everything on the calling thread, in the same order). A batch is never cut into
chunks of fewer than MIN_CHUNK examples, which bounds the threads that work.
"""

import contextvars
import os
from concurrent.futures import ThreadPoolExecutor

from ..errors import InputError

MIN_CHUNK = 8           # smaller batches are not worth a hand-off to another thread

INLINE = contextvars.ContextVar("minivae_over_batch_inline", default=False)
_pool = None            # created on first use; holds no data and never changes a result


def cores():
    """The cores this process may run on: its CPU affinity (taskset, a container's
    cpuset) where the system tells it, else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):       # no sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def threads():
    """The number of threads work is split between (MINIVAE_THREADS or cores())."""
    text = os.environ.get("MINIVAE_THREADS")
    if text:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise InputError(f"MINIVAE_THREADS must be a positive integer, got {text!r}")
        return value
    return cores()


def pool(k):
    """The thread pool, with room for k threads."""
    global _pool
    if _pool is None or _pool._max_workers < k:
        _pool = ThreadPoolExecutor(max_workers=k, thread_name_prefix="minivae")
    return _pool


def in_callers_context():
    """Runs a call in a copy of the calling thread's context: numpy's errstate (a
    context variable) then holds in the pool's threads as it does in the caller's."""
    return contextvars.copy_context().run


def over_batch(fn, n):
    """Call fn(slice) for contiguous chunks covering range(n), in parallel; returns None."""
    k = 1 if INLINE.get() else min(threads(), n // MIN_CHUNK)
    if k <= 1:
        fn(slice(0, n))
        return
    executor = pool(k)
    bounds = [n * i // k for i in range(k + 1)]
    futures = [executor.submit(in_callers_context(), fn, slice(bounds[i], bounds[i + 1]))
               for i in range(1, k)]
    fn(slice(bounds[0], bounds[1]))        # the calling thread takes the first chunk
    for future in futures:
        future.result()
