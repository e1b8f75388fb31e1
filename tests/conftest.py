"""Shared hypothesis settings and fixtures (strategies and references: tests/reference.py)."""

import os

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


def hide_real_data(monkeypatch, home):
    """Hide every copy of Fashion-MNIST from this process (the variables are read per
    call): HOME at `home` (no ~/.cache copy), no $MINIVAE_DATA, no /usr/share/datasets."""
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MINIVAE_DATA", raising=False)
    monkeypatch.setenv("MINIVAE_NO_SYSTEM_DATA", "1")


@pytest.fixture
def no_real_data(tmp_path, monkeypatch):
    """The CLI, run in this process, must fall back to the embedded sample."""
    hide_real_data(monkeypatch, tmp_path / "home")


@pytest.fixture(scope="session")
def hermetic_env(tmp_path_factory):
    """Environment for `python -m minivae` subprocesses that must not find real data.

    HOME in tmp (no ~/.cache copy), no $MINIVAE_DATA, and MINIVAE_NO_SYSTEM_DATA=1
    (no /usr/share/datasets copy): such a run trains on the embedded sample whether
    or not this machine has Fashion-MNIST installed. MPLCONFIGDIR keeps matplotlib
    on this process's cache, font list included: in a fresh HOME every subprocess
    would rebuild it, saying so on stderr.
    """
    import matplotlib
    import matplotlib.font_manager      # noqa: F401  builds the font cache now if missing

    env = {k: v for k, v in os.environ.items() if k != "MINIVAE_DATA"}
    env.update(HOME=str(tmp_path_factory.mktemp("home")), MINIVAE_NO_SYSTEM_DATA="1",
               MPLCONFIGDIR=matplotlib.get_cachedir())
    return env
