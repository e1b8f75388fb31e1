"""Datasets: Fashion-MNIST and MNIST, the embedded sample, folders of images.

    idx.py      the IDX format, read with bounded memory
    mnist.py    Fashion-MNIST and MNIST: searched for, downloaded, verified, padded
    sample.py   the 2,000-image sample shipped inside the package
    folders.py  folders of PNG/JPEG images (the faces VAE)
    streaming.py  image files read when indexed, and their batches for fit
    celeba.py   CelebA's aligned faces and attribute table, at 64x64, in batches
    standin.py  a small CelebA-shaped stand-in: LFW faces or drawn ones
    spec.py     the Dataset type, load_dataset (the sample when nothing is found), and the
                data spec runs record: fashion-mnist | mnist | folder:PATH | celeba:ROOT

Every problem with data (missing, truncated, corrupt, not the dataset asked
for) raises DatasetError, a ValueError whose message names the file and what
was wrong. Bad arguments raise the ValueError/TypeError of minivae._validation.
Where data is looked for and how it is verified: docs/datasets.md.
"""

from ..pixels import to_float
from .errors import DatasetError, DatasetNotFoundError, DatasetWarning
from .celeba import CelebA, load_celeba, open_celeba
from .folders import load_image_folder
from .idx import read_idx
from .mnist import (ENV_VAR, FASHION_MNIST_CLASSES, FASHION_MNIST_SHA256, FASHION_MNIST_URL,
                    MNIST_CLASSES, MNIST_SHA256, MNIST_URL, NO_SYSTEM_DATA_VAR, load_fashion_mnist,
                    load_mnist)
from .sample import SAMPLE_FILE, SAMPLE_SHA256, SAMPLE_SIZE, load_sample
from .streaming import FolderImages, ImageBatches, batches_of
from .spec import (SAMPLE, Dataset, check_fits, flatten_images, load_dataset, load_for_model,
                   load_for_training, load_spec, parse_spec)

__all__ = ["SAMPLE", "Dataset", "DatasetError", "DatasetNotFoundError", "DatasetWarning",
           "load_dataset",
           "load_fashion_mnist", "load_mnist", "load_sample", "load_image_folder", "read_idx",
           "CelebA", "open_celeba", "load_celeba", "parse_spec", "load_spec",
           "load_for_training", "load_for_model", "check_fits", "flatten_images",
           "FolderImages", "ImageBatches", "batches_of",
           "to_float", "ENV_VAR", "NO_SYSTEM_DATA_VAR", "FASHION_MNIST_CLASSES", "MNIST_CLASSES",
           "FASHION_MNIST_SHA256", "MNIST_SHA256", "FASHION_MNIST_URL", "MNIST_URL",
           "SAMPLE_FILE", "SAMPLE_SHA256", "SAMPLE_SIZE"]
