"""What the benchmark scripts share: paths, timing summaries, JSON results,
thread and machine reports, and the pipe protocol to worker processes.

Every script imports this module first. It puts the repository root at the
front of sys.path, so `import minivae` always reads this working tree (even in
a venv where another copy of minivae is installed), and so a rerun after a
change in minivae/ measures the change.

Workers (a PyTorch or TensorFlow contender) are the same script started again
under another venv's interpreter with `--worker NAME`. They talk JSON, one
object per line: the orchestrator writes a request on the worker's stdin, the
worker answers on a private duplicate of its stdout. The worker's fd 1 is
pointed at stderr first, so a library that prints (Keras, TensorFlow) cannot
corrupt the protocol.
"""

import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"

# Interpreters of the optional contenders; an environment variable overrides each.
VENV_PYTHON = {
    "torch": os.environ.get("MINIVAE_TORCH_PYTHON", "/opt/torchvenv/bin/python"),
    "tf": os.environ.get("MINIVAE_TF_PYTHON", "/opt/tfvenv/bin/python"),
}
# Imported by the probe that decides whether a venv can run a contender.
VENV_MODULE = {"torch": "torch", "tf": "tensorflow"}


# ------------------------------------------------------------------ numbers --

def summary(samples_ms):
    """median, min, max and count of a list of times in milliseconds."""
    return {"median": statistics.median(samples_ms), "min": min(samples_ms),
            "max": max(samples_ms), "n": len(samples_ms)}


def fmt_ms(ms):
    """Milliseconds with about three significant digits."""
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def print_table(headers, rows, aligns=None):
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    aligns = aligns or ["<"] + [">"] * (len(headers) - 1)

    def line(values):
        return "  ".join(f"{v:{a}{w}}" for v, a, w in zip(values, aligns, widths)).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))


# ------------------------------------------------------- machine and threads --

def peak_rss_mb():
    """This process's peak resident set size (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def thread_report():
    """BLAS/OpenMP thread pools as threadpoolctl sees them, plus the usual env vars.

    Thread counts are left at their defaults; this only reports them.
    """
    report = {"cpus_available": len(os.sched_getaffinity(0)),
              "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                 "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                                 "TF_NUM_INTEROP_THREADS") if k in os.environ}}
    import numpy  # noqa: F401  (loads the BLAS, so that its pool is there to report)
    try:
        import threadpoolctl
    except ImportError:
        report["threadpools"] = "threadpoolctl not installed (pip install threadpoolctl)"
        return report
    report["threadpools"] = [
        {k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                  "threading_layer", "architecture", "prefix")}
        for info in threadpoolctl.threadpool_info()]
    return report


def cpu_vector_isa():
    """The widest x86 vector extension the CPU reports: "AVX-512", "AVX2", "AVX", "SSE"
    (or "unknown" off Linux/x86)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((set(line.split(":", 1)[1].split()) for line in f
                          if line.startswith("flags")), set())
    except OSError:
        return "unknown"
    for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"),
                       ("sse2", "SSE")):
        if flag in flags:
            return name
    return "unknown"


# OpenBLAS's x86 kernel families (threadpoolctl's "architecture") by the widest vector
# extension they use, and the settings that hold the frameworks' kernels to the same:
# oneDNN's ONEDNN_MAX_CPU_ISA (TensorFlow's and PyTorch's convolutions) and PyTorch's
# ATEN_CPU_CAPABILITY (its own vectorized loops).
OPENBLAS_ISA = {"SkylakeX": "AVX-512", "Cooperlake": "AVX-512", "SapphireRapids": "AVX-512",
                "Haswell": "AVX2", "Zen": "AVX2", "Sandybridge": "AVX", "Bulldozer": "AVX",
                "Piledriver": "AVX", "Steamroller": "AVX", "Excavator": "AVX",
                "Nehalem": "SSE", "Core2": "SSE", "Prescott": "SSE", "Katmai": "SSE",
                "Barcelona": "SSE", "Atom": "SSE"}
