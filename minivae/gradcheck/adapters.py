"""Where a layer keeps its trainable arrays and their gradients: check_layer's adapter.

A layer's arrays are of three kinds, and the check treats each its own way:

    trainable   perturbed in place; one gradient is expected for each
    gradients   zeroed in place before every backward and read after it, so a
                layer that accumulates (grads += ..., as numpy-ml and torch do)
                is measured one backward at a time
    state       everything else (running statistics, caches, counters): put back
                before every forward (state.py), never checked

`adapter` says where the first two live. The common conventions:

    None                     the layer's own: `params` and `grads` (minivae, most
                             NumPy-from-scratch code), else `parameters` and
                             `gradients` (numpy-ml); dicts matched by name, lists
                             by position (Deep Learning from Scratch 2's
                             params = [W, b], grads = [dW, db])
    "parameters/gradients"   the attribute names of the two containers
    "W,b/dW,db"              arrays held as attributes: W's gradient is dW, b's db
    ".../returns"            backward returns the gradients after the input
                             gradients, in the order of the trainable arrays:
                             backward(dy) -> (dx, dW, db)

A backward that returns more values than the layer has inputs is read as
".../returns" without being told. Which arrays are trainable: the names given as
check_layer(..., trainable=[...]); else the layer's `trainable`, when it is a list
of names (Keras's `trainable = True` is not); else, where the layer already holds
a gradient dict whose keys are some of its parameters (numpy-ml creates one zero
gradient per trainable parameter), those; else every float array of the parameter
container. The others are state, and the report names them. minivae's own layers
keep their state apart (`state`).
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, InputTypeError

RETURNS = "returns"
DEFAULT_CONTAINERS = (("params", "grads"), ("parameters", "gradients"))


@dataclass
class Access:
    """The trainable arrays of one layer and how to reach their gradients."""
    trainable: dict                     # name -> the layer's very array
    state: list = field(default_factory=list)  # container entries that are not trainable
    grads: object = None                # attribute name of the gradient container, or
    grad_attrs: dict = None             # trainable name -> attribute of its gradient
    returns: bool = False               # gradients returned by backward after dx
    keys: dict = field(default_factory=dict)    # name -> its key in the containers
    inferred: bool = False              # trainable told by the gradients' keys

    def slot(self, name):
        """Where the gradient of `name` is read: "grads['W']", "dW" or backward's return."""
        if self.grad_attrs is not None:
            return self.grad_attrs[name]
        if self.grads:
            return f"{self.grads}[{self.keys[name]!r}]"
        return "backward's return value (after the input gradients)"

    def _grad_container(self, layer):
        return getattr(layer, self.grads, None) if self.grads else None

    def read(self, layer):
        """name -> gradient (None where the layer left none), from the containers."""
        if self.grad_attrs is not None:
            return {k: getattr(layer, a, None) for k, a in self.grad_attrs.items()}
        box = self._grad_container(layer)
        out = {}
        for name in self.trainable:
            key = self.keys[name]
            if isinstance(box, dict):
                out[name] = box.get(key)
            elif isinstance(box, (list, tuple)) and isinstance(key, int) and key < len(box):
                out[name] = box[key]
            else:
                out[name] = None
        return out

    def zero(self, layer):
        """Zero, in place, every gradient array the layer already holds."""
        if self.returns and not self.grads and self.grad_attrs is None:
            return
        for g in self.read(layer).values():
            if isinstance(g, np.ndarray) and g.dtype.kind == "f" and g.flags.writeable:
                g.fill(0.0)


def _names(text):
    return [n.strip() for n in text.split(",") if n.strip()]


