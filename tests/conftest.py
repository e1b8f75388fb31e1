"""Shared hypothesis settings and strategies."""

import numpy as np
import pytest
from hypothesis import settings, strategies as st

# Gradient checks run many forwards; wall-clock deadlines would only measure the
# shared machine's load, so they are off. The "ci" profile keeps examples modest.
settings.register_profile("ci", deadline=None, max_examples=30, derandomize=True)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.load_profile("ci")


@st.composite
def conv_cases(draw, max_hw=8):
    """A random convolution configuration: shapes, kernel, strides, padding."""
    padding = draw(st.sampled_from(["valid", "same"]))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lo_h, lo_w = (kh, kw) if padding == "valid" else (1, 1)
    h, w = draw(st.integers(lo_h, max(lo_h, max_hw))), draw(st.integers(lo_w, max(lo_w, max_hw)))
    return dict(batch=draw(st.integers(1, 3)), h=h, w=w, channels=draw(st.integers(1, 3)),
                filters=draw(st.integers(1, 3)), kernel=(kh, kw), strides=(sh, sw),
                padding=padding)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