ISA_LIMITS = {"AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
              "AVX": {"ONEDNN_MAX_CPU_ISA": "AVX", "ATEN_CPU_CAPABILITY": "default"},
              "SSE": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"}}


def numpy_blas_isa():
    """(OpenBLAS kernel family numpy uses, its vector extension), from threadpoolctl;
    (None, None) when that cannot be told."""
    try:
        import numpy
        import threadpoolctl
    except ImportError:
        return None, None
    home = os.path.dirname(numpy.__file__)
    for info in threadpoolctl.threadpool_info():
        if info.get("internal_api") == "openblas" and info["filepath"].startswith(home):
            family = info.get("architecture")
            return family, OPENBLAS_ISA.get(family)
    return None, None


def isa_report():
    """One line: the CPU's vector extension, the kernels numpy's OpenBLAS runs, and
    OPENBLAS_CORETYPE when the environment pins them."""
    family, isa = numpy_blas_isa()
    pin = os.environ.get("OPENBLAS_CORETYPE")
    blas = f"numpy's OpenBLAS runs its {family} kernels ({isa or '?'})" if family \
        else "numpy's OpenBLAS kernels: unknown (needs threadpoolctl)"
    return (f"CPU vector extension: {cpu_vector_isa()}; {blas}"
            + (f"; OPENBLAS_CORETYPE={pin} is set in the environment" if pin else ""))


def describe_threads(report):
    """One line, e.g. 'openblas 0.3.31 x2 (pthreads); libgomp x2'."""
    pools = report.get("threadpools")
    if isinstance(pools, str):
        return pools
    parts = [f"{p['internal_api']} {p.get('version') or ''} x{p['num_threads']}".replace("  ", " ")
             for p in pools]
    return "; ".join(parts) or "no BLAS/OpenMP pools loaded"


def machine_report():
    import numpy as np
    blas = "unknown"
    try:
        config = np.show_config(mode="dicts")
        info = config["Build Dependencies"]["blas"]
        blas = f"{info.get('name')} {info.get('version')}"
    except Exception:       # older NumPy: no dict mode; the thread report still names the BLAS
        pass
    return {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "numpy_blas": blas, "platform": platform.platform(),
            "load_average_1_5_15min": os.getloadavg()}


def load_note():
    """The 1-minute load average, for the header of a table: above the core count,
    other processes shared the cores during the run."""
    one = os.getloadavg()[0]
    cores = len(os.sched_getaffinity(0))
    busy = " (busy machine: absolute times are inflated; compare the ratios)" \
        if one > cores + 0.5 else ""
    return f"load average {one:.1f} on {cores} cores{busy}"


# ------------------------------------------------------------------ results --

def timestamp():
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def write_results(stem, payload):
    """benchmarks/results/<stem>-<timestamp>.json; returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stem}-{timestamp()}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


# ------------------------------------------------------------------ workers --

def venv_python(kind):
    """The interpreter of venv `kind` ("torch", "tf") if it exists and imports its
    framework; otherwise None and a reason."""
    python = VENV_PYTHON[kind]
    if not os.access(python, os.X_OK):
        return None, f"{python} not found"
    probe = subprocess.run([python, "-c", f"import {VENV_MODULE[kind]}"], capture_output=True,
                           text=True, env=worker_env(), timeout=300)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"{python} cannot import {VENV_MODULE[kind]}: {last}"
    return python, None


def worker_env(extra=None):
    env = dict(os.environ, **(extra or {}))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")     # TensorFlow's banners go nowhere useful
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Worker:
    """A contender in its own process, answering JSON requests one at a time.

    Only one worker computes at any moment (the others block reading stdin), so
    contenders never compete for the two cores.
    """

    def __init__(self, name, python, script, args=(), env=None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"bench-{name}-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen([python, str(script), "--worker", name, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, env=worker_env(env),
                                     cwd=str(REPO))

    def request(self, **message):
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        return self.receive()

    def receive(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.log.flush()
            self.log.seek(0)
            tail = "".join(self.log.readlines()[-25:])
            raise RuntimeError(f"worker {self.name} exited with status {self.proc.returncode}; "
                               f"the end of its log ({self.log.name}):\n{tail}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"worker {self.name} failed: {reply['error']}")
        return reply

    def close(self):
        """Ask for the final report (peak RSS, threads) and wait for the exit."""
        try:
            reply = self.request(cmd="quit")
        finally:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
            self.log.close()
        os.unlink(self.log.name)
        return reply


# Seconds a process waits before timing anything after another one computed:
# OpenBLAS's idle threads spin for ~0.1 s after a call (OpenMP's briefly too),
# and that spinning would be charged to whoever runs next.
SETTLE_S = 0.3


def serve(handlers):
    """The worker's loop: read a request, call handlers[cmd](**request), answer.

    Each request starts after SETTLE_S of sleep. "quit" is answered with the
    process's peak RSS and thread report.
    """
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                   # anything printed from here on goes to stderr
    sys.stdout = sys.stderr

    def send(obj):
        channel.write(json.dumps(obj) + "\n")
        channel.flush()

    for line in sys.stdin:
        request = json.loads(line)
        cmd = request.pop("cmd")
        if cmd == "quit":
            send({"peak_rss_mb": peak_rss_mb(), "threads": thread_report()})
            return
        time.sleep(SETTLE_S)
        try:
            send(handlers[cmd](**request))
        except Exception as exc:    # reported to the orchestrator, which stops with it
            import traceback
            traceback.print_exc()
            send({"error": f"{type(exc).__name__}: {exc}"})
