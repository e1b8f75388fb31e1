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
process keeps its peak after a step instead of returning it between steps.
"""

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3          # glibc's <malloc.h>
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024                # HEAP_MAX_SIZE / 2 on 64-bit
TRIM_THRESHOLD = 2**31 - 1                           # the largest int: 2 GB of free heap

_applied = None


def reuse_freed_memory():
    """Tune glibc's malloc as above, once; True if applied, False where there is no glibc."""
    global _applied
    if _applied is None:
        _applied = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
            except (OSError, AttributeError):        # musl and others: nothing to tune
                return False
            mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
            # mallopt returns 1 on success, 0 when it refuses a value
            _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and \
                bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied
