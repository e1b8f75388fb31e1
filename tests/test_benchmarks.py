"""The benchmark scripts still run, briefly: smoke tests, not measurements.

A step or a repeat each, no timing asserted. They check that each script runs
end to end on this working tree with the API it measures (the DataParallel
step, the whole-batch fast path, the reference switch, another checkout as a
baseline), reports the instruction sets and the BLAS pin, and writes its JSON.

The pin tests set OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE only in the environment
of a benchmark they start with --dry-run (workers started, nothing timed), never
in this process, so nothing else in the suite sees them.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
OLD_CHECKOUT = Path("/tmp/old")        # a checkout from before issue 12, where one exists
PIN = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576"}


def _run(script, *args, env=None):
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=300,
                          env=env)


def _train(*args, env=None):
    return _run("bench_train.py", "--rounds", "1", "--steps", "2", "--warmup", "0", *args,
                env=env)


def _written(result):
    """The JSON a run wrote (its path is on the last line), read and then deleted."""
    assert result.returncode == 0, result.stderr
    path = REPO / result.stdout.strip().splitlines()[-1].split("wrote ", 1)[1].split(" in ")[0]
    try:
        return json.loads(path.read_text())
    finally:
        path.unlink()


def _benchmarks_common():
    spec = importlib.util.spec_from_file_location("_common", BENCHMARKS / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _environment(**changes):
    """This process's environment with `changes` (None unsets), for a child only."""
    env = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_bench_train_runs_every_minivae_contender_and_a_baseline_of_this_tree():
    """--baseline . measures this same tree as minivae@baseline (CI has no other checkout)."""
    result = _train("--contenders", "minivae", "minivae-fit", "minivae-whole",
                    "minivae-reference", "--baseline", ".")
    out = result.stdout
    assert "CPU vector extension: " in out
    assert f"minivae@baseline from {REPO} (" in out
    assert "minivae: ready" in out and "training.train_step(model, x, DataParallel(model))" in out
    assert "model.train_step, whole batch, fast path" in out
    assert "model.train_step, whole batch, reference" in out
    payload = _written(result)
    assert set(payload["rounds_ms"]) == {"minivae", "minivae-fit", "minivae-whole",
                                         "minivae-reference", "minivae@baseline"}
    assert all(len(rounds[0]) == 2 for rounds in payload["rounds_ms"].values())
    assert payload["framework_isa_limits"] == {}       # the default run limits nothing
    assert "minivae_over_this" in payload["summary"]["minivae@baseline"]
    # the limit: the products counted from the shapes, a GEMM rate for the round
    assert "step work: 8.71 GFLOP of products" in out and "/ limit" in out
    assert payload["flops"]["total"] == 8_707_276_800
    assert len(payload["gemm_gflops"]) == 1 and payload["gemm_gflops"][0] > 0
    assert payload["summary"]["minivae"]["over_limit"]["median"] > 0
    # the floor: the step's products alone, once a round, in the table and the JSON
    assert "products alone: 29 GEMMs per part" in out
    assert len(payload["products_ms"]) == 1 and len(payload["products_ms"][0]) == 5
    assert all(ms > 0 for ms in payload["products_ms"][0])
    floor = payload["summary"]["products alone"]
    assert floor["peak_rss_mb"] is None and floor["minivae_over_this"]["median"] > 0


def test_step_flops_counts_the_products_from_the_layer_shapes():
    """2 flops per multiply-add: forward, dW, and dx where the layer computes it."""
    from minivae.architectures import fashion_vae
    from minivae.layers import Dense
    from minivae.models import VAE, GaussianEncoder, Sequential
    common = _benchmarks_common()
    counted = common.step_flops(fashion_vae(seed=0), 100)
    # the book's layers at batch 100, multiply-adds of the forward pass (docs/fast.md):
    # 3 stride-2 convs, the heads, the decoder's Dense, 3 transposed convs, the last conv
    convs = [256 * 9 * 1 * 32, 64 * 9 * 32 * 64, 16 * 9 * 64 * 128]
    transposes = [16 * 9 * 128 * 128, 64 * 9 * 128 * 64, 256 * 9 * 64 * 32]
    macs = 100 * (sum(convs) + 2 * 2048 * 2 + 2 * 2048 + sum(transposes) + 1024 * 9 * 32)
    first = 100 * convs[0]                      # the first conv computes no dx
    assert counted["forward"] == 2 * macs
    assert counted["backward"] == 4 * macs - 2 * first
    assert counted["total"] == 8_707_276_800
    # a flat-vector model: a 784-400-20 MLP VAE
    mlp = VAE(GaussianEncoder([Dense(400, activation="relu")], 20),
              Sequential([Dense(400, activation="relu"), Dense(784)]),
              output_activation="sigmoid").build((784,))
    n_macs = 784 * 400 + 2 * 400 * 20 + 20 * 400 + 400 * 784
    first = 784 * 400
    assert common.step_flops(mlp, 10)["total"] == 10 * (6 * n_macs - 2 * first)


def test_step_products_are_the_counted_flops_as_gemms():
    """Each layer's three products as GEMM shapes: their flops are step_flops's count,
    the last conv is written over input pixels (the taps form) and the first conv has
    no dx."""
    from minivae.architectures import fashion_vae
    from minivae.layers import Dense
    from minivae.models import VAE, GaussianEncoder, Sequential
    common = _benchmarks_common()
    for model, n in [(fashion_vae(seed=0), 100), (fashion_vae(seed=0), 50),
                     (VAE(GaussianEncoder([Dense(400, activation="relu")], 20),
                          Sequential([Dense(784)]),
                          output_activation="sigmoid").build((784,)), 7)]:
        products = common.step_products(model, n)
        assert sum(2 * m * k * f for _, _, (m, k, f) in products) == \
            common.step_flops(model, n)["total"]
    products = common.step_products(fashion_vae(seed=0), 50)
    assert ("conv2d_3", "forward", (50 * 32 * 32, 32, 9)) in products
    assert ("conv2d", "forward", (50 * 16 * 16, 9, 32)) in products
    assert ("conv2d_transpose_2", "dx", (50 * 16 * 16, 288, 64)) in products
    assert [kind for name, kind, _ in products if name == "conv2d"] == ["forward", "dW"]
    assert len(products) == 29


