"""Batch-parallel memory passes: the second core for numpy's single-threaded loops.

BLAS runs the GEMMs on every core, but numpy's elementwise passes (col2im's
scatter-adds, im2col's gather, padding, ReLU masks) run on one. They are
independent per image, and numpy releases the GIL inside its loops, so
`over_batch(fn, n)` calls fn(slice) on contiguous batch chunks from a small
thread pool. Every chunk writes only its own slice, so the result is
bit-identical for any number of threads. GEMMs are never issued from the pool,
so BLAS threads and these never compete.

MINIVAE_THREADS sets the number of chunks (default: the machine's cores, at
most 8; 1 runs everything inline on the calling thread).
"""

import os
from concurrent.futures import ThreadPoolExecutor

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


def over_batch(fn, n):
    """Call fn(slice) for contiguous chunks covering range(n), in parallel; returns None."""
    global _pool
    k = min(threads(), n // _MIN_CHUNK)
    if k <= 1:
        fn(slice(0, n))
        return
    if _pool is None or _pool._max_workers < k:
        _pool = ThreadPoolExecutor(max_workers=k, thread_name_prefix="minivae")
    bounds = [n * i // k for i in range(k + 1)]
    futures = [_pool.submit(fn, slice(bounds[i], bounds[i + 1])) for i in range(1, k)]
    fn(slice(bounds[0], bounds[1]))        # the calling thread takes the first chunk
    for future in futures:
        future.result()
