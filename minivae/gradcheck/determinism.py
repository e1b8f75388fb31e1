"""Determinism: a check is only meaningful if f and its gradient are functions.

Every check runs forward and backward twice on the same input, and flags

- f giving two values (noise drawn afresh on each call: a dropout mask, the
  VAE's eps; or state that changes the output), and
- a gradient that changes between two identical backward passes (state that
  accumulates: grads[name] += ... across calls; noise redrawn in backward).

Layers fix their noise for a check through `fixed_noise`: any layer reachable
from the objects given (through .layers, .activation, .encoder, .decoder) that
holds a numpy Generator as `.rng` gets a fresh copy of that Generator, in the
state it had on entry, before each forward. So every forward of the check draws
the same mask or the same eps; a backward that draws its own noise still draws
different numbers, and is caught. On exit every layer gets its own Generator
back, untouched.

A function that draws from numpy's global random state (np.random.rand, .normal,
...) cannot be fixed that way. `global_seed=k` (every check takes it; opt-in,
since it touches process-wide state) re-seeds that state with k before every call
of f or forward and restores it when the check ends (seeded_global). Without it,
the check sees whether f moved the global state and says so, with the remedies
that fit: the advice names what applies to the kind of check (`remedy`).
"""

import copy
from contextlib import contextmanager

import numpy as np

from ..errors import InputError

F_TOLERANCE = 4             # |f1 - f2| allowed, in u * F
GRAD_TOLERANCE = 64         # max |g1 - g2| allowed, in u_a * max |g1|


def _reachable(objects):
    seen, out, todo = set(), [], list(objects)
    while todo:
        obj = todo.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(getattr(obj, "rng", None), np.random.Generator) and \
                callable(getattr(obj, "forward", None)):
            out.append(obj)
        children = getattr(obj, "layers", None)
        if isinstance(children, (list, tuple)):
            todo.extend(children)
        for attr in ("activation", "encoder", "decoder"):
            child = getattr(obj, attr, None)
            if child is not None and callable(getattr(child, "forward", None)):
                todo.append(child)
    return out


@contextmanager
def fixed_noise(*objects):
    """Within the block, every forward of these layers (and of those they hold)
    draws the same noise. Yields the layers it fixed."""
    fixed = []
    for layer in _reachable(objects):
        own = layer.rng
        snapshot = copy.deepcopy(own)
        had_forward = "forward" in vars(layer)
        previous = vars(layer).get("forward")
        forward = layer.forward

        def replay(*args, _layer=layer, _snapshot=snapshot, _forward=forward, **kwargs):
            _layer.rng = copy.deepcopy(_snapshot)
            return _forward(*args, **kwargs)

        layer.forward = replay
        fixed.append((layer, own, had_forward, previous))
    try:
        yield [layer for layer, *_ in fixed]
    finally:
        for layer, own, had_forward, previous in fixed:
            layer.rng = own
            if had_forward:
                layer.forward = previous
            else:
                del layer.forward


@contextmanager
def seeded_global(seed, owner):
    """Yields wrap(fn): fn with numpy's global random state re-seeded with `seed` before
    each call (fn itself when seed is None). The state is restored on exit."""
    if seed is None:
        yield lambda fn: fn
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= seed < 2 ** 32:
        raise InputError(f"{owner}: global_seed must be an integer in [0, 2**32) or None, "
                         f"got {seed!r}")
    saved = np.random.get_state()

    def wrap(fn):
        def seeded(*args, **kwargs):
            np.random.seed(seed)
            return fn(*args, **kwargs)
        return seeded
    try:
        yield wrap
    finally:
        np.random.set_state(saved)


class GlobalWatch:
    """Calls fn, noting whether numpy's global random state moved during any call."""

    def __init__(self, fn):
        self.fn, self.moved = fn, False

    def __call__(self, *args, **kwargs):
        before = np.random.get_state()
        try:
            return self.fn(*args, **kwargs)
        finally:
            after = np.random.get_state()
            self.moved |= after[2:] != before[2:] or not np.array_equal(after[1], before[1])


GLOBAL_ADVICE = ("f draws from numpy's global random state (np.random.rand, np.random."
                 "normal, ...), which moved during the calls: pass global_seed=0 (any "
                 "integer) to re-seed it before every call (the check restores it "
                 "afterwards), or draw the noise from a numpy Generator instead")


def differences(f1, f2, g1, g2, magnitude, unit, remedy="", global_moved=False):
    """(a note on f or None, {name: note}) for two runs at the same input. remedy: the
    advice that fits the kind of check; global_moved: f moved numpy's global state."""
    f_note = None
    if abs(f1 - f2) > F_TOLERANCE * unit * max(magnitude, abs(f1)):
        advice = GLOBAL_ADVICE if global_moved else \
            f"noise drawn afresh on each call ({remedy}), or state that changes the output" \
            if remedy else "noise drawn afresh on each call, or state that changes the output"
        f_note = (f"f is not deterministic: two calls at the same input gave {f1!r} and "
                  f"{f2!r}: {advice}")
    notes = {}
    for name, a in g1.items():
        b = g2[name]
        u = np.finfo(a.dtype).eps if np.issubdtype(a.dtype, np.floating) else unit
        # Compared where both are finite; non-finite entries must sit in the same places
        # with the same values (a NaN there FAILs anyway, result.py).
        both = np.isfinite(a) & np.isfinite(b)
        moved = not np.array_equal(a[~both], b[~both], equal_nan=True)
        scale = float(np.max(np.abs(a[both]), initial=0.0))
        diff = float(np.max(np.abs(a[both] - b[both]), initial=0.0))
        if moved or diff > GRAD_TOLERANCE * u * scale or (scale == 0 and diff > 0):
            twice = float(np.max(np.abs(b[both] - 2 * a[both]), initial=0.0))
            if not moved and scale > 0 and twice <= GRAD_TOLERANCE * u * scale:
                notes[name] = ("the gradient changed between two identical backward passes: "
                               "the second is twice the first, so it accumulates (+= into a "
                               "buffer kept between calls); backward must return this call's "
                               "gradient alone (check_layer zeroes a layer's gradient "
                               "container before each backward, so += there is fine)")
                continue
            notes[name] = (f"the gradient changed between two identical backward passes (max "
                           f"difference {diff:.3g}, {diff / max(scale, 1e-300):.3g} of its "
                           f"scale): state that accumulates (+= across calls) or noise that "
                           f"is not fixed")
    return f_note, notes
