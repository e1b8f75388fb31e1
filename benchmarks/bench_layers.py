"""The seven convolutions of the book's VAE, one at a time: fast kernel, reference, GEMMs.

For each layer (batch 100, float32, the activation the model fuses into it; the
first layer computes no input gradient, as in the model):

  kernel           the fast kernel minivae.fast.kernel_for chooses for the layer
  fast ms          minivae.fast.forward / .backward on that kernel: what training runs
  ref ms           layer.forward / .backward: the reference, as docs/conv.md derives it
  ref / fast       what the fast kernel buys
  GEMM ms          numpy's `@` alone at the GEMM shapes and operand layouts of the
                   fast kernel (im2col's or taps'; a transpose's are the scatter
                   form's single GEMM per direction, the least work its products
                   can be, which the phase form splits into one per tap and phase)
  roofline         GEMM ms / fast ms: 100% would mean the kernel costs no more than
                   its matrix products (gathers, scatters, padding, bias and
                   activation free)
  GFLOP/s, % peak  2 * MACs / fast time, MACs of the convolution whatever the
                   algorithm (N*Ho*Wo*kh*kw*Cin*Cout forward for a Conv2D,
                   N*H*W*kh*kw*Cin*Cout for a transpose; backward twice that, dW and
                   dx, or once without dx); against a square 2048 sgemm in numpy
  torch ms         PyTorch eager on the same shapes (the faster of NCHW and
                   channels_last), when /opt/torchvenv (or $MINIVAE_TORCH_PYTHON)
                   has torch

Times are medians (or with --stat min, minima) over --repeats calls after --warmup
calls; every backward follows its own forward, as in training, and the fast kernel,
the reference and the bare GEMMs take turns call by call.

Everything is measured in worker processes: minivae's (this interpreter) and
PyTorch's, layer by layer in turn, so both see the same background load as
closely as possible. Where the environment sets OPENBLAS_CORETYPE or
OPENBLAS_L2_SIZE, both are unset in the workers before numpy loads, so that
numpy's OpenBLAS runs the kernels it picks for this CPU (printed); --as-environment
keeps them. --match-isa holds PyTorch to the vector extension of numpy's kernels.

    python3 benchmarks/bench_layers.py [--repeats 30] [--warmup 5] [--stat min]
                                       [--no-torch] [--match-isa] [--as-environment]
                                       [--dry-run]
"""

import argparse
import sys
import time

import _common
from _common import BATCH, fmt_ms, print_table

# name (as in fashion_vae), kind, input (H, W, C), filters, kernel, stride, activation,
# input gradient. The decoder's last Conv2D outputs logits: the model applies the sigmoid.
LAYERS = [
    ("conv2d", "conv", (32, 32, 1), 32, 3, 2, "relu", False),
    ("conv2d_1", "conv", (16, 16, 32), 64, 3, 2, "relu", True),
    ("conv2d_2", "conv", (8, 8, 64), 128, 3, 2, "relu", True),
    ("conv2d_transpose", "transpose", (4, 4, 128), 128, 3, 2, "relu", True),
    ("conv2d_transpose_1", "transpose", (8, 8, 128), 64, 3, 2, "relu", True),
    ("conv2d_transpose_2", "transpose", (16, 16, 64), 32, 3, 2, "relu", True),
    ("conv2d_3", "conv", (32, 32, 32), 1, 3, 1, None, True),
]


