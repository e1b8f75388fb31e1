"""Where minivae's training step spends its time, layer by layer.

The book's Fashion-MNIST VAE (fashion_vae(seed=0), Adam(5e-4)), batch 100,
float32, one fixed batch. Every leaf layer's forward and backward, the loss
(VAE.losses: BCE + KL and their gradients) and the optimizer update
(Adam.apply_gradients) are wrapped in timers on the instances; "other" is the
rest of train_step (input checks, Sequential bookkeeping, the params/grads
dicts). A second table opens the convolutions: the time spent in the
functions of minivae.im2col (im2col, col2im, pad, crop, whatever the module
holds at run time), in the activation, and the remainder (the GEMMs, bias,
reshapes). Times are medians (or, with --stat min, minima) over --steps steps
after --warmup steps; the timers cost about a microsecond per call.

The profile runs the whole batch on one thread (model.data_parallel = False).
Training splits each batch between two replicas on two threads, which a
per-layer timer cannot follow, so the step measured here is slower than the one
bench_train.py reports; the shares still show where the work is. With
--replica it profiles what one of those threads does instead: half the batch
(50 images) with BLAS held to one thread (minivae.blas.single_threaded), alone
on the machine; both replicas together take longer, since they share memory
bandwidth and caches.

    python3 benchmarks/profile_step.py [--steps 20] [--warmup 3] [--stat min] [--cprofile]
                                       [--replica]

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
from _common import print_table

BATCH = 100


class Timers:
    """Per-step accumulators: key -> seconds in the current step, and the history."""

    def __init__(self, stat="median"):
        # median: the typical step; min: the least disturbed one, steadier when other
        # processes share the cores (background load only ever adds time)
        self.reduce = statistics.median if stat == "median" else min
        self.current = defaultdict(float)
        self.steps = []
        self.layer = None               # (layer name, direction) being run, for attribution
        self.depth = 0                  # nesting depth inside minivae.im2col functions

    def wrap_method(self, obj, attr, key, scope=False):
        fn = getattr(obj, attr)

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            outer = self.layer
            if scope:
                self.layer = key
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[key] += time.perf_counter() - t
                self.layer = outer

        setattr(obj, attr, timed)

    def wrap_core(self, fn):
        """A function of minivae.im2col, timed only at its outermost call."""

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if self.depth or self.layer is None:
                return fn(*args, **kwargs)
            self.depth += 1
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[(*self.layer, "core", fn.__name__)] += time.perf_counter() - t
                self.depth -= 1

        timed.__wrapped_core__ = True
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


def instrument(model, timers):
    """Wrap every leaf layer, the loss, the optimizer and the im2col functions."""
    import minivae.im2col as core

    layers = list(model.encoder.layers) + list(model.decoder.layers)
    for layer in layers:
        for direction in ("forward", "backward"):
            timers.wrap_method(layer, direction, (layer.name, direction), scope=True)
        activation = getattr(layer, "activation", None)
        if activation is not None:
            timers.wrap_method(activation, "_forward", (layer.name, "forward", "activation"))
            timers.wrap_method(activation, "_backward", (layer.name, "backward", "activation"))
    timers.wrap_method(model, "losses", ("loss", "forward"), scope=True)
    timers.wrap_method(model.optimizer, "apply_gradients", ("Adam", "update"), scope=True)

    # Every minivae module that imported a function of minivae.im2col by name gets the
    # timed version in its namespace, as does minivae.im2col itself (calls between
    # the module's own functions are then counted once, at the outermost call).
    originals = {name: fn for name, fn in vars(core).items()
                 if callable(fn) and getattr(fn, "__module__", None) == core.__name__
                 and not isinstance(fn, type)}
    wrapped = {name: timers.wrap_core(fn) for name, fn in originals.items()}
    by_id = {id(fn): wrapped[name] for name, fn in originals.items()}
    for module in [m for n, m in sys.modules.items() if n.startswith("minivae") and m]:
        for name, value in list(vars(module).items()):
            if id(value) in by_id:
                setattr(module, name, by_id[id(value)])
    return layers, sorted(originals)


def fixed_batch(size=BATCH):
    from minivae.datasets import load_dataset, to_float
    data = load_dataset("train", dtype="uint8", allow_sample=True)
    return to_float(data.images[:size]), data.source


def build():
    from minivae.architectures import fashion_vae
    from minivae.optimizers import Adam
    from minivae._malloc import reuse_freed_memory
    reuse_freed_memory()                     # as fit() does before its first step
    model = fashion_vae(seed=0).compile(Adam(learning_rate=5e-4))
    # Layer by layer needs the whole batch on one thread: the step minivae trains with
    # splits it between two replicas (models.compute_gradients), which bench_train.py
    # times. This profile shows where the work is, not the split step's wall time.
    model.data_parallel = False
    return model


def profile(steps, warmup, stat, size=BATCH):
    x, source = fixed_batch(size)
    model = build()
    timers = Timers(stat)
    layers, core_names = instrument(model, timers)
    for i in range(warmup + steps):
        t = time.perf_counter()
        model.train_step(x)
        total = time.perf_counter() - t
        if i >= warmup:
            timers.end_step(total)
        else:
            timers.current.clear()
    return model, layers, core_names, timers, source


def report(layers, core_names, timers):
    step = timers.median("step")
    parts = []                          # (name, type, output, fwd, bwd, total)
    for layer in layers:
        fwd, bwd = timers.median((layer.name, "forward")), timers.median((layer.name, "backward"))
        shape = "x".join(str(s) for s in layer.output_shape)
        parts.append((layer.name, type(layer).__name__, shape, fwd, bwd, fwd + bwd))
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
    print_table(["layer", "type", "output", "fwd ms", "bwd ms", "total ms", "share"], rows,
                aligns=["<", "<", "<", ">", ">", ">", ">"])
    print(f"(each cell is a {timers.reduce.__name__} over steps, so the rows need not add up "
          f"to the measured step exactly)")

    # only the functions that ran inside a layer (not the shape helpers used at build)
    core_names = [name for name in core_names
                  if any(k[2:] == ("core", name) for s in timers.steps for k in s
                         if isinstance(k, tuple))]
    conv_rows = []
    for layer in layers:
        if not hasattr(layer, "kernel_size"):
            continue
        for direction in ("forward", "backward"):
            total = timers.median((layer.name, direction))
            parts = {name: timers.median((layer.name, direction, "core", name))
                     for name in core_names}
            activation = timers.median((layer.name, direction, "activation"))
            rest = total - sum(parts.values()) - activation
            conv_rows.append([layer.name if direction == "forward" else "", direction[:3],
                              f"{total:.2f}"]
                             + [f"{parts[name]:.2f}" for name in core_names]
                             + [f"{activation:.2f}", f"{rest:.2f}"])
    print()
    print("inside the convolutions (ms; 'GEMM etc.' = layer - im2col module - activation):")
    print_table(["layer", "dir", "layer ms"] + [f"{n}()" for n in core_names]
                + ["activation", "GEMM etc."], conv_rows)
    return step


def run_cprofile(steps, top, size=BATCH):
    x, _ = fixed_batch(size)
    model = build()
    model.train_step(x)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        model.train_step(x)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print()
    print(f"cProfile over {steps} steps, top {top} by own time:")
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
                        help="one data-parallel replica's work: half the batch, one BLAS "
                        "thread")
    args = parser.parse_args()
    started = time.perf_counter()
    size = BATCH // 2 if args.replica else BATCH
    with contextlib.ExitStack() as stack:
        if args.replica:
            from minivae import blas
            stack.enter_context(blas.single_threaded())
        run(args, size, started)


def run(args, size, started):
    model, layers, core_names, timers, source = profile(args.steps, args.warmup, args.stat,
                                                        size)
    threads = _common.thread_report()
    print(f"minivae from {_common.REPO}; fashion_vae batch {size} float32"
          + (" (one replica)" if args.replica else "") + "; "
          f"{args.stat} of {args.steps} steps after {args.warmup} warm-up; BLAS threads: "
          f"{_common.describe_threads(threads)}")
    isa = _common.isa_report()
    print(isa)
    step = report(layers, core_names, timers)
    payload = {"script": "profile_step.py", "batch": size, "replica": args.replica,
               "dtype": "float32", "stat": args.stat,
               "steps": args.steps, "warmup": args.warmup, "data": str(source),
               "machine": _common.machine_report(), "isa": isa, "threads": threads,
               "step_ms": step,
               "medians_ms": {"/".join(k): timers.median(k)
                              for k in sorted({k for s in timers.steps for k in s
                                               if isinstance(k, tuple)})}}
    if args.cprofile:
        run_cprofile(args.steps, args.top, size)
    path = _common.write_results("profile_step", payload)
    print(_common.load_note())
    print(f"\nwrote {path.relative_to(_common.REPO)} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
