"""Checking layers, and the protocol they must follow.

A layer, minivae's or anyone's (a duck-typed class is enough), needs:

    forward(*inputs, training=True) -> y   y an array; `training` may be left out
                                        of the signature. Any noise must be fixed
    backward(dy) -> dx                  dL/dx for L = sum(y * dy) (a tuple, one per
                                        input, for several inputs), or None when the
                                        layer does not compute it; and for every
                                        params[name], grads[name] = dL/dparam
    params  dict name -> float64 array  the trainable arrays, read by forward from
                                        these very arrays, which the check perturbs
                                        in place (optional)
    grads   dict name -> array          same keys and shapes, filled by backward
                                        (assigned, or added to: zeroed before it)
    rng     numpy Generator (optional)  the layer's noise: check_layer replays it
                                        (determinism.fixed_noise) so that every
                                        forward of the check draws the same numbers

Other conventions go through one argument, adapter= (adapters.py): parameters/
gradients dicts, lists, W/dW attributes, gradients returned by backward; and
trainable=[names] where the parameter container also holds state. Everything else
on the layer is state, put back before every forward (state.py). Nothing else (no
dtype, no build) is read. Whole models: models.py.
"""

import inspect
from contextlib import ExitStack, nullcontext

import numpy as np

from ..errors import InputError, InputTypeError
from .adapters import resolve
from .core import DEFAULT_MAX_ENTRIES, run_check
from .determinism import fixed_noise, seeded_global
from .functions import _names, _settings, input_gradients
from .inputs import float64_arrays, projection, real_output, split_inputs
from .state import Snapshot


LAYER_REMEDY = ("give the layer its noise as a numpy Generator in .rng, which check_layer "
                "replays on every forward")


def _forward(layer, training):
    # Looked up at each call: fixed_noise replaces layer.forward for the check.
    try:
        params = inspect.signature(layer.forward).parameters
    except (TypeError, ValueError):
        params = {}
    takes = "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    if takes:
        return lambda *xs: layer.forward(*xs, training=training)
    return lambda *xs: layer.forward(*xs)


def _input_names(layer, count, names, owner):
    """"x" for one input; else forward's parameter names (or inputs[k])."""
    if names is not None or count > 1:
        try:
            params = [p for p in inspect.signature(layer.forward).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                      and p.name != "training"]
        except (TypeError, ValueError):
            params = []
        if names is None and len(params) >= count:
            return [p.name for p in params[:count]]
        return _names(None, count, names, owner)
    return ["x"]


def _param_gradients(result, input_names, access, layer, owner):
    """(input gradients or None, parameter gradients) from backward's result."""
    n_in = len(input_names)
    extra = isinstance(result, (tuple, list)) and access.trainable and \
        len(result) == n_in + len(access.trainable)
    if extra:
        return list(result[:n_in]), dict(zip(access.trainable, result[n_in:]))
    if access.returns and access.trainable:
        raise InputError(f"{owner}: backward returned "
                         f"{len(result) if isinstance(result, (tuple, list)) else 1} value(s); "
                         f"with gradients returned, it must return {n_in} input gradient(s) "
                         f"and then {len(access.trainable)}, one for each of "
                         f"{list(access.trainable)}")
    return result, access.read(layer)