def test_products_ms_times_every_part_together():
    common = _benchmarks_common()
    times = common.products_ms([[(30, 20, 10), (5, 7, 3)], [(30, 20, 10)]], repeats=3)
    assert len(times) == 3 and all(ms > 0 for ms in times)


@pytest.mark.skipif(not (OLD_CHECKOUT / "minivae" / "__init__.py").is_file(),
                    reason=f"no checkout of minivae at {OLD_CHECKOUT}")
def test_bench_train_baseline_runs_another_checkout():
    """Where a checkout from before issue 12 exists, the same worker runs its API."""
    result = _train("--contenders", "minivae", "--baseline", str(OLD_CHECKOUT))
    assert f"({OLD_CHECKOUT.resolve()}/minivae)" in result.stdout, result.stderr
    if not (OLD_CHECKOUT / "minivae" / "fast").is_dir():
        assert "before issue 12: model.train_step" in result.stdout
    assert set(_written(result)["rounds_ms"]) == {"minivae", "minivae@baseline"}


def test_bench_train_refuses_a_baseline_that_is_not_a_checkout(tmp_path):
    result = _run("bench_train.py", "--baseline", str(tmp_path))
    assert result.returncode == 2
    assert "expected a checkout of minivae" in result.stderr
    result = _run("bench_train.py", "--contenders", "minivae@baseline")
    assert result.returncode == 2
    assert "needs --baseline PATH" in result.stderr


@pytest.mark.parametrize("script, args", [
    ("bench_train.py", ["--contenders", "minivae"]),
    ("bench_layers.py", ["--no-torch"]),
])
@pytest.mark.parametrize("as_environment", [False, True])
def test_the_blas_pin_is_unset_in_the_workers_unless_kept(script, args, as_environment):
    """A pin in the parent's environment reaches the workers only with --as-environment;
    the worker itself reports what it sees (threadpoolctl, read in the worker)."""
    keep = ["--as-environment"] if as_environment else []
    result = _run(script, *args, *keep, "--dry-run", env=_environment(**PIN))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    line = next(line for line in lines if line.startswith("  minivae: "))
    pinned = " ".join(f"{k}={v}" for k, v in PIN.items())
    if as_environment:
        assert f"BLAS pin: {pinned} kept in the workers" in result.stdout
        assert line.endswith(f"pinned by {pinned}")
    else:
        assert f"BLAS pin: {pinned} is set in this environment and unset in the workers" \
            in result.stdout
        assert line.endswith("not pinned")
    assert "nothing timed" in result.stdout


def test_match_isa_needs_to_know_numpys_kernels():
    """--match-isa reads numpy's OpenBLAS kernel family in a worker's environment; where
    it cannot (no threadpoolctl, or a family it does not know) the script stops with a
    message that says so, before measuring anything."""
    common = _benchmarks_common()
    isa = common.probe_blas()["isa"]
    result = _run("bench_train.py", "--contenders", "minivae", "--match-isa", "--dry-run")
    if isa is None:
        assert result.returncode == 2
        assert "--match-isa needs threadpoolctl" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    limits = " ".join(f"{k}={v}" for k, v in common.ISA_LIMITS.get(isa, {}).items())
    assert f"--match-isa: PyTorch and Keras run with {limits or 'no limit'}" in result.stdout
    if not common.blas_pin():               # as CI runs it: the run says there is no pin
        assert "BLAS pin: none" in result.stdout


def test_bench_layers_times_the_fast_kernel_and_the_reference():
    result = _run("bench_layers.py", "--repeats", "1", "--warmup", "0", "--no-torch")
    out = result.stdout
    for kernel in ("Conv2DIm2col", "Conv2DTaps", "TransposeScatter", "TransposePhase"):
        assert kernel in out                # the book's layers use all four
    payload = _written(result)
    assert [row["layer"] for row in payload["layers"]][-1] == "conv2d_3"
    times = payload["layers"][0]["minivae"]["times_ms"]
    assert set(times) == {"forward", "backward", "ref_forward", "ref_backward",
                          "gemm_forward", "gemm_backward"}
    assert payload["minivae"]["reference_switch"] is False


@pytest.mark.parametrize("args", [[], ["--replica", "--reference"]])
def test_profile_step_runs(args):
    result = _run("profile_step.py", "--steps", "1", "--warmup", "0", *args)
    out = result.stdout
    assert "conv2d_transpose_2" in out and "inside the convolutions" in out
    payload = _written(result)
    assert payload["batch"] == (50 if args else 100)
    kernels = set(payload["kernels"].values())
    assert ("Conv2DTranspose" in kernels) == bool(args)     # the reference names the layer


def test_bench_folder_memory_measures_train_on_folders_and_a_baseline():
    # 20 and 30 images: the 10% held out must give the run's figures 2 codes or more
    result = _run("bench_folder_memory.py", "--sizes", "20", "30", "--baseline", str(REPO))
    report = _written(result)
    assert [(r["images"], r["contender"]) for r in report["runs"]] == [
        (20, "minivae"), (20, "minivae@baseline"), (30, "minivae"), (30, "minivae@baseline")]
    assert all(r["peak_rss_mb"] > 0 for r in report["runs"])
