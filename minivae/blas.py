"""Every large matrix product through one BLAS: scipy's gemm, numpy as the fallback.

numpy's and scipy's wheels each bundle their own OpenBLAS, each with a pool of
threads that spin for a while after a product before they sleep. Alternate between
the two and each pool spins on the cores the other needs: measured on the book's
training step, 181 ms instead of 75, with twice the CPU time. So the convolutions
run all their products here, on scipy's BLAS, whose gemm also offers what numpy's
matmul lacks: C = A B + beta C in place, an accumulation without a temporary.
Where numpy and scipy share one BLAS (conda, distribution packages) nothing changes.

Arrays are row-major (C order) and BLAS is column-major: row-major C = A B is
column-major C.T = B.T A.T, so BLAS gets the transposes, which are views. An operand
that is a transposed view (W.T, cols.T) is passed with BLAS's transpose flag
instead, so nothing is copied. Dtypes BLAS lacks (float16) go to numpy.
"""

import ctypes
import os
from contextlib import contextmanager

import numpy as np
from scipy.linalg.blas import get_blas_funcs

_GEMM = {np.dtype(t): get_blas_funcs("gemm", dtype=t) for t in (np.float32, np.float64)}


def _column_major(m):
    """(array for BLAS, transpose flag) giving the column-major matrix m without a copy."""
    if m.flags.f_contiguous:
        return m, 0
    if m.flags.c_contiguous:
        return m.T, 1                       # m.T is column-major; BLAS transposes it back
    return np.asfortranarray(m), 0          # neither: one copy (not on minivae's paths)


def matmul(a, b, out=None, accumulate=False):
    """a @ b for 2-D a (m, k) and b (k, n); into `out` (m, n), C-contiguous, when given.

    accumulate=True adds the product to what `out` holds (BLAS's beta = 1).
    """
    dtype = np.result_type(a, b)
    gemm = None if _numpy_only else _GEMM.get(dtype)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=dtype)
    if gemm is None or a.dtype != dtype or b.dtype != dtype or out.dtype != dtype:
        if accumulate:
            out += a @ b
        else:
            np.matmul(a, b, out=out)
        return out
    if not out.flags.c_contiguous:
        raise ValueError(f"matmul: out must be C-contiguous, got strides {out.strides}")
    # column-major out.T (n, m) = b.T (n, k) @ a.T (k, m)
    first, trans_first = _column_major(b.T)
    second, trans_second = _column_major(a.T)
    result = gemm(1.0, first, second, beta=1.0 if accumulate else 0.0, c=out.T,
                  trans_a=trans_first, trans_b=trans_second, overwrite_c=True)
    if not np.may_share_memory(result, out):        # gemm copied c: never for C-order out
        out[...] = result.T
    return out


# -- single-threaded sections: data parallelism over the batch (minivae.parallel) --
#
# Two threads, each running half the batch through a replica of the model with
# single-threaded GEMMs, beat one thread with two-threaded GEMMs: every memory pass
# then runs on both cores too, and no BLAS thread spins while numpy works. That needs
# GEMMs that release the GIL, which numpy's do and scipy's f2py wrappers do not (two
# threads calling scipy's gemm take turns), and BLAS pools held to one thread, which
# OpenBLAS offers through openblas_set_num_threads. Without OpenBLAS there is no way
# to ask, and the model runs the batch whole.

_numpy_only = False           # inside single_threaded(): products on numpy's BLAS
_SET = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
        "scipy_openblas_set_num_threads")
_GET = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
        "scipy_openblas_get_num_threads")
_controls = None


def _openblas_controls():
    """[(get, set)] for every OpenBLAS loaded in this process (found in /proc/self/maps)."""
    global _controls
    if _controls is None:
        _controls = []
        try:
            with open("/proc/self/maps") as maps:
                paths = sorted({line.split()[-1] for line in maps
                                if "openblas" in os.path.basename(line.split()[-1]).lower()
                                and ".so" in line})
        except (OSError, IndexError):
            paths = []
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            get = next((getattr(lib, n) for n in _GET if hasattr(lib, n)), None)
            set_ = next((getattr(lib, n) for n in _SET if hasattr(lib, n)), None)
            if get is not None and set_ is not None:
                get.restype, set_.argtypes, set_.restype = ctypes.c_int, [ctypes.c_int], None
                _controls.append((get, set_))
    return _controls


def can_run_single_threaded():
    """True when this process's BLAS can be held to one thread (OpenBLAS)."""
    return bool(_openblas_controls())


@contextmanager
def single_threaded():
    """Inside: every BLAS pool at one thread and matmul on numpy's GEMM (which lets
    other threads run). The pools get their previous sizes back on the way out."""
    global _numpy_only
    controls = _openblas_controls()
    before = [get() for get, _ in controls]
    for _, set_ in controls:
        set_(1)
    _numpy_only = True
    try:
        yield
    finally:
        _numpy_only = False
        for (_, set_), n in zip(controls, before):
            set_(n)
