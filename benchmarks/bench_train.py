"""One training step of the book's Fashion-MNIST VAE: minivae's paths, PyTorch and Keras.

A step is forward, backward and the Adam update on one batch of 100 images
(the first 100 Fashion-MNIST training images, the same array for everyone),
float32, latent 2, loss 500 * mean-pixel BCE + KL, Adam(5e-4). Contenders,
each where installed, each in its own process:

  minivae             what `minivae train` runs (runs.train_run): in the worker
                      minivae.fast.memory.tune_for_training() once, then per step
                      DataParallel(model).train_step(x), model =
                      fashion_vae(seed=0).compile(Adam(5e-4)); this working tree
  minivae@baseline    the same worker on another checkout (--baseline PATH, put
                      first on sys.path). A checkout from before issue 12 (no
                      minivae.fast) gets that code's equivalent of `minivae train`:
                      _malloc.reuse_freed_memory() once, as its fit did, then
                      model.train_step(x), which split the batch itself
  minivae-fit         what a library fit does by default (issue 23): the same step
                      as minivae's, DataParallel with one part per core, without
                      the malloc tuning (process-wide, so opt-in); minivae /
                      minivae-fit is what the tuning is worth on its own
  minivae-whole       the fast kernels on the whole batch, no DataParallel and no
                      malloc tuning: model.train_step(x), what fit does with
                      data_parallel=False
  minivae-reference   the same on the reference layers (MINIVAE_REFERENCE=1 in
                      that worker's environment): what the fast path buys
  minivae 1 core      (opt-in) minivae's step in a process held to one CPU before numpy
                      loads, as `taskset -c 0` would: one core's throughput
  torch NCHW          the same network in PyTorch eager (_frameworks.py), NCHW
  torch channels_last the same, with the model and the input in channels_last
  keras               the book's code: a keras.Model subclass with the book's
                      custom train_step, timed through model.train_on_batch(x),
                      which runs it under tf.function (no XLA: Keras's "auto"
                      turns XLA off on a CPU-only machine)

After --warmup steps each, the contenders take turns, one round of --steps steps
each, in reverse order every other round (A B C, C B A, A B C, ...), so no one
always follows the same neighbour. Each step is timed alone. Reported: the median
ms/step over all steps and the range of the per-round medians, images/s,
projected seconds per epoch (600 steps, no validation), peak RSS of each process,
and minivae's time divided by each contender's (median and range of the
per-round ratios, so each ratio compares two measurements taken seconds apart).

Two rows measure no contender, each once a round in a process of its own. The
limit: the step's products, counted from the layer shapes (_common.step_flops),
at the rate of a 2048^3 sgemm on all cores; "/ limit" is each step over it.
"products alone": the same products as the GEMMs of the layers
(_common.step_products: im2col's, or the taps form's where minivae's fast path
uses it), each one numpy matmul at its shape, run back to back in the parts
`minivae train` splits the batch into, one thread and one BLAS thread per part,
and nothing else: about the least a step that makes its products through numpy's
BLAS can take (chunking a product to keep an operand in cache beats it by a few
percent), printed beside Keras's step.

The BLAS pin: where the environment sets OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE,
every worker starts with both unset, so numpy's OpenBLAS picks its own kernels as
it would on a user's machine; the run prints which family it then runs.
--as-environment keeps the pin. --match-isa holds PyTorch and Keras to the vector
extension of the kernels numpy's OpenBLAS runs in the workers (ONEDNN_MAX_CPU_ISA,
ATEN_CPU_CAPABILITY; _common.ISA_LIMITS). --dry-run starts the workers, prints
what each runs and stops before timing anything.

With --epoch (opt-in, minutes): real epochs of fit instead (60,000 images, then
10,000 validation images) for the minivae contenders, each as its step above
runs (minivae: `minivae train`'s fit(..., data_parallel=True)), and the book's
Keras fit, all on data loaded with minivae.datasets.

    python3 benchmarks/bench_train.py [--rounds 5 --steps 30 --warmup 5]
                                      [--contenders NAME ...] [--baseline PATH]
                                      [--match-isa] [--as-environment] [--dry-run]
    python3 benchmarks/bench_train.py --epoch [--epochs 1]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import (BATCH, LEARNING_RATE, STEPS_PER_EPOCH, fmt_ms, load_fashion,
                     print_table, timed_steps)

BASELINE = "minivae@baseline"
# A row of the table that is no contender: the step's GEMMs alone (_common.products_ms)
PRODUCTS = "products alone"
PRODUCT_REPEATS = 5
ONE_CORE = "minivae 1 core"
OPT_IN = (BASELINE, ONE_CORE)       # not in the default run
REFERENCE_VAR = "MINIVAE_REFERENCE"     # minivae.fast's switch to the reference layers

# contender -> (venv kind or None for this interpreter, worker name, extra worker args)
CONTENDERS = {
    "minivae": (None, "minivae", ["--mode", "train"]),
    BASELINE: (None, "minivae", ["--mode", "train"]),
    "minivae-fit": (None, "minivae", ["--mode", "fit"]),
    "minivae-whole": (None, "minivae", ["--mode", "whole"]),
    "minivae-reference": (None, "minivae", ["--mode", "reference"]),
    # opt-in (--contenders): minivae's step in a process held to one core, as under
    # `taskset -c 0`, so that one core's throughput is measured beside two cores'
    ONE_CORE: (None, "minivae", ["--mode", "train", "--cores", "1"]),
    "torch NCHW": ("torch", "torch", ["--layout", "nchw"]),
    "torch channels_last": ("torch", "torch", ["--layout", "channels_last"]),
    "keras": ("tf", "keras", []),
}
EPOCH_CONTENDERS = [name for name, (kind, _, _) in CONTENDERS.items()
                    if kind is None] + ["keras"]


# ------------------------------------------------------------ minivae worker --

def minivae_stepper(mode):
    """(model, step, description, fit options) for one minivae contender, on whichever
    API the imported minivae has. mode: "train" (`minivae train`'s step), "fit" (a
    library fit's default: the same step, no malloc tuning in the worker), "whole"
    (fit's data_parallel=False) or "reference" (the reference layers, whole batch)."""
    from minivae.architectures import fashion_vae
    from minivae.optimizers import Adam
    model = fashion_vae(seed=0).compile(Adam(learning_rate=LEARNING_RATE))
    if not has_fast_path():
        # Before issue 12: train_step split the batch between two threads itself and fit
        # tuned malloc; no reference switch, no whole-batch option.
        if mode != "train":
            raise ValueError(f"mode {mode!r} needs minivae.fast (issue 12); this checkout "
                             f"predates it")
        return (model, model.train_step,
                "before issue 12: model.train_step, which splits the batch itself", {})
    import minivae.fast
    from minivae.fast.data_parallel import DataParallel
    if mode in ("train", "fit"):
        parallel = DataParallel(model)
        why = parallel.why_whole()
        whole = "" if why is None else f", whole batch: {why}"
        import minivae.training
        if hasattr(minivae.training, "train_step"):
            # After issue 20: the training loop's step, with DataParallel's forward_backward
            parts = getattr(parallel, "parts", 2)
            return (model, lambda x: minivae.training.train_step(model, x, parallel),
                    f"training.train_step(model, x, DataParallel(model)), {parts} part"
                    + ("s" if parts != 1 else "")
                    + whole, {"data_parallel": True})
        return (model, parallel.train_step, "DataParallel(model).train_step" + whole,
                {"data_parallel": True})
    path = "reference" if minivae.fast.using_reference() else "fast path"
    if (mode == "reference") != (path == "reference"):
        raise RuntimeError(f"mode {mode!r} runs on the {path} ({REFERENCE_VAR} is wrong in "
                           f"this worker's environment)")
    return (model, model.train_step, f"model.train_step, whole batch, {path}",
            {"data_parallel": False})


def has_fast_path():
    """Whether the imported minivae has minivae.fast (issue 12), looked for in its own
    folder: an import finder could find the name in another checkout."""
    import minivae
    return (Path(minivae.__file__).parent / "fast" / "__init__.py").is_file()


def check_one_checkout(home):
    """Every minivae module loaded so far comes from `home` (a minivae/ folder)."""
    stray = sorted(name for name, module in list(sys.modules.items())
                   if (name == "minivae" or name.startswith("minivae."))
                   and getattr(module, "__file__", None)
                   and not Path(module.__file__).resolve().is_relative_to(home))
    if stray:
        raise RuntimeError(f"modules from outside {home}: {', '.join(stray)}")


def minivae_worker(mode, tree=None, cores=None):
    """A minivae contender's process; tree: a checkout to import minivae from; cores:
    hold the process to its first `cores` CPUs before numpy loads (as taskset would),
    so that OpenBLAS, minivae.fast.threads.cores() and DataParallel see only those."""
    if cores is not None:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    if tree is not None:
        sys.path.insert(0, str(Path(tree).resolve()))
        # An editable install of minivae (pip install -e) adds an import finder that maps
        # any minivae.* the checkout lacks to the installed tree; only the checkout counts.
        sys.meta_path = [finder for finder in sys.meta_path
                         if not type(finder).__module__.startswith("__editable__")]
    import numpy as np

    import minivae
    home = Path(minivae.__file__).resolve().parent
    if tree is not None and home.parent != Path(tree).resolve():
        raise RuntimeError(f"minivae came from {home}, not from the checkout {tree}")
    # Process-wide settings, once, as `minivae train` makes them (a library fit does not)
    if mode == "train":
        if has_fast_path():
            from minivae.fast import memory
            memory.tune_for_training()
        else:
            from minivae._malloc import reuse_freed_memory
            reuse_freed_memory()        # as that code's fit did before its first step
    state = {}

    def setup(batch_path, warmup):
        t = time.perf_counter()
        model, step, how, _ = minivae_stepper(mode)
        x = np.load(batch_path)
        setup_s = time.perf_counter() - t
        state.update(step=step, x=x)
        first = timed_steps(lambda: step(x), 1)[0]
        timed_steps(lambda: step(x), warmup)
        check_one_checkout(home)
        return {"setup_s": setup_s, "first_step_ms": first, "params": model.count_params(),
                "version": f"minivae {getattr(minivae, '__version__', '')} ({home}): {how}; "
                           f"numpy {np.__version__}"}

    def steps(n):
        step, x, last = state["step"], state["x"], {}

        def run():
            last["metrics"] = step(x)
        return {"ms": timed_steps(run, n), "loss": last["metrics"]["total_loss"]}

    def epoch(epochs, limit):
        model, _, how, options = minivae_stepper(mode)
        x_train, train_info = load_fashion("train", "uint8", limit)
        x_val, val_info = load_fashion("test", "uint8", limit)
        # as `minivae train` calls fit (runs.train_run), less the checkpoint callback
        t = time.perf_counter()
        history = model.fit(x_train, epochs=epochs, batch_size=BATCH, validation_data=x_val,
                            verbose=0, **options)
        seconds = time.perf_counter() - t
        check_one_checkout(home)
        return {"seconds": seconds, "train": train_info, "validation": val_info, "how": how,
                "final": {k: v[-1] for k, v in history.history.items()}}

    _common.serve({"setup": setup, "steps": steps, "epoch": epoch})


def gemm_worker():
    """The limit's process: the step's products counted from this tree's model, and a
    2048^3 sgemm's rate, measured once a round so that it sees the rounds' load. It is
    a process of its own so that its 48 MB of operands stay out of the contenders' RSS."""
    def flops():
        from minivae.architectures import fashion_vae
        counted = _common.step_flops(fashion_vae(seed=0), BATCH)
        return {**counted, "model": "fashion_vae(seed=0)", "batch": BATCH}

    def gemm():
        # and one core's best 1024^3, times the cores: what the cores give when the
        # 2048^3 on all of them, which waits for its slowest thread, is held up by load
        cores = len(os.sched_getaffinity(0))
        return {"gflops": _common.gemm_rate(),
                "cores_gflops": cores * _common.gemm_rate(1024, 7, threads=1)}

    split = {}

    def products(repeats):
        # the step's products alone, split into parts as `minivae train` splits the batch
        if not split:
            from minivae.architectures import fashion_vae
            from minivae.fast.data_parallel import DataParallel
            model = fashion_vae(seed=0)
            parts = DataParallel(model).split(BATCH) or [slice(0, BATCH)]
            split["shapes"] = [[shape for _, _, shape in
                                _common.step_products(model, part.stop - part.start)]
                               for part in parts]
            split["sizes"] = [part.stop - part.start for part in parts]
        return {"ms": _common.products_ms(split["shapes"], repeats), "parts": split["sizes"],
                "gemms": len(split["shapes"][0])}

    _common.serve({"flops": flops, "gemm": gemm, "products": products})


# ------------------------------------------------------------- orchestrator --

def worker_spec(name, args, limits):
    """(python or None, worker args, environment, reason skipped) of a contender."""
    kind, worker, extra = CONTENDERS[name]
    keep = args.as_environment
    if kind is None:
        extra = extra + (["--tree", str(args.baseline)] if name == BASELINE else [])
        reference = extra[extra.index("--mode") + 1] == "reference"
        env = (_common.worker_env({REFERENCE_VAR: "1"}, keep_pin=keep) if reference
               else _common.worker_env(keep_pin=keep, unset=(REFERENCE_VAR,)))
        return sys.executable, [worker, *extra], env, None
    python, why = _common.venv_python(kind)
    return python, [worker, *extra], _common.worker_env(limits, keep_pin=keep), why


def start_workers(names, args, limits):
    """Start the chosen contenders that are installed; returns (workers, skipped).
    limits: extra environment variables for the PyTorch and Keras workers."""
    workers, skipped = {}, {}
    for name in names:
        python, worker_args, env, why = worker_spec(name, args, limits)
        if python is None:
            skipped[name] = why
            continue
        workers[name] = _common.Worker(worker_args[0], python, __file__, worker_args[1:],
                                       env=env, label=name)
    return workers, skipped


def first_batch():
    """The first 100 training images as float32 NHWC, saved for every worker to load."""
    import numpy as np
    from minivae.datasets import load_dataset, to_float
    data = load_dataset("train", dtype="uint8", allow_sample=True)
    x = to_float(data.images[:BATCH], "float32")
    path = Path(tempfile.mkdtemp(prefix="bench-train-")) / "batch.npy"
    np.save(path, x)
    return path, {"source": str(data.source), "sample": data.is_sample}


def run_steps(args, workers):
    batch_path, batch_info = first_batch()
    gemm = _common.Worker("gemm", sys.executable, __file__, [],
                          env=_common.worker_env(keep_pin=args.as_environment), label="gemm")
    try:
        return measure_steps(args, workers, batch_path, batch_info, gemm)
    finally:
        gemm.close()
        batch_path.unlink()
        batch_path.parent.rmdir()


def measure_steps(args, workers, batch_path, batch_info, gemm):
    print(f"batch: the first {BATCH} training images of {batch_info['source']}")
    flops = gemm.request(cmd="flops")
    print(f"step work: {flops['total'] / 1e9:.2f} GFLOP of products (forward "
          f"{flops['forward'] / 1e9:.2f}, backward {flops['backward'] / 1e9:.2f}), counted "
          f"from the layer shapes of {flops['model']} at batch {flops['batch']}")
    setups = {}
    for name, worker in workers.items():
        setups[name] = worker.request(cmd="setup", batch_path=str(batch_path),
                                      warmup=args.warmup)
        print(f"  {name}: ready in {setups[name]['setup_s']:.1f} s, first step "
              f"{fmt_ms(setups[name]['first_step_ms'])} ms; {setups[name]['version']}",
              flush=True)
    rounds = {name: [] for name in workers}
    losses, rates, core_rates, products = {}, [], [], []
    for r in range(args.rounds):
        reply = gemm.request(cmd="gemm")
        rates.append(reply["gflops"])
        core_rates.append(reply["cores_gflops"])
        reply = gemm.request(cmd="products", repeats=PRODUCT_REPEATS)
        products.append(reply["ms"])
        if r == 0:
            print(f"  {PRODUCTS}: {reply['gemms']} GEMMs per part, parts of "
                  f"{' + '.join(map(str, reply['parts']))} images, one BLAS thread each",
                  flush=True)
        order = list(workers) if r % 2 == 0 else list(reversed(workers))
        for name in order:
            reply = workers[name].request(cmd="steps", n=args.steps)
            rounds[name].append(reply["ms"])
            losses[name] = reply["loss"]
        print(f"  round {r + 1}/{args.rounds}: " + ", ".join(
            f"{name} {fmt_ms(statistics.median(rounds[name][-1]))}" for name in workers)
            + f" ms/step; {PRODUCTS} {fmt_ms(statistics.median(products[-1]))}; sgemm "
            f"{rates[-1]:.0f} GFLOP/s (one core's x cores {core_rates[-1]:.0f})", flush=True)
    return {"batch": batch_info, "setup": setups, "rounds_ms": rounds, "last_loss": losses,
            "flops": flops, "gemm_gflops": rates, "cores_gemm_gflops": core_rates,
            "products_ms": products}


def report_steps(result, finals):
    rounds = result["rounds_ms"]
    medians = {name: statistics.median([t for rnd in rs for t in rnd])
               for name, rs in rounds.items()}
    round_medians = {name: [statistics.median(rnd) for rnd in rs] for name, rs in rounds.items()}
    # The GEMM-bound limit: the step's products at the rate of a large square sgemm
    # measured in the same round, on the same cores (no step can multiply faster).
    flops, rates = result["flops"]["total"], result["gemm_gflops"]
    limits_ms = [flops / (rate * 1e6) for rate in rates]
    result["limit"] = {"flops": flops, "gemm_gflops_per_round": rates,
                       "limit_ms_per_round": limits_ms}
    # About the least a step that makes its products through BLAS can take: those
    # products alone, no other work, in parts as minivae's step runs them
    products = result["products_ms"]
    medians[PRODUCTS] = statistics.median([t for rnd in products for t in rnd])
    round_medians[PRODUCTS] = [statistics.median(rnd) for rnd in products]
    summary = {}
    rows = []
    for name in [*rounds, PRODUCTS]:
        ms = medians[name]
        entry = {"ms_per_step": ms, "round_medians_ms": round_medians[name],
                 "images_per_s": BATCH / ms * 1e3,
                 "projected_epoch_s": STEPS_PER_EPOCH * ms / 1e3,
                 "peak_rss_mb": finals[name]["peak_rss_mb"] if name in finals else None}
        ratio = "-"
        if "minivae" in rounds and name != "minivae":
            per_round = [a / b for a, b in zip(round_medians["minivae"], round_medians[name])]
            entry["minivae_over_this"] = {"median": statistics.median(per_round),
                                          "min": min(per_round), "max": max(per_round)}
            ratio = (f"{statistics.median(per_round):.3f}x "
                     f"({min(per_round):.3f}-{max(per_round):.3f})")
        over = [t / limit for t, limit in zip(round_medians[name], limits_ms)]
        entry["over_limit"] = {"median": statistics.median(over), "min": min(over),
                               "max": max(over)}
        summary[name] = entry
        rows.append([name, fmt_ms(ms), f"{fmt_ms(min(round_medians[name]))}-"
                     f"{fmt_ms(max(round_medians[name]))}", f"{entry['images_per_s']:.0f}",
                     f"{entry['projected_epoch_s']:.1f}",
                     "-" if entry["peak_rss_mb"] is None else f"{entry['peak_rss_mb']:.0f}",
                     f"{statistics.median(over):.2f}x ({min(over):.2f}-{max(over):.2f})", ratio])
    print()
    print_table(["contender", "ms/step", "round range", "images/s", "s/epoch",
                 "peak RSS MB", "/ limit", "minivae / this"], rows)
    print()
    print("ms/step: median of all timed steps; round range: min-max of the per-round medians;")
    print(f"s/epoch: {STEPS_PER_EPOCH} steps at the median (no validation); minivae / this: "
          "median (min-max) of the per-round ratios")
    print(f"limit: {flops / 1e9:.2f} GFLOP of products at the round's 2048^3 sgemm rate "
          f"(median {statistics.median(rates):.0f} GFLOP/s, {min(rates):.0f}-{max(rates):.0f}: "
          f"{fmt_ms(statistics.median(limits_ms))} ms); / limit: the per-round median step "
          f"over the round's limit, median (min-max); one core's best 1024^3 sgemm "
          f"times the cores: median {statistics.median(result['cores_gemm_gflops']):.0f} "
          f"GFLOP/s (when far above the 2048^3 rate, load held the large one up)")
    print(f"{PRODUCTS}: the step's {flops / 1e9:.2f} GFLOP as the GEMMs of its layers, each "
          f"one numpy matmul at its shape, back to back in minivae's parts on one BLAS thread "
          f"each, with nothing else (no gather, scatter, activation, loss, Adam or Python): a "
          f"near-floor for a step that makes its products through numpy's BLAS (chunking a "
          f"product for the cache beats it by a few percent)")
    if "keras" in round_medians:
        per_round = [p / k for p, k in zip(round_medians[PRODUCTS], round_medians["keras"])]
        summary[PRODUCTS]["over_keras"] = {"median": statistics.median(per_round),
                                           "min": min(per_round), "max": max(per_round)}
        print(f"{PRODUCTS} / keras: {statistics.median(per_round):.3f}x "
              f"({min(per_round):.3f}-{max(per_round):.3f}) per round")
    return summary


def run_epoch(args, workers):
    results = {}
    for name, worker in workers.items():
        print(f"  {name}: {args.epochs} epoch(s) of fit ...", flush=True)
        results[name] = worker.request(cmd="epoch", epochs=args.epochs, limit=args.limit)
        print(f"    {results[name]['seconds']:.1f} s on {results[name]['train']['n']} + "
              f"{results[name]['validation']['n']} images; final "
              + ", ".join(f"{k} {v:.2f}" for k, v in results[name]["final"].items()), flush=True)
    return results


def report_epoch(results, finals):
    rows = []
    for name, r in results.items():
        ratio = "-"
        if name != "minivae" and "minivae" in results:
            ratio = f"{results['minivae']['seconds'] / r['seconds']:.2f}x"
        rows.append([name, f"{r['seconds']:.1f}", f"{r['train']['n']}+{r['validation']['n']}",
                     f"{finals[name]['peak_rss_mb']:.0f}", ratio])
    print()
    print_table(["contender", "fit s", "images (train+val)", "peak RSS MB", "minivae / this"],
                rows)
    print("fit s: wall time of fit for the epoch(s), validation included; Keras's includes "
          "tracing its train and test functions")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--contenders", nargs="+", choices=list(CONTENDERS), metavar="NAME",
                        help=f"a subset of: {', '.join(repr(c) for c in CONTENDERS)} (default: "
                        f"all but {ONE_CORE!r}; {BASELINE} only with --baseline)")
    parser.add_argument("--baseline", type=Path, metavar="PATH",
                        help=f"another checkout of minivae (a directory holding minivae/), "
                        f"measured as the contender {BASELINE!r} in the same rounds")
    parser.add_argument("--epoch", action="store_true",
                        help="time real epochs of fit (minivae contenders and Keras); minutes")
    parser.add_argument("--epochs", type=int, default=1, help="epochs for --epoch")
    parser.add_argument("--limit", type=int, help="--epoch on the first LIMIT images of each "
                        "split (a quick check of the harness, not a measurement)")
    _common.add_environment_flags(parser, "hold PyTorch's and TensorFlow's kernels to the "
                                  "vector extension of the kernels numpy's OpenBLAS runs in the "
                                  "workers (ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--layout", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return args
    names = list(args.contenders or [n for n in CONTENDERS if n not in OPT_IN])
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        if not (args.baseline / "minivae" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline}: expected a checkout of minivae, a "
                         f"directory holding minivae/__init__.py")
        if BASELINE not in names:
            names.append(BASELINE)
    elif BASELINE in names:
        parser.error(f"the contender {BASELINE!r} needs --baseline PATH")
    if args.epoch:
        names = [n for n in names if n in EPOCH_CONTENDERS]
    args.names = names
    args.limits = _common.framework_limits(parser, args)
    return args


def main():
    args = parse_args()
    if args.worker == "minivae":
        return minivae_worker(args.mode, args.tree, args.cores)
    if args.worker == "gemm":
        return gemm_worker()
    if args.worker in ("torch", "keras"):
        import _frameworks
        return (_frameworks.torch_worker(args.layout) if args.worker == "torch"
                else _frameworks.keras_worker())

    load_at_start = _common.load_note()
    checkouts = {"minivae": f"{_common.REPO} ({_common.describe_checkout(_common.REPO)})"}
    if args.baseline is not None:
        checkouts[BASELINE] = f"{args.baseline} ({_common.describe_checkout(args.baseline)})"
    mode = "epoch" if args.epoch else "steps"
    print("; ".join(f"{k} from {v}" for k, v in checkouts.items()))
    print(f"{_common.cpu_model()}, {_common.machine_report()['cpus']} CPUs; mode {mode}; "
          f"{load_at_start}", flush=True)
    print(_common.pin_note(args.as_environment))
    workers, skipped = start_workers(args.names, args, args.limits)
    for name, why in skipped.items():
        print(f"  {name}: skipped ({why})")
    try:
        blas = _common.print_worker_blas(workers, args.match_isa, args.limits, "PyTorch and Keras")
        if args.dry_run:
            result = None
        elif args.epoch:
            result = {"epochs": args.epochs, "limit": args.limit,
                      "fit": run_epoch(args, workers)}
        else:
            result = run_steps(args, workers)
    finally:
        finals = {name: worker.close() for name, worker in workers.items()}
    if result is None:
        print("--dry-run: nothing timed, nothing written")
        return 0
    if args.epoch:
        report_epoch(result["fit"], finals)
    else:
        result["summary"] = report_steps(result, finals)
    print("threads between steps (DataParallel holds BLAS to one thread during its steps; "
          "the rest at their defaults):")
    for name, final in finals.items():
        print(f"  {name}: {_common.describe_threads(final['threads'])}")
    path = _common.write_results("bench_train" + ("_epoch" if args.epoch else ""), {
        "script": "bench_train.py", "mode": mode, "batch": BATCH, "dtype": "float32",
        "rounds": args.rounds, "steps": args.steps, "warmup": args.warmup,
        "checkouts": checkouts, "machine": _common.machine_report(),
        "load_at_start": load_at_start, "blas_pin": _common.blas_pin(),
        "as_environment": args.as_environment, "workers_blas": blas,
        "isa": _common.describe_blas(next(iter(blas.values()))) if blas else None,
        "framework_isa_limits": args.limits, "skipped": skipped, "processes": finals,
        **result})
    print(f"at the end: {_common.load_note()}")
    print(f"wrote {path.relative_to(_common.REPO)}")


if __name__ == "__main__":
    sys.exit(main())
