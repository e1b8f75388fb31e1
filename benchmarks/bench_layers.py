"""The seven convolutions of the book's VAE, one at a time, against the GEMM roofline.

For each layer (batch 100, float32, the book's activation attached):

  fwd ms, bwd ms   median (or with --stat min, minimum) over --repeats calls
                   after --warmup calls; every backward follows its own
                   forward, as in training
  GFLOP/s          2 * MACs / time, MACs of the convolution whatever the
                   algorithm; forward MACs = N*Ho*Wo*kh*kw*Cin*Cout for a
                   Conv2D (N*H*W*kh*kw*Cin*Cout, input positions, for a
                   transpose); backward = 2x forward (dW and dx)
  GEMM ms          minivae.blas.matmul (the BLAS the layers use) alone at the
                   layer's own GEMM shapes and operand layouts (those of its
                   `algorithm`: im2col's or "taps"'s; a transpose's are the
                   scatter form's single GEMM per direction, the least work its
                   products can be), timed in the same loop as the layer. Timing
                   np.matmul here instead would put numpy's BLAS pool to spin
                   against scipy's between calls and slow both (docs/conv.md).
  roofline share   GEMM ms / layer ms: 100% would mean the layer costs no more
                   than its matrix products, i.e. im2col/col2im, padding, bias
                   and activation are free
  % of peak        layer GFLOP/s / a square 2048 sgemm's GFLOP/s on this machine
  torch ms         PyTorch eager on the same shapes (NCHW and channels_last),
                   when /opt/torchvenv (or $MINIVAE_TORCH_PYTHON) has torch

The PyTorch worker runs in its own process, layer by layer between the NumPy
measurements, so both see the same background load as closely as possible.

    python3 benchmarks/bench_layers.py [--repeats 30] [--warmup 5] [--stat min] [--no-torch]
"""

import argparse
import sys
import time

import _common
from _common import fmt_ms, print_table

BATCH = 100

# name (as in fashion_vae), kind, input (H, W, C), filters, kernel, stride, activation
LAYERS = [
    ("conv2d", "conv", (32, 32, 1), 32, 3, 2, "relu"),
    ("conv2d_1", "conv", (16, 16, 32), 64, 3, 2, "relu"),
    ("conv2d_2", "conv", (8, 8, 64), 128, 3, 2, "relu"),
    ("conv2d_transpose", "transpose", (4, 4, 128), 128, 3, 2, "relu"),
    ("conv2d_transpose_1", "transpose", (8, 8, 128), 64, 3, 2, "relu"),
    ("conv2d_transpose_2", "transpose", (16, 16, 64), 32, 3, 2, "relu"),
    ("conv2d_3", "conv", (32, 32, 32), 1, 3, 1, "sigmoid"),
]


