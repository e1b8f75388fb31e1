"""Planted bugs: how often each gradient checker catches a wrong backward pass, and
how often it cries wolf on a right one.

The corpus (benchmarks/_planted_bugs.py) is NumPy forward passes with their
backward passes, and realistic bugs planted in those backward passes: dense,
convolution, transposed convolution, activations, the VAE's sampling and KL,
batch normalisation, softmax, layouts, state and noise. Each row runs over
--seeds seeds, each seed drawing its own shapes and values, through every
checker at its defaults, as a user would call it:

    minivae       minivae.gradcheck.check_vjp(f, vjp, *inputs)            FAIL = caught
    minivae dir   the same with directions=3 (three random directions per input)
    torch         torch.autograd.gradcheck on a torch.autograd.Function around the
                  NumPy code (eps 1e-6, atol 1e-5, rtol 1e-3)
    torch fast    the same with fast_mode=True
    jax           jax.test_util.check_vjp(f, f_vjp, args) (eps 1e-4, tolerance 1e-5)

Any exception a checker raises counts as caught (an error is what the user
sees). PyTorch and JAX run in their own venvs (benchmarks/README.md), one worker
process each, asked in turn. The script prints the table and writes
benchmarks/results/bench_gradcheck-<timestamp>.json; it never asserts.

    python3 benchmarks/bench_gradcheck.py [--seeds 10] [--rows conv softmax]
                                           [--no-torch] [--no-jax] [--skip-large]
"""

import argparse
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (puts the repository first on sys.path)
import numpy as np  # noqa: E402

from _planted_bugs import BUGS, CORRECT, MAKERS, float_inputs, reseeded  # noqa: E402

_common.VENV_PYTHON.setdefault("jax", os.environ.get("MINIVAE_JAX_PYTHON",
                                                     "/opt/jaxvenv/bin/python"))
_common.VENV_MODULE.setdefault("jax", "jax")
CHECKERS = ("minivae", "minivae dir", "torch", "torch fast", "jax")
LARGE = {"mse"}             # 102,400 inputs: minutes per seed for the full checks


def case(maker, bug, seed):
    """(f, vjp, inputs, extra): extra says how a user would check this code (_planted_bugs)."""
    made = MAKERS[maker](np.random.default_rng(seed), bug)
    return made if len(made) == 4 else (*made, {})


def peer_case(maker, bug, seed):
    """The case as torch's and jax's checkers take it: integer inputs closed over (they
    differentiate every argument), and numpy's global state re-seeded before every call
    of f where the row says a user would (the remedy minivae's global_seed applies)."""
    f, vjp, inputs, extra = case(maker, bug, seed)
    if extra.get("global_seed"):
        f = reseeded(f, seed)
    return float_inputs(f, vjp, inputs)


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:160]


# -------------------------------------------------------------- the checkers --

def check_minivae(maker, bug, seed, directions=0):
    """minivae as a user calls it: check_vjp(f, vjp, *inputs), or check_layer(layer, x,
    **options) where the row's code is a layer object; global_seed where the row says."""
    from minivae.gradcheck import check_layer, check_vjp
    f, vjp, inputs, extra = case(maker, bug, seed)
    options = {"directions": directions, "rng": np.random.default_rng(seed)}
    if extra.get("global_seed"):
        options["global_seed"] = seed
    start = time.perf_counter()
    hints = []
    try:
        if "layer" in extra:
            report = check_layer(extra["layer"], *extra["layer_inputs"],
                                 **extra.get("options", {}), **options)
        else:
            report = check_vjp(f, vjp, *inputs, **options)
        verdict, how = report.verdict, "; ".join(
            f"{r.name} {r.verdict} {r.relative_error:.1e}" for r in report)
        hints = [[r.name, kind, text] for r in report
                 for kind, text in zip(getattr(r, "hint_kinds", None)
                                       or [_old_kind(t) for t in r.hints], r.hints)]
    except Exception as exc:
        verdict, how = "error", _first_line(exc)
    return {"caught": verdict in ("FAIL", "error"), "verdict": verdict, "how": how,
            "hints": hints, "seconds": time.perf_counter() - start}


OLD_KINDS = (("x numerical", "ratio"), ("analytic is 0", "zero"), ("axes", "layout"),
             ("rotated", "rotated"), ("errors only at the", "border"), ("over the batch", "batch"))


def _old_kind(text):
    """The kind of a hint from a minivae that did not name kinds (before issue 24), by its
    words, so that a checkout from before can be measured with this script."""
    return next((kind for words, kind in OLD_KINDS if words in text), "other")


