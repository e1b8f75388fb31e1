"""The VAE of Keras's example "Variational AutoEncoder" (keras.io), built in minivae
from its layers, trained, saved, and handed to the command line.

The recipe, line beside line with the Keras code: docs/own_model.md.

    python3 examples/keras_io_vae.py                    # 2 epochs, checkpoint in runs/keras_io_vae
    python3 examples/keras_io_vae.py --epochs 30 --seed 1 --out runs/kio

It trains on Fashion-MNIST at 28x28 when a copy is found (docs/datasets.md), else on
the 2,000 images of the sample shipped inside minivae, and says which.
"""

import argparse
import os
import time

import numpy as np

from minivae import checkpoint
from minivae.datasets import DatasetNotFoundError, load_fashion_mnist, load_sample
from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Reshape
from minivae.models import VAE, GaussianEncoder, Sequential
from minivae.optimizers import Adam


def build_vae(latent_dim=2, seed=None):
    """keras.io's encoder and decoder; the loss is the BCE summed over the 28 x 28 pixels
    (minivae weights the per-image mean, so the weight is 784) plus the KL. seed fixes
    the weights, the shuffling and the noise."""
    encoder = GaussianEncoder([
        Conv2D(32, 3, strides=2, padding="same", activation="relu"),
        Conv2D(64, 3, strides=2, padding="same", activation="relu"),
        Flatten(),
        Dense(16, activation="relu"),
    ], latent_dim=latent_dim)               # then Dense z_mean, Dense z_log_var, Sampling
    decoder = Sequential([
        Dense(7 * 7 * 64, activation="relu"),
        Reshape((7, 7, 64)),
        Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
        Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
        Conv2DTranspose(1, 3, padding="same", activation="sigmoid"),
    ], name="decoder")
    return VAE(encoder, decoder, reconstruction_weight=28 * 28, rng=np.random.default_rng(seed))


def load_data(limit=None):
    """(train, test, where from): uint8 images (N, 28, 28, 1)."""
    try:
        x_train = load_fashion_mnist("train", pad=False, dtype="uint8")[0]
        x_test = load_fashion_mnist("test", pad=False, dtype="uint8")[0]
        source = "Fashion-MNIST"
    except DatasetNotFoundError:
        x = load_sample(pad=False, dtype="uint8")[0]
        x_train, x_test = x[:1800], x[1800:]
        source = "the embedded 2,000-image sample (Fashion-MNIST not found)"
    if limit:
        x_train, x_test = x_train[:limit], x_test[:limit]
    return x_train, x_test, source


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="default 2 (keras.io trains 30)")
    parser.add_argument("--seed", type=int, default=0, help="weights, shuffling and noise")
    parser.add_argument("--limit", type=int, help="use the first N training and test images")
    parser.add_argument("--out", default="runs/keras_io_vae", help="the checkpoint's folder")
    args = parser.parse_args(argv)

    x_train, x_test, source = load_data(args.limit)
    print(f"data: {source}, {len(x_train):,} training and {len(x_test):,} test images")

    model = build_vae(seed=args.seed)
    model.build((28, 28, 1))                # or let fit build it from the first batch
    model.encoder.summary()
    model.decoder.summary()
    model.compile(Adam(learning_rate=1e-3))
    start = time.perf_counter()
    history = model.fit(x_train, epochs=args.epochs, batch_size=128, validation_data=x_test)
    print(f"trained {args.epochs} epoch(s) in {time.perf_counter() - start:.1f} s")

    path = os.path.join(args.out, "model.npz")
    os.makedirs(args.out, exist_ok=True)
    # `run` tells the command line what the model was trained on and how, so that its
    # commands find the same data and `train --resume` continues the same run.
    run = {"model": "examples/keras_io_vae.py", "seed": args.seed, "batch_size": 128,
           "limit": args.limit, "data": {"name": "fashion-mnist", "image_size": 28,
                                         "data_dir": None, "folder": None}}
    checkpoint.save(path, model, epoch=args.epochs, history=history, run=run)
    print(f"saved {path}; the command line works on it without this script:")
    for command in (f"sample {path} -n 30 --out {args.out}/samples.png",
                    f"reconstruct {path} --out {args.out}/reconstructions.png",
                    f"evaluate {path}",
                    f"train --resume {path} --out {args.out} --epochs {args.epochs + 1}"):
        print(f"    python3 -m minivae {command}")


if __name__ == "__main__":
    main()
