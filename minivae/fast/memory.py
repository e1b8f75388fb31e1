"""glibc's malloc tuned for a training process, only when asked (docs/fast.md, "Memory").

A training step allocates the same few dozen buffers of 1 to 30 MB every step
(im2col columns, activations, their gradients). glibc serves a request above its
mmap threshold with a fresh mmap() and hands it back to the kernel on free, so the
next step faults the same pages in again, each one zero-filled by the kernel: for
the book's VAE at batch 100, about 1,100 page faults and 6-8 ms of system time per
step of 80. Raising the mmap threshold to glibc's ceiling (32 MB on 64-bit) and the
trim threshold beyond reach keeps freed buffers in the heap, where the next step
finds them. One arena for every thread keeps a buffer one thread frees available to
the other: with a batch split between two threads, per-thread arenas each kept a
copy of a half step's buffers (`minivae train` peaked at 401 MB instead of 352).

These are settings of the whole process, so the library never makes them on its
own: `minivae train` calls tune_for_training() (the command line owns its process),
and a user's program may too. Only where malloc finds memory changes, never a value.
"""

import ctypes
import ctypes.util
import functools
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8   # glibc's <malloc.h>
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024                # HEAP_MAX_SIZE / 2 on 64-bit
TRIM_THRESHOLD = 2**31 - 1                           # the largest int: 2 GB of free heap


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


def tune_for_training():
    """Keep freed buffers in the heap and every thread on one arena, for the rest of this
    process. Call it before training starts threads. True if glibc took every setting,
    False where there is no glibc (nothing changes then)."""
    mallopt = _mallopt()
    # mallopt returns 1 on success, 0 when it refuses a value
    return bool(mallopt and mallopt(M_ARENA_MAX, 1) and mallopt(M_MMAP_THRESHOLD,
                                                                 MMAP_THRESHOLD_MAX)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def release_freed_memory():
    """Hand the heap's free pages back to the kernel (glibc's malloc_trim(0)); False
    without glibc or when nothing was returned. After training, what comes next
    (figures, analysis) then starts from the memory in use, not from training's peak."""
    malloc_trim = libc_function("malloc_trim")
    return bool(malloc_trim is not None and malloc_trim(0))
