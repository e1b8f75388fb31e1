"""The IDX format of MNIST and Fashion-MNIST, read with bounded memory (docs/datasets.md).

Layout: two zero bytes, a type code, the number of dimensions d, d big-endian
uint32 sizes, then the values, big-endian, in C order; gzip-compressed or raw.

The payload the header declares is held against the limits below before any of
it is read or decompressed, so a file costs memory bounded by its size and those
limits whatever its header claims (docs/datasets.md, "Limits").
"""

import gzip
import math
import os
import zlib

import numpy as np

from .._files import open_regular
from ..errors import InputTypeError
from .errors import DatasetError

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_MAX_NDIM = 32      # numpy's smallest supported limit; IDX files in the wild use 1 to 4

# The payload one file may declare (docs/datasets.md, "Limits"):
#   MAX_IDX_BYTES   1 GiB. EMNIST ByClass's training images, the largest IDX file in
#                   common use, hold 522 MiB; Fashion-MNIST's 45 MiB.
#   MAX_GZIP_RATIO  payload bytes per byte of gzip file. The releases inflate 1.8x to
#                   2.0x (Fashion-MNIST) and 4.8x (MNIST); a gzip bomb ~1000x.
#   GZIP_ALLOWANCE  what any gzip file may declare whatever its ratio: small files of
#                   zeros (blank labels, test fixtures) deflate ~1000x too.
MAX_IDX_BYTES = 2 ** 30
MAX_GZIP_RATIO = 16
GZIP_ALLOWANCE = 2 ** 24


class _Rejoined:
    """A read-only stream giving `head` and then the rest of `stream`.

    Lets read_idx sniff the gzip magic without asking for a seekable file.
    """

    def __init__(self, head, stream):
        self.head, self.stream = head, stream
        self.consumed = 0               # bytes handed out: what gzip has read of the file

    def read(self, n=-1):
        out = self._read(n)
        self.consumed += len(out)
        return out

    def _read(self, n):
        if not self.head:
            return self.stream.read(n)
        if n is None or n < 0:
            out, self.head = self.head + self.stream.read(), b""
            return out
        out, self.head = self.head[:n], self.head[n:]
        return out + self.stream.read(n - len(out)) if len(out) < n else out


def _read_upto(stream, n, check=None):
    """Read up to n bytes in chunks, so that a header claiming terabytes
    allocates no more than the file actually holds; check(bytes so far), if
    given, may refuse to go on."""
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
        if check is not None:
            check(len(buf))
    return buf


def _size_left(f):
    """Bytes from f's position to its end, or None for a stream that cannot tell."""
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


class _Limits:
    """What the payload of one file may be: checked on the header's declaration before
    reading, and, for gzip data from a stream of unknown size, as it inflates."""

    def __init__(self, name, source, compressed, size):
        self.name, self.source, self.compressed, self.size = name, source, compressed, size

    def declared(self, expected, shape, dtype):
        bound = MAX_IDX_BYTES
        why = f"the limit of {MAX_IDX_BYTES:,} bytes for an IDX file"
        if self.compressed and self.size is not None:
            ratio_bound = max(GZIP_ALLOWANCE, MAX_GZIP_RATIO * self.size)
            if ratio_bound < bound:
                bound = ratio_bound
                why = (f"the limit for a {self.size:,}-byte gzip file ({MAX_GZIP_RATIO}x its "
                       f"size, and at least {GZIP_ALLOWANCE:,} bytes)")
        if expected > bound:
            raise DatasetError(f"{self.name}: the header declares shape {shape} of {dtype.name}, "
                               f"{expected:,} bytes of data, more than {why}; refused before "
                               f"reading it (docs/datasets.md, 'Limits')")

    def inflating(self, produced):
        if not self.compressed or self.size is not None:
            return              # raw data cannot grow; a known size was checked up front
        consumed = self.source.consumed
        if produced > max(GZIP_ALLOWANCE, MAX_GZIP_RATIO * consumed):
            raise DatasetError(f"{self.name}: the gzip data inflates to {produced:,} bytes from "
                               f"{consumed:,}, more than {MAX_GZIP_RATIO}x (and "
                               f"{GZIP_ALLOWANCE:,} bytes); refused (a gzip bomb?)")


def _count_rest(stream):
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
    return total


