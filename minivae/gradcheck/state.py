"""A layer's state, put back before every forward of a check.

A check calls forward thousands of times at the same point (with one entry moved),
and a layer may change itself on each call: running statistics pulled towards the
batch's, a counter, a hidden state carried to the next call, a cache of every
input since the last backward (a list that forward appends to). Then forward is no
longer a function of its inputs and parameters, and backward sees a cache the
check did not intend. So check_layer snapshots the layer before its first forward
and restores the snapshot before every forward, and once more when it ends, which
leaves the layer as it found it.

What is restored: every attribute of the layer, and of the layers it holds (an
attribute, or an item of a list or dict attribute, with a callable `forward`),
that is data: arrays, numbers, strings, lists, tuples and dicts of them. Arrays
and containers are restored in place where they still have their shape, so
views elsewhere (a Sequential's dict, a checkpoint's) see the restored values.
What is left alone: the `keep` arrays (the trainable arrays and inputs the check
perturbs in place, and any array sharing memory with them), callables (the
replayed forward of determinism.fixed_noise), random Generators (fixed_noise
replays them), whatever deepcopy refuses (locks, files, thread pools) and
attributes created after the snapshot (a lazy build would be undone).
"""

import copy
import types

import numpy as np

_MISSING = object()
_SKIP = (np.random.Generator, np.random.RandomState, types.ModuleType, type)


def _is_layer(value):
    return not isinstance(value, type) and callable(getattr(value, "forward", None))


def _is_data(value):
    return not callable(value) and not isinstance(value, _SKIP) and not _is_layer(value)


def _children(attrs):
    """The layers an object holds: as attributes, or one level down in a list or dict."""
    for value in attrs.values():
        items = value.values() if isinstance(value, dict) else \
            value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if _is_layer(item):
                yield item


class Snapshot:
    """The data of `root` and of the layers it holds, as they are now; restore() puts
    it back. `keep`: arrays never copied or written (perturbed in place by the check)."""

    def __init__(self, root, keep=()):
        self.keep = {id(a): a for a in keep}
        self._kept_arrays = [a for a in keep if isinstance(a, np.ndarray)]
        objects, todo = {}, [root]
        while todo:
            obj = todo.pop()
            if id(obj) in objects or not hasattr(obj, "__dict__"):
                continue
            objects[id(obj)] = obj
            todo.extend(_children(vars(obj)))
        # Layers are shared, not copied: each is restored through its own entry.
        self.keep.update({k: v for k, v in objects.items() if v is not root})
        self.saved = [(obj, self._save(obj)) for obj in objects.values()]

    def _save(self, obj):
        saved = {}
        for name, value in vars(obj).items():
            if not _is_data(value):
                continue
            try:
                saved[name] = self._copy(value)
            except Exception:       # a lock, a file, a pool: not data; left alone
                continue
        return saved

    def _copy(self, value):
        # deepcopy's memo maps id -> the copy to use: the kept objects stand for themselves.
        return copy.deepcopy(value, dict(self.keep))

    def _shares_kept_memory(self, array):
        return any(np.may_share_memory(array, k) for k in self._kept_arrays)

    def _restored(self, current, saved):
        if current is saved or id(current) in self.keep:
            return current
        if isinstance(saved, np.ndarray) and isinstance(current, np.ndarray):
            if current.shape == saved.shape and current.dtype == saved.dtype \
                    and current.flags.writeable:
                if not self._shares_kept_memory(current):
                    np.copyto(current, saved)
                return current
        elif isinstance(saved, dict) and isinstance(current, dict):
            for key in [k for k in current if k not in saved]:
                del current[key]
            for key, value in saved.items():
                current[key] = self._restored(current.get(key, _MISSING), value)
            return current
        elif isinstance(saved, list) and isinstance(current, list):
            current[:] = [self._restored(c, s) for c, s in zip(current, saved)] + \
                [self._copy(s) for s in saved[len(current):]]
            return current
        return self._copy(saved)

    def restore(self):
        """Every saved attribute back to its saved value (in place where it can be)."""
        for obj, saved in self.saved:
            attrs = vars(obj)
            for name, value in saved.items():
                current = attrs.get(name, _MISSING)
                restored = self._restored(current, value)
                if restored is not current:
                    setattr(obj, name, restored)
