"""What the benchmark scripts share: paths, timing summaries, JSON results,
thread and machine reports, the BLAS pin, and the pipe protocol to worker processes.

Every script imports this module first. It puts the repository root at the
front of sys.path, so `import minivae` always reads this working tree (even in
a venv where another copy of minivae is installed), and so a rerun after a
change in minivae/ measures the change. A worker that measures another
checkout (bench_train.py --baseline) puts that checkout in front instead.

Workers (each contender of bench_train.py, the layers of bench_layers.py) are
the same script started again, under this or another venv's interpreter, with
`--worker NAME`. They talk JSON, one object per line: the orchestrator writes a
request on the worker's stdin, the worker answers on a private duplicate of its
stdout. The worker's fd 1 is pointed at stderr first, so a library that prints
(Keras, TensorFlow) cannot corrupt the protocol.

The BLAS pin: OPENBLAS_CORETYPE (with OPENBLAS_L2_SIZE) holds numpy's OpenBLAS
to a kernel family of the environment's choosing, where oneDNN (TensorFlow's and
PyTorch's convolutions) ignores it. Benchmarks judge every contender on the
kernels its own libraries pick for the CPU, so workers start with both variables
unset, together, unless the caller keeps them (--as-environment). OpenBLAS reads
them once, when numpy loads it, which is why this happens in the workers' own
environments and never in a running process.
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
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


# The book's training step, as every contender runs it: batch 100, Adam(5e-4), loss
# 500 * mean-pixel BCE + KL.
BATCH = 100
LEARNING_RATE = 5e-4
RECONSTRUCTION_WEIGHT = 500.0   # the book's BETA
STEPS_PER_EPOCH = 600           # 60,000 training images / batch 100


def timed_steps(step, n):
    """Run step() n times; the list of each call's milliseconds."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    return times


def load_fashion(split, dtype, limit=None):
    """A split of Fashion-MNIST via minivae.datasets (the embedded sample if absent),
    cut to its first `limit` images when given."""
    from minivae.datasets import load_dataset
    data = load_dataset(split, dtype=dtype, allow_sample=True)
    images = data.images[:limit]
    return images, {"source": str(data.source), "n": len(images), "sample": data.is_sample}


# ------------------------------------------------------------------ numbers --

def summary(samples_ms):
    """median, min, max and count of a list of times in milliseconds."""
    return {"median": statistics.median(samples_ms), "min": min(samples_ms),
            "max": max(samples_ms), "n": len(samples_ms)}


def layer_flops(layer, n):
    """(forward, backward) floating-point operations of one layer's products for a
    batch of n, counted from its shapes: 2 per multiply-add of the math (whatever
    algorithm runs it), the backward's input-gradient product only where the layer
    computes one. Layers without products (activations, reshapes, sampling) count 0:
    their elementwise work is memory-bound, and small beside these.

    Conv2D: n * out_h * out_w * kh * kw * C * F multiply-adds forward, as many for dW
    and for dx. Conv2DTranspose is Conv2D's adjoint: n * H * W * kh * kw * C * F (H, W,
    C its input's), the same three times. Dense: n * D_in * D_out, three times. Each is
    M * K * F of layer_products's GEMM shape, Conv2D's written by im2col.
    """
    found = layer_products(layer, n, as_run=False)
    if found is None:
        return 0, 0
    (m, k, f), input_gradient = found
    macs = m * k * f
    return 2 * macs, (4 if input_gradient else 2) * macs


def step_flops(model, n):
    """A training step's products for a batch of n, from the built model's layers:
    {"forward", "backward", "total"} in flops, and "layers": [(name, total)]."""
    from minivae.fast.data_parallel import leaves
    layers, forward, backward = [], 0, 0
    for part in (model.encoder, model.decoder):
        for layer in leaves(part):
            f, b = layer_flops(layer, n)
            if f:
                layers.append((layer.name, f + b))
            forward, backward = forward + f, backward + b
    return {"forward": forward, "backward": backward, "total": forward + backward,
            "layers": layers}


def layer_products(layer, n, as_run=True):
    """A layer's three products for a batch of n as one GEMM shape (M, K, F): forward
    A (M x K) @ B (K x F), dW = A.T @ G, dx = G @ B.T (G the gradient, M x F), and
    whether it computes dx; None for a layer without products.

    Conv2D by im2col (M = n * out_h * out_w, K = kh * kw * C, F = filters), or, with
    as_run and where minivae.fast.kernel_for picks the taps form, over input pixels as
    that kernel runs it (M = n * H * W, K = C, F = kh * kw * filters: the same count at
    stride 1 with 'same' padding, more where the input has more pixels than the
    output); Conv2DTranspose over input pixels (M = n * H * W, K = C, F = kh * kw *
    filters, its scatter form); Dense (M = n, K = D_in, F = D_out).
    """
    from minivae.fast import kernel_for
    from minivae.fast.conv import Conv2DTaps
    from minivae.layers import Conv2D, Conv2DTranspose, Dense
    kind = type(layer)
    if issubclass(kind, Conv2DTranspose) or as_run and kernel_for(layer) is Conv2DTaps:
        height, width, channels = layer.input_shape
        kh, kw = layer.kernel_size
        shape = (n * height * width, channels, kh * kw * layer.filters)
    elif issubclass(kind, Conv2D):
        out_h, out_w, filters = layer.output_shape
        kh, kw = layer.kernel_size
        shape = (n * out_h * out_w, kh * kw * layer.input_shape[-1], filters)
    elif issubclass(kind, Dense):
        shape = (n, layer.input_shape[-1], layer.units)
    else:
        return None
    return shape, bool(layer.input_gradient)