def _parse_idx(stream, name, limits):
    header = _read_upto(stream, 4)
    if len(header) < 4:
        raise DatasetError(f"{name}: not an IDX file: it holds {len(header)} byte(s), fewer than "
                           f"the 4-byte magic number")
    zero0, zero1, code, ndim = header
    if zero0 or zero1:
        raise DatasetError(f"{name}: not an IDX file: its magic number {header.hex(' ')} should "
                           f"start with two zero bytes")
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({np.dtype(t).name})" for c, t in _IDX_DTYPES.items())
        raise DatasetError(f"{name}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if not 1 <= ndim <= _MAX_NDIM:
        raise DatasetError(f"{name}: IDX header declares {ndim} dimensions; expected 1 to "
                           f"{_MAX_NDIM}")
    sizes = _read_upto(stream, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DatasetError(f"{name}: truncated header: {ndim} dimensions need {4 * ndim} bytes "
                           f"of sizes, the file holds {len(sizes)}")
    shape = tuple(int.from_bytes(sizes[4 * i:4 * i + 4], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = math.prod(shape) * dtype.itemsize
    limits.declared(expected, shape, dtype)
    try:
        payload = _read_upto(stream, expected, limits.inflating)
    except MemoryError as exc:
        raise DatasetError(f"{name}: out of memory reading its {expected:,} bytes of data "
                           f"(shape {shape} of {dtype.name})") from exc
    if len(payload) < expected:
        raise DatasetError(f"{name}: truncated: the header declares shape {shape} of {dtype.name}, "
                           f"{expected} bytes of data, but the file holds {len(payload)}")
    extra = _count_rest(stream)
    if extra:
        raise DatasetError(f"{name}: over-long: the header declares shape {shape} of "
                           f"{dtype.name}, {expected} bytes of data, but the file holds "
                           f"{expected + extra}")
    # A bytearray buffer makes the array writable; big-endian values become native in
    # place, so the payload is never held twice.
    array = np.frombuffer(payload, dtype=dtype)
    if not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array.reshape(shape)


def _read_idx_stream(f, name):
    compressed = False
    try:
        head = f.read(2)
        if not isinstance(head, (bytes, bytearray)):
            raise InputTypeError(f"read_idx: {name} must be opened in binary mode ('rb'), it gave "
                                 f"{type(head).__name__}")
        compressed = head == _GZIP_MAGIC
        size = _size_left(f)
        source = stream = _Rejoined(head, f)
        if compressed:
            stream = gzip.GzipFile(fileobj=source, mode="rb")
        limits = _Limits(name, source, compressed, None if size is None else size + len(head))
        return _parse_idx(stream, name, limits)
    except (OSError, EOFError, zlib.error) as exc:   # gzip.BadGzipFile is an OSError
        what = "corrupt or truncated gzip data" if compressed else "reading failed"
        raise DatasetError(f"{name}: {what} ({type(exc).__name__}: {exc})") from exc


def read_idx(path_or_fileobj):
    """Read an IDX file (the MNIST format), gzip-compressed or raw, into an array.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions d, d
    big-endian uint32 sizes, then the values, big-endian, in C order. Gzip is
    recognised by its magic bytes 1f 8b, never by the file name.

    path_or_fileobj: a path, or a binary file object opened for reading (left open).
    Returns a writable, native-endian array of the declared shape.
    Raises DatasetError, naming the file, for a wrong magic number, an unknown
    type code, a payload shorter or longer than the sizes declare (giving both
    byte counts), a payload beyond the limits above (refused before it is read),
    a path that is not a regular file, bad gzip data, a failed read or memory
    running out; the original is its __cause__.
    """
    if hasattr(path_or_fileobj, "read"):
        return _read_idx_stream(path_or_fileobj, getattr(path_or_fileobj, "name", "<file object>"))
    try:
        name = os.fspath(path_or_fileobj)
    except TypeError:
        raise InputTypeError(f"read_idx: expected a path or a binary file object, got "
                             f"{type(path_or_fileobj).__name__}") from None
    try:
        f, _ = open_regular(name)      # a named pipe is not waited on, but refused
        if f is None:
            raise DatasetError(f"{name}: not a regular file (a named pipe or a device?); "
                               f"an IDX file must be a file on disk")
        with f:
            return _read_idx_stream(f, name)
    except OSError as exc:
        raise DatasetError(f"{name}: cannot open IDX file ({exc.strerror or exc})") from exc