def output_hw(kind, height, width, stride):
    """'same' padding: ceil(n / s) for a Conv2D, n * s for a transpose."""
    if kind == "conv":
        return -(-height // stride), -(-width // stride)
    return height * stride, width * stride


def gemms(kind, n, in_shape, filters, k, stride, algorithm="im2col"):
    """The layer's GEMMs as (label, m, k, n, transpose_a, transpose_b), per direction.

    Operands are stored as the layer holds them: a Conv2D's cols (M, K) and
    kernel (K, F); a transpose's input (M, C) and kernel (K, C). A transposed
    operand is a .T view of the stored array, as in minivae's code. A Conv2D
    whose `algorithm` is "taps" multiplies the padded input (N*Hp*Wp, C) by all
    kh*kw*F taps at once and sums shifted taps afterwards: other GEMM shapes.
    """
    height, width, channels = in_shape
    out_h, out_w = output_hw(kind, height, width, stride)
    taps = k * k
    if kind == "conv" and algorithm == "taps":
        pad_h = max((out_h - 1) * stride + k - height, 0)
        pad_w = max((out_w - 1) * stride + k - width, 0)
        m, kk = n * (height + pad_h) * (width + pad_w), taps * filters
        return {"forward": [("q = xp @ W", m, channels, kk, False, False)],
                "backward": [("dW = xp.T @ dq", channels, m, kk, True, False),
                             ("dxp = dq @ W", m, kk, channels, False, False)]}
    if kind == "conv":
        m, kk, f = n * out_h * out_w, taps * channels, filters
        return {"forward": [("y = cols @ W", m, kk, f, False, False)],
                "backward": [("dW = cols.T @ dy", kk, m, f, True, False),
                             ("dcols = dy @ W.T", m, f, kk, False, True)]}
    m, c, kk = n * height * width, channels, taps * filters
    return {"forward": [("dcols = x @ W.T", m, c, kk, False, True)],
            "backward": [("dx = cols @ W", m, kk, c, False, False),
                         ("dW = cols.T @ x", kk, m, c, True, False)]}


def useful_flops(kind, n, in_shape, filters, k, stride):
    """2 * MACs of the convolution itself (whatever algorithm runs it), per direction."""
    height, width, channels = in_shape
    positions = output_hw(kind, height, width, stride) if kind == "conv" else (height, width)
    macs = n * positions[0] * positions[1] * k * k * channels * filters
    return {"forward": 2 * macs, "backward": 4 * macs}


def gemm_operands(spec, rng, np):
    _, m, k, n, trans_a, trans_b = spec
    a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    return (a.T if trans_a else a), (b.T if trans_b else b)


def time_call(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def peak_sgemm(np, size=2048, repeats=5):
    """GFLOP/s of a square float32 matmul: the machine's practical peak."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    from minivae.blas import matmul
    matmul(a, b)
    times = [time_call(lambda: matmul(a, b)) for _ in range(repeats)]
    return {"size": size, "ms": _common.summary(times),
            "gflops": 2 * size ** 3 / (min(times) * 1e6)}


def bench_minivae_layer(spec, repeats, warmup):
    """Times of the minivae layer and of its bare GEMMs, interleaved call by call."""
    import numpy as np
    from minivae.blas import matmul
    from minivae.layers import Conv2D, Conv2DTranspose

    name, kind, in_shape, filters, k, stride, activation = spec
    rng = np.random.default_rng(0)
    cls = Conv2D if kind == "conv" else Conv2DTranspose
    layer = cls(filters, k, strides=stride, padding="same", activation=activation, name=name)
    out_shape = layer.build(in_shape, rng=rng, dtype="float32")
    x = rng.standard_normal((BATCH, *in_shape), dtype=np.float32)
    dy = rng.standard_normal((BATCH, *out_shape), dtype=np.float32)
    # the GEMMs the layer actually runs; layers without a choice run im2col's
    algorithm = getattr(layer, "algorithm", "im2col")
    shapes = gemms(kind, BATCH, in_shape, filters, k, stride, algorithm)
    operands = {d: [gemm_operands(s, rng, np) for s in specs] for d, specs in shapes.items()}

    def gemm_time(direction):
        return sum(time_call(lambda a=a, b=b: matmul(a, b)) for a, b in operands[direction])

    times = {"forward": [], "backward": [], "gemm_forward": [], "gemm_backward": []}
    for i in range(warmup + repeats):
        fwd = time_call(lambda: layer.forward(x))
        bwd = time_call(lambda: layer.backward(dy))
        g_fwd, g_bwd = gemm_time("forward"), gemm_time("backward")
        if i >= warmup:
            for key, value in zip(times, (fwd, bwd, g_fwd, g_bwd)):
                times[key].append(value)
    return {"times_ms": {k: _common.summary(v) for k, v in times.items()},
            "gemms": {d: [list(s) for s in specs] for d, specs in shapes.items()},
            "flops": useful_flops(kind, BATCH, in_shape, filters, k, stride),
            "algorithm": algorithm, "output_shape": list(out_shape)}


# ------------------------------------------------------------- torch worker --

def torch_worker():
    import torch
    import torch.nn.functional as F

    def same_pads(n, k, s):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2

    def layer(spec, repeats, warmup, layout):
        name, kind, (height, width, channels), filters, k, stride, activation = spec
        torch.manual_seed(0)
        memory = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        act = torch.relu if activation == "relu" else torch.sigmoid
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
        x.requires_grad_(True)              # minivae computes dx in every layer, so does this
        inputs = [x, *module.parameters()]
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

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="statistic of the repeats in the table (min is steadier on a busy "
                        "machine; the JSON has both)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "torch":
        return torch_worker()

    import numpy as np
    torch_worker_ = None
    torch_note = "disabled by --no-torch"
    if not args.no_torch:
        python, torch_note = _common.venv_python("torch")
        if python:
            torch_worker_ = _common.Worker("torch", python, __file__)

    threads = _common.thread_report()
    print(f"minivae from {_common.REPO}; batch {BATCH}, float32, {args.repeats} repeats after "
          f"{args.warmup} warm-up; BLAS threads: {_common.describe_threads(threads)}", flush=True)
    isa = _common.isa_report()
    print(isa)
    peak = peak_sgemm(np)
    print(f"machine peak: {peak['size']}^3 sgemm {fmt_ms(peak['ms']['median'])} ms median, "
          f"{peak['gflops']:.0f} GFLOP/s (best of {peak['ms']['n']})", flush=True)

    results = []
    for spec in LAYERS:
        row = {"layer": spec[0], "kind": spec[1], "input": list(spec[2]), "filters": spec[3],
               "kernel": spec[4], "stride": spec[5], "activation": spec[6]}
        time.sleep(_common.SETTLE_S)
        row["minivae"] = bench_minivae_layer(spec, args.repeats, args.warmup)
        if torch_worker_ is not None:
            row["torch"] = {layout: torch_worker_.request(cmd="layer", spec=spec,
                                                          repeats=args.repeats,
                                                          warmup=args.warmup, layout=layout)
                            for layout in ("nchw", "channels_last")}
        results.append(row)
        print(f"  measured {spec[0]}", file=sys.stderr)

    torch_info = None
    if torch_worker_ is not None:
        torch_info = torch_worker_.request(cmd="info")
        torch_info.update(torch_worker_.close())

    print_layer_table(results, peak, torch_info is not None, args.stat)
    if torch_info is not None:
        print(f"PyTorch {torch_info['torch']}, {torch_info['torch_threads']} threads "
              f"({_common.describe_threads(torch_info['threads'])}); torch ms is the faster of "
              f"NCHW and channels_last (both in the JSON)")
    else:
        print(f"PyTorch: not measured ({torch_note})")
    path = _common.write_results("bench_layers", {
        "script": "bench_layers.py", "batch": BATCH, "dtype": "float32",
        "repeats": args.repeats, "warmup": args.warmup, "machine": _common.machine_report(),
        "isa": isa, "threads": threads, "peak_sgemm": peak, "torch": torch_info or torch_note,
        "layers": results})
    print(_common.load_note())
    print(f"wrote {path.relative_to(_common.REPO)}")


def print_layer_table(results, peak, with_torch, stat):
    headers = ["layer", "in -> out", "dir", "ms", "GFLOP/s", "GEMM ms", "roofline",
               "% peak"]
    if with_torch:
        headers += ["torch ms", "minivae/torch"]
    rows = []
    totals = {"forward": [0.0, 0.0, 0.0], "backward": [0.0, 0.0, 0.0]}
    for r in results:
        mv = r["minivae"]
        h, w, c = r["input"]
        oh, ow, f = mv["output_shape"]
        shape = f"{h}x{w}x{c} -> {oh}x{ow}x{f}"
        if mv["algorithm"] != "im2col":
            shape += f" ({mv['algorithm']})"
        for direction in ("forward", "backward"):
            ms = mv["times_ms"][direction][stat]
            gemm_ms = mv["times_ms"]["gemm_" + direction][stat]
            gflops = mv["flops"][direction] / (ms * 1e6)
            row = [r["layer"] if direction == "forward" else "",
                   shape if direction == "forward" else "", direction[:3], fmt_ms(ms),
                   f"{gflops:.1f}", fmt_ms(gemm_ms), f"{100 * gemm_ms / ms:.0f}%",
                   f"{100 * gflops / peak['gflops']:.0f}%"]
            totals[direction][0] += ms
            totals[direction][1] += gemm_ms
            if with_torch:
                t_ms = min(r["torch"][lay][direction][stat] for lay in r["torch"])
                totals[direction][2] += t_ms
                row += [fmt_ms(t_ms), f"{ms / t_ms:.1f}x"]
            rows.append(row)
    for direction, (ms, gemm_ms, t_ms) in totals.items():
        row = ["all seven" if direction == "forward" else "", "", direction[:3], fmt_ms(ms), "",
               fmt_ms(gemm_ms), f"{100 * gemm_ms / ms:.0f}%", ""]
        if with_torch:
            row += [fmt_ms(t_ms), f"{ms / t_ms:.1f}x"]
        rows.append(row)
    print()
    print(f"times: the {stat} of the repeats")
    print_table(headers, rows)
    print()


if __name__ == "__main__":
    sys.exit(main())