def step_products(model, n):
    """A training step's products for a batch of n, in the order a step runs them
    (forward through the model, backward in reverse): a list of (name, kind, shape),
    kind "forward", "dW" or "dx", shape (M, K, N) of an M x K times K x N GEMM."""
    from minivae.fast.data_parallel import leaves
    layers = [layer for part in (model.encoder, model.decoder) for layer in leaves(part)]
    found = [(layer.name, layer_products(layer, n)) for layer in layers]
    found = [(name, products) for name, products in found if products is not None]
    step = [(name, "forward", (m, k, f)) for name, ((m, k, f), _) in found]
    for name, ((m, k, f), input_gradient) in reversed(found):
        step.append((name, "dW", (k, m, f)))
        if input_gradient:
            step.append((name, "dx", (m, f, k)))
    return step


def products_ms(part_shapes, repeats=5, seed=0):
    """The products alone: one thread per part, each running every GEMM of its list
    of shapes ((M, K, N) each, an M x K times K x N product) back to back, once per
    repeat, on float32 operands of its own made beforehand, with BLAS held to one
    thread (threadpoolctl), as DataParallel runs a step's parts. The parts start
    together, and a repeat lasts until the last one ends. Returns the repeats'
    milliseconds, after one untimed repeat.

    No gather, scatter, activation, loss, optimizer or Python of a step runs: this
    is about the least any step that makes these products through BLAS can take,
    whatever else it does (a product chunked so that an operand stays in cache runs a
    few percent faster than one whole matmul).
    """
    import threading

    import numpy as np
    from threadpoolctl import threadpool_limits

    parts = len(part_shapes)
    start, done = threading.Barrier(parts + 1), threading.Barrier(parts + 1)
    failed = []

    def part(index):
        work = []
        try:
            rng = np.random.default_rng([seed, index])
            work = [(rng.standard_normal((m, k), dtype=np.float32),
                     rng.standard_normal((k, f), dtype=np.float32),
                     np.empty((m, f), dtype=np.float32)) for m, k, f in part_shapes[index]]
        except BaseException as error:          # pragma: no cover - out of memory
            failed.append(error)
        for _ in range(repeats + 1):
            start.wait()
            for a, b, c in work:
                np.matmul(a, b, out=c)
            done.wait()

    times = []
    with threadpool_limits(limits=1, user_api="blas"):
        threads = [threading.Thread(target=part, args=(i,)) for i in range(parts)]
        for thread in threads:
            thread.start()
        for _ in range(repeats + 1):
            start.wait()
            t = time.perf_counter()
            done.wait()
            times.append((time.perf_counter() - t) * 1e3)
        for thread in threads:
            thread.join()
    if failed:
        raise failed[0]
    return times[1:]


def gemm_rate(size=2048, repeats=3, threads=None):
    """GFLOP/s of a square float32 matmul in numpy, BLAS on its default threads (or
    held to `threads` with threadpoolctl): the best of `repeats` after one untimed
    call (the machine's practical peak now)."""
    if threads is not None:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=threads, user_api="blas"):
            return gemm_rate(size, repeats)
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * size ** 3 / (min(times) * 1e9)


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
    """One line: the CPU's vector extension and the kernels numpy's OpenBLAS runs in this
    process, with the pin it was started with (describe_blas)."""
    return describe_blas(blas_report())


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


# ------------------------------------------------------------------ BLAS pin --

BLAS_PIN = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas_pin(environ=None):
    """The pinning variables set in `environ` (default: this process's), {name: value}."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in BLAS_PIN if name in environ}


def blas_report():
    """What numpy's OpenBLAS runs in this process: its kernel family (threadpoolctl's
    "architecture"), that family's vector extension, the CPU's widest one, and the pin
    this process was started with."""
    family, isa = numpy_blas_isa()
    return {"family": family, "isa": isa, "cpu_isa": cpu_vector_isa(), "pin": blas_pin()}


def describe_blas(report):
    """One line from a blas_report(), e.g. "CPU vector extension: AVX2; numpy's OpenBLAS
    runs its Haswell kernels (AVX2); not pinned"."""
    blas = (f"numpy's OpenBLAS runs its {report['family']} kernels ({report['isa'] or '?'})"
            if report["family"] else "numpy's OpenBLAS kernels: unknown (needs threadpoolctl)")
    pin = " ".join(f"{k}={v}" for k, v in report["pin"].items())
    return (f"CPU vector extension: {report['cpu_isa']}; {blas}; "
            + (f"pinned by {pin}" if pin else "not pinned"))


