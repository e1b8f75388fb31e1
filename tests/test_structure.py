"""The import graph runs one way (README, "How the code is laid out").

Read from the source, not from what Python happened to load: every import
counts, those placed inside functions too, and a package's __init__ is a module
of its own. `from PKG import name` imports PKG's __init__ (and PKG.name when
that is a module), so a module that writes `from . import sibling` depends on
its package's __init__, as Python runs it first.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "minivae"

# Lowest first. A module may import modules of its own level or of lower ones, never
# of a higher one; inside a level, the graph must still be free of cycles (checked
# below for the whole package). The longest matching prefix decides a module's level.
LEVELS = [
    ("ground", ["minivae.errors", "minivae._validation", "minivae._files", "minivae._atomic",
                "minivae._matplotlib", "minivae._progress",
                "minivae.im2col", "minivae.pixels"]),
    ("math", ["minivae.layers", "minivae.losses", "minivae.optimizers",
              "minivae.distributions", "minivae.datasets"]),
    ("fast", ["minivae.fast"]),
    ("training", ["minivae.training", "minivae.batching", "minivae.serialization"]),
    ("models", ["minivae.models", "minivae"]),
    ("tools", ["minivae.architectures", "minivae.gradcheck", "minivae.testing",
               "minivae.keras_bridge", "minivae.torch_bridge"]),
    ("files", ["minivae.checkpoint"]),
    ("analyses", ["minivae.latent", "minivae.gaps", "minivae.evaluation",
                  "minivae.attributes", "minivae.model_check"]),
    ("figures", ["minivae.plotting"]),
    # what the commands do, as library functions: each writes figures, so above plotting
    ("runs", ["minivae.figures", "minivae.experiments", "minivae.runs"]),
    ("command line", ["minivae.cli", "minivae.__main__"]),
]

# Third-party packages a function may import when it runs, so that minivae works (and
# starts quickly) without them: optional extras and heavy plotting.
DEFERRABLE = {"tensorflow", "keras", "torch", "jax", "matplotlib", "skimage", "hypothesis"}


def _modules():
    """Dotted name -> path, for every module of the package (a package is its __init__)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _package(name):
    """The package a module's relative imports start from."""
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _imports(name):
    """[(target module, line, inside a function, the import's text)] of one module:
    targets inside minivae are dotted module names, others their top-level package."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    prefixes = alias.name.split(".")
                    targets = [".".join(prefixes[:i + 1]) for i in range(len(prefixes))]
                    for target in targets if prefixes[0] == "minivae" else targets[:1]:
                        found.append((target, child.lineno, in_function, ast.unparse(child)))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = _package(name)
                    for _ in range(child.level - 1):
                        base = base.rpartition(".")[0]
                    source = f"{base}.{child.module}" if child.module else base
                else:
                    source = child.module
                if source.split(".")[0] != "minivae":
                    found.append((source.split(".")[0], child.lineno, in_function,
                                  ast.unparse(child)))
                    continue
                found.append((source, child.lineno, in_function, ast.unparse(child)))
                for alias in child.names:
                    if f"{source}.{alias.name}" in MODULES:
                        found.append((f"{source}.{alias.name}", child.lineno, in_function,
                                      ast.unparse(child)))
            visit(child, nested)

    visit(tree, False)
    return found


def _level(name):
    best = None
    for rank, (_, prefixes) in enumerate(LEVELS):
        for prefix in prefixes:
            # the package's own __init__ ("minivae") is a module, not a prefix of every other
            if name == prefix or (prefix != "minivae" and name.startswith(prefix + ".")):
                if best is None or len(prefix) > len(best[1]):
                    best = (rank, prefix)
    return None if best is None else best[0]


GRAPH = {name: sorted({t for t, *_ in _imports(name) if t in MODULES and t != name})
         for name in MODULES}


def _cycles(graph):
    """The strongly connected components with more than one module (Tarjan's)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in graph:
        if v not in index:
            connect(v)
    return result


def test_the_source_is_read():
    """The reader sees what it must: the package's modules and a known import."""
    assert {"minivae", "minivae.models", "minivae.models.vae", "minivae.fast.dispatch",
            "minivae.layers.conv", "minivae.cli"} <= set(MODULES)
    assert "minivae.fast.dispatch" in GRAPH["minivae.models.vae"]


def test_every_module_has_a_level():
    assert [name for name in MODULES if _level(name) is None] == []


def test_no_module_is_in_an_import_cycle():
    assert _cycles(GRAPH) == []


def test_imports_run_from_higher_levels_to_lower_ones():
    upward = [f"{name} ({LEVELS[_level(name)][0]}) imports {target} "
              f"({LEVELS[_level(target)][0]}) at line {line}: {text}"
              for name in MODULES for target, line, _, text in _imports(name)
              if target in MODULES and _level(target) > _level(name)]
    assert upward == []


def test_no_import_inside_a_function_but_a_deferred_optional_one():
    """An import placed inside a function must not dodge a cycle: only third-party
    packages in DEFERRABLE may be imported when a function runs."""
    inside = [f"{name} line {line}: {text}" for name in MODULES
              for target, line, in_function, text in _imports(name)
              if in_function and target.split(".")[0] not in DEFERRABLE]
    assert inside == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": ["b"], "b": ["a"], "c": []}, [["a", "b"]]),
    ({"a": ["b"], "b": ["c"], "c": []}, []),
    ({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}, [["a", "b", "c"]]),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert _cycles(graph) == expected
