"""benchmarks/bench_gradcheck.py runs end to end (it never asserts on its numbers)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_row_of_the_planted_bug_benchmark_runs_and_writes_json():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_gradcheck.py"),
                          "--seeds", "1", "--rows", "KL", "gaussian", "batchnorm_running",
                          "--no-torch", "--no-jax"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "KL: d log_var sign flipped" in out.stdout and "torch: skipped" in out.stdout
    path = Path(out.stdout.strip().splitlines()[-1].removeprefix("wrote "))
    record = json.loads(path.read_text())
    path.unlink()
    rows = {(r["maker"], r["bug"]): r["results"]["minivae"][0] for r in record["rows"]}
    assert rows[("kl", "log_var_sign")]["caught"] and not rows[("kl", None)]["caught"]
    # The hint columns: the swapped outputs named, nothing misleading on right code; a
    # numpy-ml layer with running statistics checked through check_layer.
    swapped = rows[("gaussian_nll", "outputs_swapped")]
    assert swapped["apt_hint"] and not swapped["misleading"]
    assert rows[("batchnorm_running", "running_stats")]["caught"]
    assert not rows[("batchnorm_running", None)]["caught"]
    assert "minivae's hints: the planted cause named in" in out.stdout