def check_layer(layer, *inputs, dy=None, eps=None, rtol=1e-6, training=True,
                max_entries=DEFAULT_MAX_ENTRIES, rng=None, directions=0, fix_noise=True,
                adapter=None, trainable=None, names=None, global_seed=None):
    """Gradient check of one layer (or a Sequential) at its input(s), following the
    protocol of this module's docstring.

    The scalar checked is L = sum(forward(*inputs) * dy) with dy fixed (N(0, 1) from
    `rng` unless given). Returns a GradCheckReport with each float input ("x" for
    a single one, else forward's parameter names, or `names`) and each trainable
    array. Inputs may have any real dtype and layout (a float64 copy is checked);
    integer and boolean inputs (ids, masks) are passed unperturbed and not
    checked. The trainable arrays must be float64 (minivae layers:
    layer.astype("float64")). eps is the finite-difference step (default 1e-6, or
    1e-3 for a layer computing in float32). fix_noise=False checks the layer's
    noise as it is. adapter and trainable: where the parameters and gradients
    live and which are trained (adapters.py); the rest of the layer is state, put
    back before every forward (state.py). global_seed: re-seed numpy's global
    random state before every forward (determinism.py).
    """
    owner = "check_layer"
    if not inputs:
        raise InputTypeError(f"{owner}: give the layer's input(s) after the layer")
    access = resolve(layer, adapter, trainable, owner)
    params = access.trainable
    float64_arrays(params, "parameter", owner, f"call {layer!r}.astype('float64')"
                   if hasattr(layer, "astype") else "make it a float64 array")
    input_names = _input_names(layer, len(inputs), names, owner)
    arrays, passed, notes = split_inputs(inputs, input_names, owner)
    clash = set(input_names) & set(params)
    if clash:
        raise InputError(f"{owner}: a parameter named {sorted(clash)[0]!r} would clash with "
                         f"the input of that name (pass names=[...] for the inputs)")
    values = [arrays[n] if n in arrays else passed[n] for n in input_names]
    if adapter is None and not params:
        loose = [k for k, v in vars(layer).items() if isinstance(v, np.ndarray)
                 and v.dtype.kind == "f" and not k.startswith("_")] \
            if hasattr(layer, "__dict__") else []
        if loose:
            notes.append(f"no parameters found (no params/grads or parameters/gradients): "
                         f"only the inputs are checked; the layer holds float arrays "
                         f"{', '.join(loose)}: if they are trained, say where their gradients "
                         f"are, adapter='{','.join(loose)}/d{',d'.join(loose)}' or the like")
    if access.state:
        how = (f"{access.grads} holds no gradient for them, trainable=[...] says otherwise; "
               if access.inferred else "")
        notes.append(f"not checked: {', '.join(access.state)} (state, not trainable: {how}"
                     f"put back before every forward)")
    rng = rng if rng is not None else np.random.default_rng(0)
    skip = set()
    with ExitStack() as stack:
        fixed = stack.enter_context(fixed_noise(layer) if fix_noise else nullcontext([]))
        seeded = stack.enter_context(seeded_global(global_seed, owner))
        snapshot = Snapshot(layer, keep=[*params.values(), *arrays.values(), *passed.values()])
        stack.callback(snapshot.restore)
        forward_once = seeded(_forward(layer, training))

        def forward():
            snapshot.restore()
            return real_output(forward_once(*values), owner, "forward")

        y0 = forward()
        dy = projection(dy, y0.shape, rng, owner, "the output's shape")
        unit, step, precision = _settings(y0, eps, rtol, max_entries, directions, owner)
        notes += [precision] if precision else []

        def analytic():
            forward()
            access.zero(layer)
            result, grads = _param_gradients(layer.backward(dy.copy()), input_names, access,
                                             layer, owner)
            missing = [k for k, g in grads.items() if g is None]
            if missing:
                have = [k for k, g in grads.items() if g is not None]
                raise InputError(
                    f"{owner}: no gradient for {missing[0]!r} after backward: it must fill "
                    f"{access.slot(missing[0])} (found {have or 'none'}). If {missing[0]!r} "
                    f"is state, not trained (running statistics), name the trainable arrays: "
                    f"check_layer(..., trainable={have or ['...']}); if the gradients live "
                    f"elsewhere, say where: adapter='parameters/gradients', 'W,b/dW,db', or "
                    f"'params/returns' (minivae.gradcheck.adapters)")
            if result is None or not arrays:
                skip.update(arrays)
                return {**{n: np.zeros_like(v) for n, v in arrays.items()}, **grads}
            return {**input_gradients(result, input_names, arrays, owner, "backward"), **grads}

        if fixed:
            notes.append(f"noise fixed for the check: {', '.join(map(repr, fixed))} replay "
                         f"their Generator on every forward")
        report = run_check(lambda: float(np.sum(forward().astype(np.float64) * dy)), analytic,
                           {**arrays, **params},
                           magnitude=lambda: float(np.sum(np.abs(y0 * dy))), unit=unit,
                           step=step, rtol=rtol, max_entries=max_entries,
                           directions=directions, rng=rng, notes=notes, owner=owner,
                           remedy=LAYER_REMEDY, seeded=global_seed is not None)
    if skip:
        report[:] = [r for r in report if r.name not in skip]
        report.notes.append("backward returned None for dx: the input is not checked")
    return report
