"""Rebuild minivae/data/fashion_mnist_sample.npz from a verified copy of Fashion-MNIST.

The sample is the first SAMPLE_SIZE (2,000) test images, uint8 28x28 stored
unpadded, and their labels, written with np.savez_compressed. It prints the
SHA-256 of both decoded arrays; record them in minivae.datasets.SAMPLE_SHA256.

    python tools/make_sample.py [--data-dir DIR] [--out PATH]
"""

import argparse
import hashlib
from pathlib import Path

import numpy as np

from minivae import datasets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files "
                        "(default: the usual search, see docs/datasets.md)")
    default_out = Path(datasets.__file__).parent.parent / "data" / datasets.SAMPLE_FILE
    parser.add_argument("--out", type=Path, default=default_out,
                        help="where to write the .npz (default: %(default)s)")
    args = parser.parse_args(argv)

    # The loader verifies the test split against FASHION_MNIST_SHA256 before we
    # take anything from it; uint8 keeps it exact, and the crop undoes the padding.
    padded, labels = datasets.load_fashion_mnist("test", args.data_dir, dtype="uint8")
    images = np.ascontiguousarray(padded[:datasets.SAMPLE_SIZE, 2:-2, 2:-2, 0])
    labels = np.ascontiguousarray(labels[:datasets.SAMPLE_SIZE])

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels)
    print(f"wrote {args.out}: {args.out.stat().st_size:,} bytes, images {images.shape} "
          f"{images.dtype}, labels {labels.shape} {labels.dtype}, "
          f"classes present {sorted(set(labels.tolist()))}")
    for key, array in (("images", images), ("labels", labels)):
        print(f'    "{key}": "{hashlib.sha256(array.tobytes()).hexdigest()}",')


if __name__ == "__main__":
    main()
