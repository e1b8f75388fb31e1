"""The benchmark scripts still run: bench_train.py's minivae contender, briefly.

A smoke test, not a measurement: two steps, no timing asserted. It checks that the
script runs end to end on this working tree, reports the instruction sets it
compares, and writes its JSON.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "bench_train.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), "--contenders", "minivae",
                           "--rounds", "1", "--steps", "2", "--warmup", "0", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=300)


def test_bench_train_runs_and_names_the_instruction_sets():
    result = _run()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CPU vector extension: " in out
    pin = os.environ.get("OPENBLAS_CORETYPE")
    if pin:                              # the environment's pin is named, never hidden
        assert f"OPENBLAS_CORETYPE={pin}" in out
    written = REPO / out.strip().splitlines()[-1].split("wrote ", 1)[1]
    try:
        payload = json.loads(written.read_text())
        assert payload["framework_isa_limits"] == {}      # the default run limits nothing
        assert payload["isa"].startswith("CPU vector extension: ")
        assert len(payload["rounds_ms"]["minivae"][0]) == 2
    finally:
        written.unlink()


def _benchmarks_common():
    spec = importlib.util.spec_from_file_location("_common", REPO / "benchmarks" / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_match_isa_needs_to_know_numpys_kernels():
    """--match-isa reads numpy's OpenBLAS kernel family through threadpoolctl; where it
    cannot (no threadpoolctl, or a family it does not know) the script stops with a
    message that says so, before measuring anything."""
    common = _benchmarks_common()
    family, isa = common.numpy_blas_isa()
    result = _run("--match-isa")
    if isa is None:
        assert result.returncode == 2
        assert "--match-isa needs threadpoolctl" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    limits = " ".join(f"{k}={v}" for k, v in common.ISA_LIMITS.get(isa, {}).items())
    assert f"--match-isa: PyTorch and Keras run with {limits or 'no limit'}" in result.stdout
    written = REPO / result.stdout.strip().splitlines()[-1].split("wrote ", 1)[1]
    written.unlink()
