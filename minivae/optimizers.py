"""Adam and SGD with the update rules of Keras 3 (docs/optimizers.md).

An optimizer updates a dict of parameter arrays in place from a dict of
gradients with the same keys and shapes:

    opt.apply_gradients(params, grads)      # params[name] -= step, for every name

Per-parameter state ("slots": Adam's m and v, SGD's velocity) is keyed by the
parameter's name and created on first use as zeros of the parameter's shape and
dtype. `iterations` counts the calls. get_state() / set_state() save and
restore all of it, so a resumed run continues bit for bit; get_config() and
from_config() rebuild the optimizer itself.

Updates run in the parameter's dtype: scalars such as Adam's step size are
Python floats, which NumPy casts to the array's dtype (float32 stays float32).
"""

import inspect
import math
import numbers
from collections.abc import Mapping

import numpy as np

from ._validation import check_float_array, check_probability
from .errors import InputError, InputTypeError


def _check_positive(value, name, owner):
    """Return float(value) if it is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{owner}: {name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


class Optimizer:
    """Bookkeeping shared by Adam and SGD: validation, slots, state, config."""

    def __init__(self, learning_rate):
        self.learning_rate = _check_positive(learning_rate, "learning_rate", type(self).__name__)
        self.iterations = 0
        self._slots = {}                        # slot name -> {parameter name -> array}

    @property
    def slot_names(self):
        """Names of the per-parameter state arrays, e.g. ("m", "v")."""
        return ()

    # -- updating -----------------------------------------------------------
    def apply_gradients(self, params, grads):
        """Update every params[name] in place from grads[name]; iterations += 1.

        params: dict name -> float ndarray, updated in place.
        grads:  dict name -> gradient of the loss, same keys and shapes (cast to
                the parameter's dtype, as Keras does).
        Everything is checked before anything is updated.
        """
        triples = self._check(params, grads)
        t = self.iterations + 1                 # the step being taken, 1-based as in Keras
        for name, p, g in triples:
            self._update(name, p, g, t)
        self.iterations = t

    def _check(self, params, grads):
        owner = f"{self}.apply_gradients"
        for value, what in ((params, "params"), (grads, "grads")):
            if not isinstance(value, Mapping):
                raise InputTypeError(f"{owner}: {what} must be a dict of name -> array, "
                                     f"got {type(value).__name__}")
        missing = [k for k in params if k not in grads]
        if missing:
            raise InputError(f"{owner}: no gradient for parameter(s) {missing}; "
                             f"grads has {sorted(grads)}")
        unknown = [k for k in grads if k not in params]
        if unknown:
            raise InputError(f"{owner}: gradient(s) {unknown} match no parameter; "
                             f"params has {sorted(params)}")
        triples = []
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise InputTypeError(f"{owner}: parameter {name!r} must be a floating-point "
                                     f"ndarray (it is updated in place), got "
                                     f"{getattr(p, 'dtype', type(p).__name__)}")
            if not p.flags.writeable:
                raise InputError(f"{owner}: parameter {name!r} is read-only; it is updated "
                                 f"in place")
            g = check_float_array(grads[name], f"grads[{name!r}]", owner)
            if g.shape != p.shape:
                raise InputError(f"{owner}: gradient for {name!r} has shape {g.shape}, "
                                 f"expected the parameter's shape {p.shape}")
            for slot in self.slot_names:
                s = self._slots.get(slot, {}).get(name)
                if s is not None and (s.shape != p.shape or s.dtype != p.dtype):
                    raise InputError(f"{owner}: state {slot}/{name} is {s.dtype} {s.shape}, "
                                     f"but the parameter is {p.dtype} {p.shape}; was the "
                                     f"state restored from a different model?")
            triples.append((name, p, g.astype(p.dtype, copy=False)))
        return triples

    def _slot(self, slot, name, p):
        """The state array `slot` of parameter `name`, created as zeros on first use."""
        store = self._slots.setdefault(slot, {})
        if name not in store:
            store[name] = np.zeros_like(p)
        return store[name]

    def _update(self, name, p, g, t):
        raise NotImplementedError

    # -- saving and restoring -------------------------------------------------
    def get_config(self):
        """JSON-friendly hyperparameters with "class_name"; from_config rebuilds from it."""
        return {"class_name": type(self).__name__, "learning_rate": self.learning_rate}

    def get_state(self):
        """Copies of everything that changes while training.

        {"iterations": int64 array (0-d), "<slot>/<param name>": array, ...}
        """
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for slot in self.slot_names:
            for name, value in self._slots.get(slot, {}).items():
                state[f"{slot}/{name}"] = value.copy()
        return state

    def set_state(self, state):
        """Restore what get_state returned (replacing any current state)."""
        owner = f"{self}.set_state"
        if not isinstance(state, Mapping):
            raise InputTypeError(f"{owner}: state must be a dict, got {type(state).__name__}")
        if "iterations" not in state:
            raise InputError(f"{owner}: state has no 'iterations' entry; got keys {sorted(state)}")
        iterations = np.asarray(state["iterations"])
        if iterations.ndim != 0 or not np.issubdtype(iterations.dtype, np.integer) \
                or iterations < 0:
            raise InputError(f"{owner}: state['iterations'] must be an integer >= 0, "
                             f"got {state['iterations']!r}")
        slots = {slot: {} for slot in self.slot_names}
        for key, value in state.items():
            if key == "iterations":
                continue
            slot, _, name = key.partition("/")
            if slot not in slots or not name:
                expected = ", ".join(f"'{s}/<param name>'" for s in self.slot_names)
                raise InputError(f"{owner}: unexpected state entry {key!r}; expected "
                                 f"'iterations'{', ' + expected if expected else ''}")
            slots[slot][name] = check_float_array(value, f"state[{key!r}]", owner).copy()
        names = [set(store) for store in slots.values()]
        if any(n != names[0] for n in names):
            raise InputError(f"{owner}: every parameter needs all of the slots "
                             f"{list(self.slot_names)}; got {sorted(state)}")
        self.iterations = int(iterations)
        self._slots = slots

    def __repr__(self):
        return type(self).__name__


class Adam(Optimizer):
    """Adam as in Keras 3 (Kingma & Ba with the bias correction folded into the step).

    At step t = iterations + 1, for each parameter p with gradient g:

        m     <- m + (1 - beta_1) (g - m)          (= beta_1 m + (1 - beta_1) g)
        v     <- v + (1 - beta_2) (g^2 - v)        (= beta_2 v + (1 - beta_2) g^2)
        alpha  = learning_rate sqrt(1 - beta_2^t) / (1 - beta_1^t)
        p     <- p - alpha m / (sqrt(v) + epsilon)

    Slots "m" and "v" (Keras: momentums, velocities), shaped like p.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = check_probability(beta_1, "beta_1", "Adam")
        self.beta_2 = check_probability(beta_2, "beta_2", "Adam")
        self.epsilon = _check_positive(epsilon, "epsilon", "Adam")

    @property
    def slot_names(self):
        return ("m", "v")

    def _update(self, name, p, g, t):
        m, v = self._slot("m", name, p), self._slot("v", name, p)
        # a Python float: cast to p's dtype when it meets the arrays, no float64 temporaries
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        d = g - m                               # one scratch array, reused for every line
        d *= 1 - self.beta_1
        m += d
        np.square(g, out=d)
        d -= v
        d *= 1 - self.beta_2
        v += d
        np.sqrt(v, out=d)
        d += self.epsilon
        np.divide(m, d, out=d)
        d *= alpha
        p -= d

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class SGD(Optimizer):
    """Gradient descent with (optional) momentum, in Keras's form.

        momentum == 0:  p <- p - learning_rate g
        momentum  > 0:  velocity <- momentum velocity - learning_rate g;  p <- p + velocity

    Slot "velocity" (only when momentum > 0), shaped like p.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0):
        super().__init__(learning_rate)
        self.momentum = check_probability(momentum, "momentum", "SGD", include_one=True)

    @property
    def slot_names(self):
        return ("velocity",) if self.momentum > 0 else ()

    def _update(self, name, p, g, t):
        step = g * self.learning_rate
        if self.momentum == 0:
            p -= step
            return
        velocity = self._slot("velocity", name, p)
        velocity *= self.momentum
        velocity -= step
        p += velocity

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


OPTIMIZERS = {"Adam": Adam, "SGD": SGD}


def from_config(config):
    """Build an optimizer from get_config()'s dict: {"class_name": "Adam", ...}."""
    if not isinstance(config, Mapping):
        raise InputTypeError(f"from_config: config must be a dict, got {type(config).__name__}")
    kwargs = dict(config)
    class_name = kwargs.pop("class_name", None)
    if not isinstance(class_name, str) or class_name not in OPTIMIZERS:
        raise InputError(f"from_config: unknown class_name {class_name!r}; expected one of "
                         f"{', '.join(repr(k) for k in OPTIMIZERS)}")
    cls = OPTIMIZERS[class_name]
    accepted = [k for k in inspect.signature(cls).parameters]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise InputError(f"from_config: {class_name} takes no argument(s) {unknown}; "
                         f"expected some of {accepted}")
    return cls(**kwargs)
