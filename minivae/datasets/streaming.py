"""Image files read when asked: a folder or CelebA as `minivae train` streams it
(docs/datasets.md, "Streamed folders").

    FolderImages(files, size, read)   an array-like (N, h, w, 3) of uint8 pixels over a
                                      list of files: indexing reads and resizes only
                                      the images it names
    ImageBatches(images, batch_size)  a Sequence of its batches, as fit reads one:
                                      one batch in memory at a time
    batches_of(images, batch_size)    what fit is handed: images in memory as they are,
                                      FolderImages as ImageBatches

Memory stays flat in the number of images: a file list, and the batch being read.
FolderImages indexed gives exactly what loading every file into an array and
indexing that would give (the same reader, the same order).
"""

import math

import numpy as np

from .._validation import check_positive_int
from ..errors import InputError


class FolderImages:
    """The images of `files` (in that order) as an array-like of uint8 pixels.

    size (h, w); read(file, size) -> uint8 (h, w, 3), e.g. folders.folder_pixels.
    shape is (N, h, w, 3), or (N, h*w*3) once flattened() (for a model of flat
    vectors: each image read is flattened row-major). Indexing by an int, a slice,
    or a list/array of ints reads those images now and returns an ndarray;
    subset(slice) and head(n) are images still unread. np.asarray reads them all.
    """

    dtype = np.dtype(np.uint8)

    def __init__(self, files, size, read, flat=False):
        self.files, self.size, self.read, self.flat = tuple(files), tuple(size), read, flat

    def __len__(self):
        return len(self.files)

    @property
    def image_shape(self):
        return (*self.size, 3)

    @property
    def shape(self):
        item = (math.prod(self.image_shape),) if self.flat else self.image_shape
        return (len(self.files), *item)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"FolderImages({len(self)} files, shape {self.shape})"

    def subset(self, part):
        """The images of files[part] (a slice), unread."""
        return FolderImages(self.files[part], self.size, self.read, self.flat)

    def head(self, n):
        """The first n images (all when n is None), unread."""
        return self if n is None else self.subset(slice(None, n))

    def flattened(self):
        """The same images as vectors (N, h*w*3)."""
        return FolderImages(self.files, self.size, self.read, flat=True)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self[[index]][0]
        if isinstance(index, slice):
            picked = range(len(self.files))[index]
        else:
            picked = np.asarray(index)
            if picked.ndim != 1 or not np.issubdtype(picked.dtype, np.integer):
                raise InputError(f"FolderImages: index with an int, a slice or a list of ints, "
                                 f"got {index!r}")
        out = np.empty((len(picked), *self.image_shape), dtype=self.dtype)
        for row, i in enumerate(picked):
            out[row] = self.read(self.files[i], self.size)
        return out.reshape(len(out), -1) if self.flat else out

    def __array__(self, dtype=None, copy=None):
        x = self[:]
        return x if dtype is None else x.astype(dtype)


class ImageBatches:
    """FolderImages as a Sequence of batches (batching.py): batch i is images
    [i * batch_size, (i + 1) * batch_size), read when asked. fit visits the batches
    in a fresh random order each epoch; each batch holds the same images every epoch."""

    def __init__(self, images, batch_size):
        self.images = images
        self.batch_size = check_positive_int(batch_size, "batch_size", "ImageBatches")

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(f"ImageBatches: batch {i} of {len(self)}")
        return self.images[i * self.batch_size:(i + 1) * self.batch_size]


def batches_of(images, batch_size):
    """What fit reads: an array in memory as it is, FolderImages as ImageBatches."""
    return ImageBatches(images, batch_size) if isinstance(images, FolderImages) else images