def output_hw(kind, height, width, stride):
    """'same' padding: ceil(n / s) for a Conv2D, n * s for a transpose."""
    if kind == "conv":
        return -(-height // stride), -(-width // stride)
    return height * stride, width * stride


def gemms(kind, n, in_shape, filters, k, stride, kernel, input_gradient=True):
    """The GEMMs of a fast kernel as (label, m, k, n, transpose_a, transpose_b), per direction.

    Operands are stored as the kernel holds them: a Conv2D's cols (M, K) and kernel
    (K, F); a transpose's input (M, C) and kernel (K, C). A transposed operand is a .T
    view of the stored array, as in minivae's code. Conv2DTaps multiplies the padded
    input (N*Hp*Wp, C) by all kh*kw*F taps at once and sums shifted taps afterwards.
    """
    height, width, channels = in_shape
    out_h, out_w = output_hw(kind, height, width, stride)
    taps = k * k
    if kernel == "Conv2DTaps":
        pad_h = max((out_h - 1) * stride + k - height, 0)
        pad_w = max((out_w - 1) * stride + k - width, 0)
        m, kk = n * (height + pad_h) * (width + pad_w), taps * filters
        shapes = {"forward": [("q = xp @ W", m, channels, kk, False, False)],
                  "backward": [("dW = xp.T @ dq", channels, m, kk, True, False),
                               ("dxp = dq @ W", m, kk, channels, False, False)]}
    elif kind == "conv":
        m, kk, f = n * out_h * out_w, taps * channels, filters
        shapes = {"forward": [("y = cols @ W", m, kk, f, False, False)],
                  "backward": [("dW = cols.T @ dy", kk, m, f, True, False),
                               ("dcols = dy @ W.T", m, f, kk, False, True)]}
    else:
        m, c, kk = n * height * width, channels, taps * filters
        shapes = {"forward": [("dcols = x @ W.T", m, c, kk, False, True)],
                  "backward": [("dW = cols.T @ x", kk, m, c, True, False),
                               ("dx = cols @ W", m, kk, c, False, False)]}
    if not input_gradient:                  # the dx product is the backward's second
        shapes["backward"] = shapes["backward"][:1]
    return shapes


def useful_flops(kind, n, in_shape, filters, k, stride, input_gradient=True):
    """2 * MACs of the convolution itself (whatever algorithm runs it), per direction."""
    height, width, channels = in_shape
    positions = output_hw(kind, height, width, stride) if kind == "conv" else (height, width)
    macs = n * positions[0] * positions[1] * k * k * channels * filters
    return {"forward": 2 * macs, "backward": (4 if input_gradient else 2) * macs}


def time_call(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


# ------------------------------------------------------------ minivae worker --

def minivae_worker():
    import numpy as np

    import minivae.fast as fast
    from minivae.layers import Conv2D, Conv2DTranspose

    def peak(size=2048, repeats=5):
        """GFLOP/s of a square float32 matmul: the machine's practical peak."""
        rng = np.random.default_rng(0)
        a = rng.standard_normal((size, size), dtype=np.float32)
        b = rng.standard_normal((size, size), dtype=np.float32)
        a @ b
        times = [time_call(lambda: a @ b) for _ in range(repeats)]
        return {"size": size, "ms": _common.summary(times),
                "gflops": 2 * size ** 3 / (min(times) * 1e6)}

    def build(spec):
        name, kind, in_shape, filters, k, stride, activation, input_gradient = spec
        cls = Conv2D if kind == "conv" else Conv2DTranspose
        layer = cls(filters, k, strides=stride, padding="same", activation=activation,
                    name=name)
        out_shape = layer.build(tuple(in_shape), rng=np.random.default_rng(0),
                                dtype="float32")
        layer.input_gradient = input_gradient
        return layer, out_shape

    def operands(spec, rng):
        _, m, k, n, trans_a, trans_b = spec
        a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
        return (a.T if trans_a else a), (b.T if trans_b else b)

    def layer(spec, repeats, warmup):
        """Times of the fast kernel, the reference and the bare GEMMs, call by call."""
        name, kind, in_shape, filters, k, stride, activation, input_gradient = spec
        quick, out_shape = build(spec)          # the two share nothing but their values
        slow, _ = build(spec)
        kernel = fast.kernel_for(quick)
        kernel_name = "reference" if kernel is None else kernel.__name__
        rng = np.random.default_rng(1)
        x = rng.standard_normal((BATCH, *in_shape), dtype=np.float32)
        dy = rng.standard_normal((BATCH, *out_shape), dtype=np.float32)
        shapes = gemms(kind, BATCH, in_shape, filters, k, stride, kernel_name, input_gradient)
        pairs = {d: [operands(s, rng) for s in specs] for d, specs in shapes.items()}

        def gemm_time(direction):
            return sum(time_call(lambda a=a, b=b: a @ b) for a, b in pairs[direction])

        calls = {"forward": lambda: fast.forward(quick, x),
                 "backward": lambda: fast.backward(quick, dy),
                 "ref_forward": lambda: slow.forward(x),
                 "ref_backward": lambda: slow.backward(dy),
                 "gemm_forward": lambda: gemm_time("forward"),
                 "gemm_backward": lambda: gemm_time("backward")}
        times = {key: [] for key in calls}
        for i in range(warmup + repeats):
            for key, call in calls.items():
                ms = call() if key.startswith("gemm") else time_call(call)
                if i >= warmup:
                    times[key].append(ms)
        return {"times_ms": {key: _common.summary(v) for key, v in times.items()},
                "kernel": kernel_name, "output_shape": list(out_shape),
                "gemms": {d: [list(s) for s in specs] for d, specs in shapes.items()},
                "flops": useful_flops(kind, BATCH, in_shape, filters, k, stride,
                                      input_gradient)}

    def info():
        import minivae
        return {"minivae": str(minivae.__file__), "numpy": np.__version__,
                "reference_switch": fast.using_reference()}

    _common.serve({"peak": peak, "layer": layer, "info": info})


# ------------------------------------------------------------- torch worker --

def torch_worker():
    import torch
    import torch.nn.functional as F

    def same_pads(n, k, s):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2

    def layer(spec, repeats, warmup, layout):
        name, kind, (height, width, channels), filters, k, stride, activation, dx = spec
        torch.manual_seed(0)
        memory = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        act = {"relu": torch.relu, "sigmoid": torch.sigmoid, None: lambda y: y}[activation]
        if kind == "conv":
            top, bottom = same_pads(height, k, stride)
            left, right = same_pads(width, k, stride)
            symmetric = top == bottom and left == right
            module = torch.nn.Conv2d(channels, filters, k, stride=stride,
                                     padding=(top, left) if symmetric else 0)

            def forward(x):
                # TensorFlow's 'same' pads the extra pixel after; F.pad puts it there
                xp = x if symmetric else F.pad(x, (left, right, top, bottom))
                return act(module(xp))
        else:
            # Keras 'same', stride 2, k 3: the same output size and cost (the taps sit
            # one pixel apart from Keras's; speed, not values, is measured here)
            module = torch.nn.ConvTranspose2d(channels, filters, k, stride=stride,
                                              padding=(k - 1) // 2, output_padding=stride - 1)

            def forward(x):
                return act(module(x))
        module = module.to(memory_format=memory)
        x = torch.randn(BATCH, channels, height, width).contiguous(memory_format=memory)
        x.requires_grad_(dx)                # dx where minivae's layer computes it
        inputs = [x, *module.parameters()] if dx else list(module.parameters())
        fwd_ms, bwd_ms = [], []
        for i in range(warmup + repeats):
            t = time.perf_counter()
            y = forward(x)
            t1 = time.perf_counter()
            dy = torch.ones_like(y)
            t2 = time.perf_counter()
            torch.autograd.grad(y, inputs, dy)
            t3 = time.perf_counter()
            if i >= warmup:
                fwd_ms.append((t1 - t) * 1e3)
                bwd_ms.append((t3 - t2) * 1e3)
        return {"forward": _common.summary(fwd_ms), "backward": _common.summary(bwd_ms),
                "output_shape": list(y.shape), "layout": layout}

    def info():
        return {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}

    _common.serve({"layer": layer, "info": info})


# ------------------------------------------------------------- orchestrator --

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="statistic of the repeats in the table (min is steadier on a busy "
                        "machine; the JSON has both)")
    _common.add_environment_flags(parser, "hold PyTorch's kernels to the vector extension of "
                                  "the kernels numpy's OpenBLAS runs in the workers")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.limits = {} if args.worker else _common.framework_limits(parser, args)
    return args


def start_workers(args):
    """{"minivae": Worker[, "torch": Worker]} and why PyTorch is not measured (or None)."""
    keep = args.as_environment
    # the fast path is measured as training runs it: never under the reference switch
    workers = {"minivae": _common.Worker(
        "minivae", sys.executable, __file__,
        env=_common.worker_env(keep_pin=keep, unset=("MINIVAE_REFERENCE",)))}
    torch_note = "disabled by --no-torch"
    if not args.no_torch:
        python, torch_note = _common.venv_python("torch")
        if python:
            workers["torch"] = _common.Worker(
                "torch", python, __file__, env=_common.worker_env(args.limits, keep_pin=keep))
    return workers, torch_note


def main():
    args = parse_args()
    if args.worker == "minivae":
        return minivae_worker()
    if args.worker == "torch":
        return torch_worker()

    load_at_start = _common.load_note()
    print(f"minivae from {_common.REPO} ({_common.describe_checkout(_common.REPO)}); batch "
          f"{BATCH}, float32, {args.repeats} repeats after {args.warmup} warm-up; "
          f"{load_at_start}", flush=True)
    print(_common.pin_note(args.as_environment))
    workers, torch_note = start_workers(args)
    results, finals = [], {}
    try:
        blas = _common.print_worker_blas(workers, args.match_isa, args.limits, "PyTorch")
        if not args.dry_run:
            info = workers["minivae"].request(cmd="info")
            peak = workers["minivae"].request(cmd="peak")
            print(f"machine peak: {peak['size']}^3 sgemm {fmt_ms(peak['ms']['median'])} ms "
                  f"median, {peak['gflops']:.0f} GFLOP/s (best of {peak['ms']['n']})",
                  flush=True)
            for spec in LAYERS:
                row = dict(zip(("layer", "kind", "input", "filters", "kernel_size", "stride",
                                "activation", "input_gradient"), spec))
                row["minivae"] = workers["minivae"].request(
                    cmd="layer", spec=spec, repeats=args.repeats, warmup=args.warmup)
                if "torch" in workers:
                    row["torch"] = {layout: workers["torch"].request(
                        cmd="layer", spec=spec, repeats=args.repeats, warmup=args.warmup,
                        layout=layout) for layout in ("nchw", "channels_last")}
                results.append(row)
                print(f"  measured {spec[0]}", file=sys.stderr)
            if "torch" in workers:
                info["torch"] = workers["torch"].request(cmd="info")
    finally:
        finals = {name: worker.close() for name, worker in workers.items()}
    if args.dry_run:
        print("--dry-run: nothing timed, nothing written")
        return 0

    print_layer_table(results, peak, "torch" in workers, args.stat)
    print(f"BLAS threads in the minivae worker: "
          f"{_common.describe_threads(finals['minivae']['threads'])}")
    if "torch" in workers:
        torch_info = info["torch"]
        print(f"PyTorch {torch_info['torch']}, {torch_info['torch_threads']} threads "
              f"({_common.describe_threads(finals['torch']['threads'])}); torch ms is the "
              f"faster of NCHW and channels_last (both in the JSON)")
    else:
        print(f"PyTorch: not measured ({torch_note})")
    path = _common.write_results("bench_layers", {
        "script": "bench_layers.py", "batch": BATCH, "dtype": "float32",
        "repeats": args.repeats, "warmup": args.warmup, "machine": _common.machine_report(),
        "load_at_start": load_at_start, "blas_pin": _common.blas_pin(),
        "as_environment": args.as_environment, "workers_blas": blas,
        "framework_isa_limits": args.limits, "minivae": info, "processes": finals,
        "peak_sgemm": peak, "torch": info.get("torch", torch_note), "layers": results})
    print(f"at the end: {_common.load_note()}")
    print(f"wrote {path.relative_to(_common.REPO)}")


def print_layer_table(results, peak, with_torch, stat):
    headers = ["layer", "in -> out", "kernel", "dir", "fast ms", "ref ms", "ref/fast",
               "GEMM ms", "roofline", "GFLOP/s", "% peak"]
    if with_torch:
        headers += ["torch ms", "fast/torch"]
    rows = []
    totals = {d: {"fast": 0.0, "ref": 0.0, "gemm": 0.0, "torch": 0.0}
              for d in ("forward", "backward")}
    for r in results:
        mv = r["minivae"]
        h, w, c = r["input"]
        oh, ow, f = mv["output_shape"]
        for direction in ("forward", "backward"):
            first = direction == "forward"
            ms = mv["times_ms"][direction][stat]
            ref_ms = mv["times_ms"]["ref_" + direction][stat]
            gemm_ms = mv["times_ms"]["gemm_" + direction][stat]
            gflops = mv["flops"][direction] / (ms * 1e6)
            row = [r["layer"] if first else "", f"{h}x{w}x{c} -> {oh}x{ow}x{f}" if first else "",
                   mv["kernel"] if first else "", direction[:3], fmt_ms(ms), fmt_ms(ref_ms),
                   f"{ref_ms / ms:.1f}x", fmt_ms(gemm_ms), f"{100 * gemm_ms / ms:.0f}%",
                   f"{gflops:.1f}", f"{100 * gflops / peak['gflops']:.0f}%"]
            total = totals[direction]
            total["fast"] += ms
            total["ref"] += ref_ms
            total["gemm"] += gemm_ms
            if with_torch:
                t_ms = min(r["torch"][lay][direction][stat] for lay in r["torch"])
                total["torch"] += t_ms
                row += [fmt_ms(t_ms), f"{ms / t_ms:.2f}x"]
            rows.append(row)
    for direction, t in totals.items():
        row = ["all seven" if direction == "forward" else "", "", "", direction[:3],
               fmt_ms(t["fast"]), fmt_ms(t["ref"]), f"{t['ref'] / t['fast']:.1f}x",
               fmt_ms(t["gemm"]), f"{100 * t['gemm'] / t['fast']:.0f}%", "", ""]
        if with_torch:
            row += [fmt_ms(t["torch"]), f"{t['fast'] / t['torch']:.2f}x"]
        rows.append(row)
    print()
    print(f"times: the {stat} of the repeats; GFLOP/s and % peak of the fast kernel")
    print_table(headers, rows)
    print()


if __name__ == "__main__":
    sys.exit(main())
