"""Where minivae's training step spends its time, layer by layer.

The book's Fashion-MNIST VAE (fashion_vae(seed=0), Adam(5e-4)), float32, one
fixed batch of the first training images, stepped by model.train_step(x). Every
layer runs through minivae.fast.forward / .backward (the containers call them),
and those calls are timed per layer; the Sampling layer, which the encoder calls
directly, is timed on its own methods. Also timed: the loss (VAE.losses: BCE +
KL and their gradients) and the optimizer update (Adam.apply_gradients); "other"
is the rest of train_step (input checks, the state copy, the finiteness check,
the containers' bookkeeping).

A second table opens the convolutions: the time spent in the functions of
minivae.im2col and minivae.fast.gather (and fast.conv.channel_sum), in the
activation, and the remainder (the GEMMs, bias, reshapes). Times are medians (or,
with --stat min, minima) over --steps steps after --warmup steps; the timers cost
about a microsecond per call.

What is profiled:

  default       the whole batch (100) on the fast path, on one thread of Python:
                no DataParallel, BLAS and the fast path's memory passes on their
                default threads. fit (and `minivae train`) splits the batch into
                one part per core, on replicas on threads, which a per-layer timer
                cannot follow, so its step (bench_train.py) is faster than this
                one; the shares still show where the work is.
  --replica     what one DataParallel part does: the batch over the cores (half of
                it on 2), BLAS held to one thread (threadpoolctl), the memory passes
                inline (run inside minivae.fast.data_parallel.run_each, as
                DataParallel runs its parts), alone on the machine; the parts
                together take longer than one, since they share memory bandwidth
                and caches. The Adam and "other" rows are
                the whole step's, which DataParallel runs once, after the parts.
  --reference   the same on the reference layers (minivae.fast.reference()).

    python3 benchmarks/profile_step.py [--steps 20] [--warmup 3] [--stat min] [--cprofile]
                                       [--replica] [--reference]

--cprofile adds cProfile's top functions by own time over the same steps (run
separately, since cProfile slows the Python-heavy parts).
"""

import argparse
import contextlib
import cProfile
import functools
import io
import pstats
import statistics
import sys
import time
from collections import defaultdict

import _common
from _common import BATCH, LEARNING_RATE, print_table

CORE_MIN_MS = 0.1       # a core function gets its own column from this time up


class Timers:
    """Per-step accumulators: key -> seconds in the current step, and the history."""

    def __init__(self, stat="median"):
        # median: the typical step; min: the least disturbed one, steadier when other
        # processes share the cores (background load only ever adds time)
        self.reduce = statistics.median if stat == "median" else min
        self.current = defaultdict(float)
        self.steps = []
        self.layer = None               # (layer name, direction) being run, for attribution
        self.active = set()             # keys being timed: a nested call is not timed again
        self.depth = 0                  # nesting depth inside the core functions

    def timed(self, fn, key_of, scope=False):
        """fn, timing each call under key_of(*args); scope: calls inside it belong to it."""

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            key = key_of(*args)
            if key is None or key in self.active:
                return fn(*args, **kwargs)
            outer = self.layer
            self.active.add(key)
            if scope:
                self.layer = key
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[key] += time.perf_counter() - t
                self.active.discard(key)
                self.layer = outer
        return timed

    def core(self, fn, label):
        """A core function, timed at its outermost call inside a layer only."""

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if self.depth or self.layer is None:
                return fn(*args, **kwargs)
            self.depth += 1
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[(*self.layer, "core", label)] += time.perf_counter() - t
                self.depth -= 1
        return timed

    def end_step(self, total):
        # "other": the step less its outermost timed parts (layers, loss, optimizer)
        parts = sum(v for k, v in self.current.items() if isinstance(k, tuple) and len(k) == 2)
        self.current["step"] = total
        self.current["other"] = total - parts
        self.steps.append(dict(self.current))
        self.current.clear()

    def median(self, key):
        """The chosen statistic (median or min) over the steps, in ms."""
        return self.reduce([step.get(key, 0.0) for step in self.steps]) * 1e3


def replace_everywhere(replacements):
    """Put replacements[id(fn)] in place of fn in every minivae module's namespace (the
    modules that imported fn by name, and fn's own)."""
    for module in [m for n, m in list(sys.modules.items()) if n.startswith("minivae") and m]:
        for name, value in list(vars(module).items()):
            if id(value) in replacements:
                setattr(module, name, replacements[id(value)])


