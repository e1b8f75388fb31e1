"""Shared hypothesis settings and fixtures (strategies and references: tests/reference.py)."""

import numpy as np
import pytest
from hypothesis import settings

# Gradient checks run many forwards; wall-clock deadlines would only measure the
# shared machine's load, so they are off. The "ci" profile keeps examples modest.
settings.register_profile("ci", deadline=None, max_examples=30, derandomize=True)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.load_profile("ci")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
