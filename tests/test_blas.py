"""minivae.blas.matmul: numpy's a @ b through scipy's gemm, for every operand layout."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minivae.blas import matmul


def _layouts(m, rng, dtype):
    """The same matrix m as C order, Fortran order and a transposed view."""
    m = m.astype(dtype)
    return {"C": np.ascontiguousarray(m), "F": np.asfortranarray(m),
            "T": np.ascontiguousarray(m.T).T, "strided": np.repeat(m, 2, axis=1)[:, ::2]}


# float32 products of k <= 12 standard-normal terms: a few ulp of the sum, ~1e-6
# relative; float64 ~1e-15. float16 goes through numpy, in float16 arithmetic.
RTOL = {np.float32: 1e-5, np.float64: 1e-12, np.float16: 1e-2}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@given(m=st.integers(1, 9), k=st.integers(1, 12), n=st.integers(1, 9),
       accumulate=st.booleans())
def test_matmul_equals_numpy_for_every_layout(dtype, m, k, n, accumulate):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    start = rng.standard_normal((m, n))
    expected = a @ b + (start if accumulate else 0)
    for a_name, a_in in _layouts(a, rng, dtype).items():
        for b_name, b_in in _layouts(b, rng, dtype).items():
            out = start.astype(dtype)
            result = matmul(a_in, b_in, out=out, accumulate=accumulate)
            assert result is out and out.dtype == dtype
            np.testing.assert_allclose(out, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * 10,
                                       err_msg=f"a {a_name}, b {b_name}")
            fresh = matmul(a_in, b_in)
            np.testing.assert_allclose(fresh, a @ b, rtol=RTOL[dtype], atol=RTOL[dtype] * 10)


def test_matmul_writes_a_row_range_in_place():
    """What the phase form relies on: out a row range of a bigger C-order matrix, the
    rest untouched, nothing copied."""
    rng = np.random.default_rng(0)
    big = np.zeros((10, 4), np.float32)
    a, b = rng.standard_normal((7, 3)).astype(np.float32), rng.standard_normal((3, 4))
    matmul(a, b.astype(np.float32), out=big[2:9])
    matmul(a, b.astype(np.float32), out=big[2:9], accumulate=True)
    np.testing.assert_allclose(big[2:9], 2 * (a @ b), rtol=1e-5)
    assert not big[:2].any() and not big[9:].any()


def test_matmul_refuses_an_output_it_cannot_fill_in_place():
    out = np.zeros((6, 4), np.float32)[:, ::2]
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        matmul(np.ones((6, 2), np.float32), np.ones((2, 2), np.float32), out=out)