def check_torch(maker, bug, seed, fast=False):
    import torch

    class NumpyFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, f, vjp, *tensors):
            ctx.vjp = vjp
            ctx.save_for_backward(*tensors)
            return torch.from_numpy(np.array(f(*[t.detach().numpy() for t in tensors]),
                                             dtype=np.float64))

        @staticmethod
        def backward(ctx, dy):
            arrays = [t.detach().numpy() for t in ctx.saved_tensors]
            grads = ctx.vjp(dy.detach().numpy().copy(), *arrays)
            return (None, None, *[torch.from_numpy(np.array(g, dtype=np.float64))
                                  for g in grads])

    f, vjp, inputs = peer_case(maker, bug, seed)
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    start = time.perf_counter()
    try:
        torch.autograd.gradcheck(lambda *t: NumpyFunction.apply(f, vjp, *t), tensors,
                                 fast_mode=fast)
        caught, how = False, "passed"
    except Exception as exc:
        caught, how = True, _first_line(exc)
    return {"caught": caught, "verdict": "FAIL" if caught else "pass", "how": how,
            "seconds": time.perf_counter() - start}


def check_jax(maker, bug, seed):
    from jax.test_util import check_vjp
    f, vjp, inputs = peer_case(maker, bug, seed)

    def f_vjp(*args):
        return f(*args), (lambda ct: tuple(vjp(np.array(ct, dtype=np.float64), *args)))

    start = time.perf_counter()
    try:
        check_vjp(f, f_vjp, tuple(inputs))
        caught, how = False, "passed"
    except Exception as exc:
        caught, how = True, _first_line(exc)
    return {"caught": caught, "verdict": "FAIL" if caught else "pass", "how": how,
            "seconds": time.perf_counter() - start}


def serve(name):
    """A worker's loop (under the torch or jax venv)."""
    if name == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        version = jax.__version__
        handlers = {"check": lambda maker, bug, seed, fast=False: check_jax(maker, bug, seed)}
    else:
        import torch
        version = torch.__version__
        handlers = {"check": check_torch}
    handlers["version"] = lambda: {"version": version}
    _common.SETTLE_S = 0.0          # no timing contest here: nothing to settle
    _common.serve(handlers)


# ------------------------------------------------------------- orchestration --

def start_workers(args):
    workers, versions = {}, {}
    for kind, flag in (("torch", args.no_torch), ("jax", args.no_jax)):
        if flag:
            print(f"{kind}: skipped (--no-{kind})")
            continue
        python, why = _common.venv_python(kind)
        if python is None:
            print(f"{kind}: skipped ({why})")
            continue
        workers[kind] = _common.Worker(kind, python, os.path.abspath(__file__))
        versions[kind] = workers[kind].request(cmd="version")["version"]
    return workers, versions


def run_row(maker, bug, seeds, workers):
    results = {c: [] for c in CHECKERS}
    for seed in range(seeds):
        results["minivae"].append(check_minivae(maker, bug, seed))
        results["minivae dir"].append(check_minivae(maker, bug, seed, directions=3))
        if "torch" in workers:
            for fast, label in ((False, "torch"), (True, "torch fast")):
                results[label].append(workers["torch"].request(
                    cmd="check", maker=maker, bug=bug, seed=seed, fast=fast))
        if "jax" in workers:
            results["jax"].append(workers["jax"].request(cmd="check", maker=maker, bug=bug,
                                                         seed=seed))
    return results


HEADERS = [*CHECKERS, "hint", "misleading"]


def judge_hints(outcomes, apt):
    """Marks each of minivae's outcomes: an apt hint given, a misleading one given."""
    for o in outcomes:
        kinds = {kind for _, kind, _ in o.get("hints", [])}
        o["apt_hint"] = bool(kinds & apt)
        o["misleading"] = sorted(kinds - apt)


def hint_cells(outcomes, apt, kind):
    hinted = f"{sum(o['apt_hint'] for o in outcomes)}/{len(outcomes)}" \
        if apt and kind == "bug" else "-"
    return [hinted, f"{sum(bool(o['misleading']) for o in outcomes)}/{len(outcomes)}"]