def instrument(model, timers, reference):
    """Wrap minivae.fast's forward/backward, the Sampling layer, the loss, the optimizer,
    the activations and the core functions; returns the leaf layers, encoder first."""
    import minivae.fast.dispatch as fast
    import minivae.fast.activations as fast_activations
    import minivae.fast.conv as fast_conv
    import minivae.fast.gather as gather
    import minivae.im2col as im2col
    from minivae.fast.data_parallel import leaves

    layers = leaves(model.encoder) + leaves(model.decoder)
    names = {id(layer): layer.name for layer in layers}
    sampling = model.encoder.sampling
    for direction in ("forward", "backward"):
        setattr(fast, direction, timers.timed(
            getattr(fast, direction),
            lambda layer, *_, d=direction: (names[id(layer)], d) if id(layer) in names
            else None, scope=True))
        setattr(sampling, direction, timers.timed(getattr(sampling, direction),
                                                  lambda *_, d=direction: (sampling.name, d),
                                                  scope=True))
    model.losses = timers.timed(model.losses, lambda *_: ("loss", "forward"), scope=True)
    model.optimizer.apply_gradients = timers.timed(model.optimizer.apply_gradients,
                                                   lambda *_: ("Adam", "update"), scope=True)

    replacements = {}
    if reference:           # the reference applies each layer's activation object
        for layer in layers:
            act = getattr(layer, "activation", None)
            if act is not None:
                for direction, method in (("forward", "_forward"), ("backward", "_backward")):
                    setattr(act, method, timers.timed(
                        getattr(act, method), lambda *_, n=layer.name, d=direction:
                        (n, d, "activation")))
    else:                   # the fast kernels call these two on the layer
        for fn, direction in ((fast_activations.activate, "forward"),
                              (fast_activations.deactivate, "backward")):
            replacements[id(fn)] = timers.timed(
                fn, lambda layer, *_, d=direction: (layer.name, d, "activation"))
        by_parts = getattr(fast_activations, "deactivate_by_parts", None)
        if by_parts is not None:    # a chunked backward: the writes it returns are timed
            replacements[id(by_parts)] = _timed_writes(timers, by_parts)
    core = {f"{module.__name__.rsplit('.', 1)[1]}.{name}": fn
            for module in (im2col, gather) for name, fn in vars(module).items()
            if callable(fn) and not isinstance(fn, type) and not name.startswith("_")
            and getattr(fn, "__module__", None) == module.__name__}
    core["conv.channel_sum"] = fast_conv.channel_sum
    replacements.update({id(fn): timers.core(fn, label) for label, fn in core.items()})
    replace_everywhere(replacements)
    return layers, sorted(core)


def _timed_writes(timers, by_parts):
    """deactivate_by_parts, whose returned write(part, out) calls (and any whole-batch
    backward it runs first) are timed as the layer's backward activation."""
    def wrapped(layer, *args):
        key = lambda *_: (layer.name, "backward", "activation")
        return timers.timed(timers.timed(by_parts, key)(layer, *args), key)
    return wrapped


def fixed_batch(size):
    from minivae.datasets import load_dataset, to_float
    data = load_dataset("train", dtype="uint8", allow_sample=True)
    return to_float(data.images[:size], "float32"), data.source


def build():
    from minivae.architectures import fashion_vae
    from minivae.optimizers import Adam
    return fashion_vae(seed=0).compile(Adam(learning_rate=LEARNING_RATE))


@contextlib.contextmanager
def how_it_runs(replica, reference):
    """The settings of the profiled step: one BLAS thread for a replica, the reference
    switch for --reference."""
    import minivae.fast
    with contextlib.ExitStack() as stack:
        if replica:
            from threadpoolctl import threadpool_limits
            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        stack.enter_context(minivae.fast.reference(reference))
        yield


def stepper(model, replica):
    """model.train_step, run as a DataParallel part when replica (over_batch inline)."""
    try:
        from minivae.fast.data_parallel import run_each
    except ImportError:         # before issue 20, threads held it
        from minivae.fast.threads import run_each
    if not replica:
        return model.train_step
    return lambda x: run_each([lambda: model.train_step(x)])[0]


def profile(args, size):
    x, source = fixed_batch(size)
    model = build()
    timers = Timers(args.stat)
    layers, core_names = instrument(model, timers, args.reference)
    step = stepper(model, args.replica)
    with how_it_runs(args.replica, args.reference):
        import minivae.fast
        kernels = {}
        for i in range(args.warmup + args.steps):
            t = time.perf_counter()
            step(x)
            total = time.perf_counter() - t
            if i >= args.warmup:
                timers.end_step(total)
            else:
                timers.current.clear()
        for layer in layers:
            kernel = minivae.fast.kernel_for(layer)
            kernels[layer.name] = kernel.__name__ if kernel else type(layer).__name__
    return layers, kernels, core_names, timers, source