def _parse(adapter, owner):
    """(params side, grads side) as lists of attribute names, or None for the defaults."""
    if adapter is None:
        return None
    if isinstance(adapter, dict):
        unknown = set(adapter) - {"params", "grads"}
        if unknown or "params" not in adapter:
            raise InputError(f"{owner}: an adapter dict has the keys 'params' and 'grads', got "
                             f"{sorted(adapter)}")
        sides = [adapter["params"], adapter.get("grads", RETURNS)]
        return [_names(s) if isinstance(s, str) else [str(n) for n in s] for s in sides]
    if not isinstance(adapter, str):
        raise InputTypeError(f"{owner}: adapter must be None, a string such as "
                             f"'parameters/gradients' or 'W,b/dW,db', or a dict; got "
                             f"{type(adapter).__name__}")
    parts = adapter.split("/")
    if len(parts) != 2 or not _names(parts[0]) or not _names(parts[1]):
        raise InputError(f"{owner}: adapter {adapter!r} must read 'PARAMS/GRADS': the "
                         f"parameter container's attribute and the gradients' ('params/"
                         f"grads', 'parameters/gradients'), attributes one by one "
                         f"('W,b/dW,db'), or GRADS 'returns' (backward returns them)")
    return [_names(parts[0]), _names(parts[1])]


def _container_items(box, name):
    if isinstance(box, dict):
        return [(str(k), k, v) for k, v in box.items()]
    return [(f"{name}[{i}]", i, v) for i, v in enumerate(box)]


def resolve(layer, adapter, trainable, owner):
    """The Access for `layer` under `adapter` and `trainable` (module docstring)."""
    sides = _parse(adapter, owner)
    if sides is None:
        found = [(p, g) for p, g in DEFAULT_CONTAINERS
                 if isinstance(getattr(layer, p, None), (dict, list, tuple))]
        sides = [[found[0][0]], [found[0][1]]] if found else [[], [RETURNS]]
    params_side, grads_side = sides
    returns = grads_side == [RETURNS]
    if len(params_side) == 1 and isinstance(getattr(layer, params_side[0], None),
                                            (dict, list, tuple)):
        box_name = params_side[0]
        items = _container_items(getattr(layer, box_name), box_name)
        if not returns and len(grads_side) != 1:
            raise InputError(f"{owner}: adapter: the parameters sit in one container, "
                             f"{box_name!r}, so their gradients must too (one name after the "
                             f"'/'), got {grads_side}")
        access = Access({}, grads=None if returns else grads_side[0], returns=returns)
    else:
        if params_side and not returns and len(grads_side) != len(params_side):
            raise InputError(f"{owner}: adapter names {len(params_side)} parameter "
                             f"attributes and {len(grads_side)} gradient attributes; give one "
                             f"gradient per parameter ('W,b/dW,db')")
        missing = [n for n in params_side if not isinstance(getattr(layer, n, None), np.ndarray)]
        if missing:
            raise InputError(f"{owner}: adapter: the layer has no array attribute "
                             f"{', '.join(map(repr, missing))}")
        items = [(n, n, getattr(layer, n)) for n in params_side]
        access = Access({}, returns=returns,
                        grad_attrs=None if returns else dict(zip(params_side, grads_side)))
    floats = [(name, key, v) for name, key, v in items
              if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    chosen = _trainable_names(layer, trainable, [n for n, _, _ in floats], owner)
    if chosen is None:
        chosen = _named_by_gradients(layer, access, floats)
        access.inferred = chosen is not None
    if chosen is None:
        chosen = [n for n, _, _ in floats]
    access.trainable = {n: v for n, _, v in floats if n in chosen}
    access.keys = {n: k for n, k, _ in floats if n in chosen}
    access.state = [n for n, _, _ in items if n not in chosen]
    return access


def _named_by_gradients(layer, access, floats):
    """The trainable names a layer gives by the keys of a gradient dict it already
    holds (numpy-ml creates one zero gradient per trainable parameter), where those
    keys are some, not all, of the parameters; else None."""
    box = access._grad_container(layer) if access.grads else None
    if not isinstance(box, dict) or not box:
        return None
    keys = {str(k) for k in box}
    names = [n for n, _, _ in floats]
    if not keys < set(names):
        return None
    return [n for n in names if n in keys]


def _trainable_names(layer, trainable, available, owner):
    declared = trainable
    if declared is None:
        own = getattr(layer, "trainable", None)
        if isinstance(own, (list, tuple, set, frozenset)) and all(isinstance(n, str)
                                                                 for n in own):
            declared = own
    if declared is None:
        return None
    if isinstance(declared, str):
        declared = [declared]
    unknown = [n for n in declared if n not in available]
    if unknown:
        raise InputError(f"{owner}: trainable names {unknown} are not float arrays of the "
                         f"layer's parameters; it has {available}")
    return list(declared)