def print_worker_blas(workers, match_isa, limits, held):
    """Print each worker's BLAS line (describe_blas) and, with --match-isa, the limits
    the frameworks named by `held` ("PyTorch", "PyTorch and Keras") run with.
    Returns the reports, by worker name."""
    reports = {name: worker.request(cmd="blas") for name, worker in workers.items()}
    for name, report in reports.items():
        print(f"  {name}: {describe_blas(report)}")
    if match_isa:
        print(f"--match-isa: {held} run" + ("s" if " and " not in held else "") + " with "
              + (" ".join(f"{k}={v}" for k, v in limits.items())
                 or "no limit (numpy's OpenBLAS already runs AVX-512 kernels)"))
    return reports


def pin_note(keep_pin):
    """How this run treats the environment's BLAS pin, in one line."""
    pin = " ".join(f"{k}={v}" for k, v in blas_pin().items())
    if not pin:
        return f"BLAS pin: none ({' and '.join(BLAS_PIN)} are not set)"
    if keep_pin:
        return f"BLAS pin: {pin} kept in the workers (--as-environment)"
    return (f"BLAS pin: {pin} is set in this environment and unset in the workers, so numpy's "
            f"OpenBLAS picks its own kernels there (--as-environment keeps it)")


def probe_blas(keep_pin=False):
    """blas_report() as a worker of this interpreter sees it: read in a short-lived
    process started with the workers' environment."""
    code = "import json, _common; print(json.dumps(_common.blas_report()))"
    result = subprocess.run([sys.executable, "-c", code], cwd=str(HERE), capture_output=True,
                            text=True, env=worker_env(keep_pin=keep_pin), timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"the BLAS probe failed: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def isa_limits(report):
    """The settings that hold PyTorch's and TensorFlow's kernels to the vector extension
    of numpy's in `report` (a blas_report()): {} where numpy's already run the widest,
    None where that extension is unknown."""
    if report["isa"] is None:
        return None
    return ISA_LIMITS.get(report["isa"], {})


def add_environment_flags(parser, match_isa_help):
    """--match-isa, --as-environment and --dry-run, as every benchmark takes them."""
    parser.add_argument("--match-isa", action="store_true", help=match_isa_help)
    parser.add_argument("--as-environment", action="store_true",
                        help="keep OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the workers "
                        "(by default both are unset there)")
    parser.add_argument("--dry-run", action="store_true",
                        help="start the workers, print what each runs, time nothing")


def framework_limits(parser, args):
    """The limits --match-isa puts on the frameworks (isa_limits; {} without the flag),
    or a parser error where numpy's kernel family is unknown."""
    if not args.match_isa:
        return {}
    numpy_side = probe_blas(args.as_environment)
    limits = isa_limits(numpy_side)
    if limits is None:
        parser.error("--match-isa needs threadpoolctl and numpy on a known OpenBLAS "
                     f"kernel family; found {numpy_side['family']!r}")
    return limits


def describe_checkout(path):
    """A git checkout's short commit, with "+ uncommitted changes" when its minivae/ has
    any; "not a git checkout" otherwise. Read-only (no index refresh, no lock)."""
    def git(*args):
        return subprocess.run(["git", "--no-optional-locks", "-C", str(path), *args],
                              capture_output=True, text=True, timeout=60)
    try:
        head = git("rev-parse", "--short", "HEAD")
        changes = git("status", "--porcelain", "--", "minivae")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    if head.returncode != 0:
        return "not a git checkout"
    dirty = changes.returncode == 0 and changes.stdout.strip()
    return head.stdout.strip() + (" + uncommitted changes" if dirty else "")


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


def worker_env(extra=None, keep_pin=False, unset=()):
    """A worker's environment: this process's, less the BLAS pin (both variables, unless
    keep_pin) and the names in `unset`, plus `extra`."""
    env = dict(os.environ)
    for name in (*(() if keep_pin else BLAS_PIN), *unset):
        env.pop(name, None)
    env.update(extra or {})
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")     # TensorFlow's banners go nowhere useful
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Worker:
    """A contender in its own process, answering JSON requests one at a time.

    Only one worker computes at any moment (the others block reading stdin), so
    contenders never compete for the two cores.
    """

    def __init__(self, name, python, script, args=(), env=None, label=None):
        """name: the script's --worker argument; env: the worker's whole environment
        (default: worker_env()); label: what messages call it (default: name)."""
        self.name = label or name
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"bench-{name}-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen([python, str(script), "--worker", name, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True,
                                     env=worker_env() if env is None else env,
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

    Each request starts after SETTLE_S of sleep. Every worker also answers "blas"
    (blas_report(), read in this process, at once) and "quit" (the process's peak
    RSS and thread report, then the end).
    """
    handlers = {"blas": blas_report, **handlers}
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
        if cmd != "blas":
            time.sleep(SETTLE_S)
        try:
            send(handlers[cmd](**request))
        except Exception as exc:    # reported to the orchestrator, which stops with it
            import traceback
            traceback.print_exc()
            send({"error": f"{type(exc).__name__}: {exc}"})