def report(layers, kernels, core_names, timers):
    step = timers.median("step")
    parts = []                          # (name, type, output, fwd, bwd, total)
    for layer in layers:
        fwd, bwd = timers.median((layer.name, "forward")), timers.median((layer.name, "backward"))
        shape = "x".join(str(s) for s in layer.output_shape)
        parts.append((layer.name, kernels[layer.name], shape, fwd, bwd, fwd + bwd))
    for key, label in ((("loss", "forward"), "BCE + KL (value, grad)"),
                       (("Adam", "update"), "Adam.apply_gradients")):
        parts.append((key[0], label, "", None, None, timers.median(key)))
    parts.append(("other", "train_step's own work", "", None, None, timers.median("other")))
    # shares of the sum of the rows: with --stat min the measured step is the least
    # disturbed whole step, which is more than the sum of each part's least disturbed run
    whole = sum(p[-1] for p in parts)
    rows = [[name, kind, shape, "" if fwd is None else f"{fwd:.2f}",
             "" if bwd is None else f"{bwd:.2f}", f"{total:.2f}", f"{100 * total / whole:.1f}%"]
            for name, kind, shape, fwd, bwd, total in parts]
    rows.append(["sum", "of the rows above", "", "", "", f"{whole:.2f}", "100%"])
    rows.append(["step", "train_step, measured whole", "", "", "", f"{step:.2f}", ""])
    print()
    print_table(["layer", "kernel", "output", "fwd ms", "bwd ms", "total ms", "share"], rows,
                aligns=["<", "<", "<", ">", ">", ">", ">"])
    print(f"(each cell is a {timers.reduce.__name__} over steps, so the rows need not add up "
          f"to the measured step exactly)")

    # only the functions that took time inside a layer (the geometry helpers take
    # microseconds; they stay in the remainder)
    core_names = [name for name in core_names
                  if any(timers.median((layer.name, direction, "core", name)) >= CORE_MIN_MS
                         for layer in layers for direction in ("forward", "backward"))]
    conv_rows = []
    for layer in layers:
        if not hasattr(layer, "kernel_size"):
            continue
        for direction in ("forward", "backward"):
            total = timers.median((layer.name, direction))
            inside = {name: timers.median((layer.name, direction, "core", name))
                      for name in core_names}
            activation = timers.median((layer.name, direction, "activation"))
            rest = total - sum(inside.values()) - activation
            conv_rows.append([layer.name if direction == "forward" else "", direction[:3],
                              f"{total:.2f}"]
                             + [f"{inside[name]:.2f}" for name in core_names]
                             + [f"{activation:.2f}", f"{rest:.2f}"])
    print()
    print(f"inside the convolutions (ms; functions that took {CORE_MIN_MS} ms or more "
          f"somewhere; 'GEMM etc.' = layer - the functions named - activation):")
    print_table(["layer", "dir", "layer ms"] + [f"{n}()" for n in core_names]
                + ["activation", "GEMM etc."], conv_rows)
    return step


def run_cprofile(args, size):
    x, _ = fixed_batch(size)
    model = build()
    step = stepper(model, args.replica)
    with how_it_runs(args.replica, args.reference):
        step(x)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.steps):
            step(x)
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
    print()
    print(f"cProfile over {args.steps} steps, top {args.top} by own time:")
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="per-part statistic over the steps (min is steadier on a busy "
                        "machine)")
    parser.add_argument("--cprofile", action="store_true", help="add cProfile's top functions")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--replica", action="store_true",
                        help="one DataParallel part's work: the batch over the cores, one BLAS "
                        "thread")
    parser.add_argument("--reference", action="store_true",
                        help="the reference layers (minivae.fast.reference())")
    args = parser.parse_args()
    started = time.perf_counter()
    from minivae.fast.threads import cores
    parts = cores()             # DataParallel's default split, one part per core
    size = BATCH // parts if args.replica else BATCH
    layers, kernels, core_names, timers, source = profile(args, size)
    threads = _common.thread_report()
    path_name = "reference" if args.reference else "fast path"
    print(f"minivae from {_common.REPO} ({_common.describe_checkout(_common.REPO)}); "
          f"fashion_vae batch {size} float32 on the {path_name}"
          + (f" (one DataParallel part of {parts}, BLAS on one thread)" if args.replica
             else "") + f"; {args.stat} of {args.steps} steps after {args.warmup} warm-up; "
          f"BLAS threads at rest: {_common.describe_threads(threads)}")
    isa = _common.isa_report()
    print(isa)
    step = report(layers, kernels, core_names, timers)
    payload = {"script": "profile_step.py", "batch": size, "replica": args.replica,
               "reference": args.reference, "dtype": "float32", "stat": args.stat,
               "steps": args.steps, "warmup": args.warmup, "data": str(source),
               "machine": _common.machine_report(), "isa": isa, "threads": threads,
               "kernels": kernels, "step_ms": step,
               "medians_ms": {"/".join(k): timers.median(k)
                              for k in sorted({k for s in timers.steps for k in s
                                               if isinstance(k, tuple)})}}
    if args.cprofile:
        run_cprofile(args, size)
    path = _common.write_results("profile_step", payload)
    print(_common.load_note())
    print(f"\nwrote {path.relative_to(_common.REPO)} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
