"""pytorch/examples' VAE (vae/main.py) in minivae, on Fashion-MNIST: the minivae side of
docs/torch_port.md. Needs only minivae; examples/torch_mlp_vae_torch.py is PyTorch's.

    python3 examples/torch_mlp_vae.py --seed 0 --epochs 10                  # its own init
    python3 examples/torch_mlp_vae.py --init runs/torch_port/init_seed0.npz  # PyTorch's init
    python3 examples/torch_mlp_vae.py --initializer torch_default            # PyTorch's kind
    python3 examples/torch_mlp_vae.py --model conv --init runs/torch_port/conv_init_seed0.npz
    python3 examples/torch_mlp_vae.py --table runs/torch_port                # the doc's table

784-400-20 with ReLU, heads z_mean and z_log_var, a decoder back to 784 logits and the
model's sigmoid. The example sums the BCE over the pixels and the batch; minivae
averages the per-pixel BCE over pixels and batch, so reconstruction_weight = 784 gives
the per-image sum, and minivae's loss is the example's divided by the batch size.
Adam(1e-3), batches of 128. After each epoch: the test loss per image, as the example
reports it (evaluate's batches of 1,000 divide the 10,000 test images evenly, so its
mean of batch means is the mean over images).
"""

import argparse
import glob
import json
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from minivae import checkpoint
from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Reshape
from minivae.models import VAE, GaussianEncoder, Sequential
from minivae.optimizers import Adam


def build_vae(seed=None, initializer="glorot_uniform"):
    """pytorch/examples' VAE: fc1, the heads fc21 and fc22, fc3, fc4 and the sigmoid.
    initializer="torch_default" starts each layer as PyTorch's Linear starts (the heads
    keep minivae's glorot_uniform and zeros)."""
    init = {"kernel_initializer": initializer,
            "bias_initializer": "zeros" if initializer == "glorot_uniform" else initializer}
    encoder = GaussianEncoder([Dense(400, activation="relu", **init)], latent_dim=20)
    decoder = Sequential([Dense(400, activation="relu", **init),
                          Dense(784, activation="sigmoid", **init)], name="decoder")
    return VAE(encoder, decoder, reconstruction_weight=784.0, rng=np.random.default_rng(seed))


def build_conv_vae(seed=None, initializer="glorot_uniform"):
    """--model conv: stride-2 3x3 convolutions with PyTorch's padding=1 (28 -> 14 -> 7),
    and transposed ones with padding=1, output_padding=1, as the PyTorch side writes them."""
    init = {"kernel_initializer": initializer,
            "bias_initializer": "zeros" if initializer == "glorot_uniform" else initializer}
    encoder = GaussianEncoder([
        Conv2D(32, 3, strides=2, padding=1, activation="relu", **init),
        Conv2D(64, 3, strides=2, padding=1, activation="relu", **init),
        Flatten(),
    ], latent_dim=20)
    decoder = Sequential([
        Dense(64 * 7 * 7, activation="relu", **init),
        Reshape((7, 7, 64)),
        Conv2DTranspose(32, 3, strides=2, padding=1, output_padding=1, activation="relu",
                        **init),
        Conv2DTranspose(1, 3, strides=2, padding=1, output_padding=1, activation="sigmoid",
                        **init),
    ], name="decoder")
    return VAE(encoder, decoder, reconstruction_weight=784.0, rng=np.random.default_rng(seed))


def initial_model(init, seed, kind="mlp", initializer="glorot_uniform", input_shape=(784,)):
    """The model to train: the checkpoint `init` (PyTorch's initial weights), its Generator
    restarted from `seed` for shuffling and eps; else a model of `kind` built afresh."""
    if init:
        model = checkpoint.load(init)       # built, with the weights PyTorch drew: building
        model.reseed(seed)                  # it again would draw fresh ones
        return model
    build = build_vae if kind == "mlp" else build_conv_vae
    model = build(seed=seed, initializer=initializer)
    return model.build(input_shape)