def cell(outcomes):
    if not outcomes:
        return "-"
    text = f"{sum(o['caught'] for o in outcomes)}/{len(outcomes)}"
    unsure = sum(o["verdict"] == "inconclusive" for o in outcomes)
    return text + (f" ({unsure}?)" if unsure else "")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=10, help="seeds per row (default 10)")
    p.add_argument("--rows", nargs="+", metavar="WORD",
                   help="only rows whose maker, family or bug contains one of these words")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-jax", action="store_true")
    p.add_argument("--skip-large", action="store_true",
                   help="leave out the 102,400-entry MSE row (minutes per seed)")
    p.add_argument("--large-only", action="store_true", help="run that row alone")
    p.add_argument("--large-seeds", type=int, metavar="N",
                   help="seeds for that row (default --seeds)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return serve(args.worker)

    def wanted(*words):
        text = " ".join(words).lower()
        return not args.rows or any(w.lower() in text for w in args.rows)

    rows = [("bug", fam, maker, bug, what, apt) for fam, maker, bug, what, apt in BUGS
            if wanted(fam, maker, bug)]
    rows += [("correct", "right", maker, None, what, set()) for maker, what in CORRECT
             if wanted("right", maker) and not (args.skip_large and maker in LARGE)]
    if args.large_only:
        rows = [row for row in rows if row[2] in LARGE]
    workers, versions = start_workers(args)
    import minivae
    versions["minivae"] = minivae.__version__
    print(f"{_common.load_note()}; numpy {np.__version__}; "
          + "; ".join(f"{k} {v}" for k, v in versions.items()))
    table, records = [], []
    started = time.perf_counter()
    try:
        for kind, fam, maker, bug, what, apt in rows:
            seeds = args.large_seeds if maker in LARGE and args.large_seeds else args.seeds
            results = run_row(maker, bug, seeds, workers)
            label = f"{fam}: {what}" if kind == "bug" else f"right: {what}"
            judge_hints(results["minivae"], apt)
            table.append([label + (f" ({seeds} seeds)" if seeds != args.seeds else "")]
                         + [cell(results[c]) for c in CHECKERS]
                         + hint_cells(results["minivae"], apt, kind))
            records.append({"kind": kind, "family": fam, "maker": maker, "bug": bug,
                            "what": what, "apt_hints": sorted(apt), "results": results})
            print(f"  {label:<58} " + "  ".join(f"{c}: {table[-1][i + 1]}"
                                                 for i, c in enumerate(HEADERS)), flush=True)
    finally:
        for w in workers.values():
            w.close()
    print()
    print(f"Caught (planted bugs) and false alarms (right code), {args.seeds} seeds per row; "
          f"'(k?)': k inconclusive verdicts, neither caught nor alarms. hint: runs where "
          f"minivae gave a hint naming the planted cause (of the rows that have one); "
          f"misleading: runs where it gave a hint that does not fit")
    _common.print_table(["row"] + HEADERS, table)
    summary = summarize(records)
    print()
    for line in summary["lines"]:
        print(line)
    print(f"total {time.perf_counter() - started:.0f} s")
    path = _common.write_results("bench_gradcheck", {
        "seeds": args.seeds, "versions": versions, "machine": _common.machine_report(),
        "rows": records, "summary": summary["numbers"]})
    print(f"wrote {path}")
    return 0


def summarize(records):
    numbers, lines = {}, []
    for c in CHECKERS:
        bugs = [o for r in records if r["kind"] == "bug" for o in r["results"][c]]
        right = [o for r in records if r["kind"] == "correct" for o in r["results"][c]]
        if not bugs and not right:
            continue
        seconds = sum(o["seconds"] for o in bugs + right)
        numbers[c] = {"caught": sum(o["caught"] for o in bugs), "bugs": len(bugs),
                      "false_alarms": sum(o["caught"] for o in right), "right": len(right),
                      "inconclusive": sum(o["verdict"] == "inconclusive" for o in bugs + right),
                      "seconds": seconds}
        n = numbers[c]
        lines.append(f"{c:<12} caught {n['caught']}/{n['bugs']}, false alarms "
                     f"{n['false_alarms']}/{n['right']}, inconclusive {n['inconclusive']}, "
                     f"{seconds:.1f} s in the checker")
    mine = [(r, o) for r in records for o in r["results"]["minivae"]]
    with_cause = [o for r, o in mine if r["kind"] == "bug" and r["apt_hints"]]
    misleading = [(r["what"], k) for r, o in mine for k in o["misleading"]]
    numbers["hints"] = {"apt": sum(o["apt_hint"] for o in with_cause), "runs": len(with_cause),
                        "misleading": len(misleading)}
    lines.append(f"minivae's hints: the planted cause named in {numbers['hints']['apt']} of "
                 f"{len(with_cause)} runs of rows with a nameable cause; misleading hints in "
                 f"{len({id(o) for r, o in mine if o['misleading']})} runs"
                 + (": " + "; ".join(sorted({f'{w} ({k})' for w, k in misleading}))
                    if misleading else ""))
    for peer in CHECKERS[2:]:
        behind = [r["what"] for r in records if r["kind"] == "bug" and r["results"][peer]
                  and sum(o["caught"] for o in r["results"]["minivae"])
                  < sum(o["caught"] for o in r["results"][peer])]
        if any(r["results"][peer] for r in records):
            lines.append(f"rows where minivae catches fewer than {peer}: "
                         f"{', '.join(behind) if behind else 'none'}")
    return {"numbers": numbers, "lines": lines}


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        traceback.print_exc()
        sys.exit(1)
