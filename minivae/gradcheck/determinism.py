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
"""

import copy
from contextlib import contextmanager

import numpy as np

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


def differences(f1, f2, g1, g2, magnitude, unit):
    """(a note on f or None, {name: note}) for two runs at the same input."""
    f_note = None
    if abs(f1 - f2) > F_TOLERANCE * unit * max(magnitude, abs(f1)):
        f_note = (f"f is not deterministic: two calls at the same input gave {f1!r} and "
                  f"{f2!r}: noise drawn afresh on each call (fix it: fixed_noise, or pass "
                  f"eps), or state that changes the output")
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
            notes[name] = (f"the gradient changed between two identical backward passes (max "
                           f"difference {diff:.3g}, {diff / max(scale, 1e-300):.3g} of its "
                           f"scale): state that accumulates (+= across calls) or noise that "
                           f"is not fixed")
    return f_note, notes