def peak_rss_mib():
    """The process's peak resident memory since the last reset_peak_rss()."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024


def reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as refs:    # Linux: "5" resets VmHWM
        refs.write("5")


def train(args):
    from minivae.datasets import load_fashion_mnist
    shape = (-1, 784) if args.model == "mlp" else (-1, 28, 28, 1)
    x_train = load_fashion_mnist("train", pad=False, dtype="uint8")[0].reshape(shape)
    x_test = load_fashion_mnist("test", pad=False, dtype="uint8")[0].reshape(shape)
    x_train, x_test = x_train[:args.limit], x_test[:args.limit]
    model = initial_model(args.init, args.seed, args.model, args.initializer,
                          x_train.shape[1:])
    model.compile(Adam(learning_rate=1e-3, epsilon=1e-8))   # torch.optim.Adam's defaults
    rows = []
    with threadpool_limits(args.threads):
        for epoch in range(args.epochs):
            reset_peak_rss()
            start, cpu = time.perf_counter(), time.process_time()
            history = model.fit(x_train, epochs=epoch + 1, initial_epoch=epoch, batch_size=128,
                                verbose=0)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            test = model.evaluate(x_test, batch_size=1000)
            rows.append({"epoch": epoch + 1, "train_loss": history.history["total_loss"][-1],
                         "test_loss": test["total_loss"], "seconds": seconds,
                         "cpu_seconds": cpu_seconds,
                         "peak_rss_mib": peak_rss_mib()})
            print("epoch {epoch}: train {train_loss:.2f}, test {test_loss:.2f}, {seconds:.1f} s "
                  "({cpu_seconds:.1f} s CPU), "
                  "peak RSS {peak_rss_mib:.0f} MiB".format(**rows[-1]))
    os.makedirs(args.out, exist_ok=True)
    tag = "init" if args.init else args.initializer
    tag = ("" if args.model == "mlp" else "conv_") + f"minivae_{tag}"
    path = os.path.join(args.out, f"{tag}_seed{args.seed}.json")
    with open(path, "w") as f:
        json.dump({"side": "minivae", "model": args.model, "init": args.init, "seed": args.seed,
                   "threads": args.threads, "epochs": rows}, f, indent=1)
    print(f"wrote {path}")


def table(folder, model="mlp"):
    """The per-epoch test loss of every run of `model` in `folder`: mean +- standard
    deviation over seeds, then time and peak memory per epoch (means over epochs and seeds)."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "*_seed*.json"))):
        if os.path.basename(path).startswith("conv_") != (model == "conv"):
            continue
        with open(path) as f:
            run = json.load(f)
        side = os.path.basename(path).rsplit("_seed", 1)[0]
        runs.setdefault(side, []).append(run["epochs"])
    sides = sorted(runs)
    epochs = min(len(r) for rs in runs.values() for r in rs)
    print("| epoch | " + " | ".join(f"{s} ({len(runs[s])} seeds)" for s in sides) + " |")
    print("|---|" + "---|" * len(sides))
    for e in range(epochs):
        cells = []
        for s in sides:
            losses = [r[e]["test_loss"] for r in runs[s]]
            cells.append(f"{np.mean(losses):.2f} ± {np.std(losses, ddof=1):.2f}"
                         if len(losses) > 1 else f"{losses[0]:.2f}")
        print(f"| {e + 1} | " + " | ".join(cells) + " |")
    for key, unit in (("seconds", "s per epoch"), ("cpu_seconds", "CPU s per epoch"),
                      ("peak_rss_mib", "MiB peak RSS per epoch")):
        cells = [f"{np.mean([row.get(key, np.nan) for r in runs[s] for row in r[:epochs]]):.1f}"
                 for s in sides]
        print(f"| {unit} | " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="shuffling and noise (and the "
                        "weights, without --init)")
    parser.add_argument("--init", help="a checkpoint holding the initial weights (the one "
                        "examples/torch_mlp_vae_torch.py saves)")
    parser.add_argument("--initializer", default="glorot_uniform",
                        choices=("glorot_uniform", "torch_default"),
                        help="without --init: minivae's default or PyTorch's")
    parser.add_argument("--model", choices=("mlp", "conv"), default="mlp")
    parser.add_argument("--limit", type=int, help="the first N training and test images")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--out", default="runs/torch_port")
    parser.add_argument("--table", metavar="FOLDER", help="print the table of the runs there")
    args = parser.parse_args(argv)
    if args.table:
        table(args.table, args.model)
    else:
        train(args)


if __name__ == "__main__":
    main()
