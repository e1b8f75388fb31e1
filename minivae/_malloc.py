"""Keep freed buffers for the next training step: glibc's malloc, tuned once per process.

A training step allocates the same few dozen buffers of 1 to 30 MB every step
(im2col columns, activations, their gradients). glibc serves a request above its
mmap threshold with a fresh mmap() and hands it back to the kernel on free, so the
next step faults the same pages in again, each one zero-filled by the kernel: for
the book's VAE at batch 100, about 1,100 page faults and 6-8 ms of system time per
step of 80. Raising the mmap threshold to glibc's ceiling (32 MB on 64-bit) and the
trim threshold beyond reach keeps freed buffers in the heap, where the next step
finds them (docs/training.md, "Memory").

Only where malloc finds memory changes, never a value. Peak memory is the same
(the buffers of one step are alive together either way); what changes is that the
process keeps its peak after a step instead of returning it between steps. When fit
ends, release_freed_memory gives it back. share_one_arena keeps minivae's threads on
one arena, so that a buffer one thread frees serves the other.
"""

import ctypes
import ctypes.util
import functools
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8   # glibc's <malloc.h>
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024                # HEAP_MAX_SIZE / 2 on 64-bit
TRIM_THRESHOLD = 2**31 - 1                           # the largest int: 2 GB of free heap

_applied = None


def reuse_freed_memory():
    """Tune glibc's malloc as above, once; True if applied, False where there is no glibc."""
    global _applied
    if _applied is None:
        mallopt = _mallopt()
        # mallopt returns 1 on success, 0 when it refuses a value
        _applied = bool(mallopt and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
                        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied


@functools.lru_cache(maxsize=None)
def libc_function(name):
    """glibc's function `name` (mallopt, malloc_trim), or None: not Linux, or a C library
    without it. The library is found once (find_library runs ldconfig)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def _mallopt():
    """glibc's mallopt(param, value) -> 1 on success, or None (musl's is a stub)."""
    mallopt = libc_function("mallopt")
    if mallopt is not None:
        mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt


def share_one_arena():
    """Every thread allocates from glibc's main arena; called before minivae starts its
    threads (minivae.parallel). By default each thread gets an arena of its own, and
    freed buffers stay in the arena that freed them: with a batch split between two
    threads, each arena kept a copy of a half step's buffers, and `minivae train`
    peaked at 401 MB instead of 352. The buffers are few and large, so one lock costs
    nothing measurable. False where there is no glibc."""
    mallopt = _mallopt()
    return bool(mallopt and mallopt(M_ARENA_MAX, 1))


def release_freed_memory():
    """Hand the heap's free pages back to the kernel (glibc's malloc_trim(0)); False
    without glibc. fit calls it when it ends: what comes after training (figures,
    analysis) then starts from the memory in use, not from training's peak."""
    malloc_trim = libc_function("malloc_trim")
    return bool(_applied and malloc_trim is not None and malloc_trim(0))
