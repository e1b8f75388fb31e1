"""The checkpoint file: a verified .npz of plain arrays plus JSON metadata.

Layout (all plain arrays; no pickle is ever read):

    param/<layer>/<name>      every trained parameter, Keras layout and names
    state/<layer>/<name>      non-trained state (BatchNormalization moving stats)
    optimizer/<key>           the optimizer's get_state() (iterations, m/..., v/...)
    meta                      JSON text (minivae/checkpoint/models.py says what)
    checksum                  SHA-256 over every other entry's name, dtype, shape
                              and bytes: a truncated or bit-flipped file is caught

A checkpoint may come from anyone, so `read` costs memory bounded by the limits
below whatever the file holds (docs/checkpoint.md, "Limits"): it reads the zip
directory and each entry's .npy header, holds the declared sizes against the
file's own size and the limits, and only then allocates and reads.
"""

import collections
import hashlib
import json
import math
import os
import re
import stat
import zipfile

import numpy as np

from .._files import open_regular
from ..errors import InputTypeError

FORMAT, VERSION = "minivae-checkpoint", 2
READABLE_VERSIONS = (1, 2)      # version 1: the model named only by its architecture

# What one file may make `read` and `build_model` hold (docs/checkpoint.md, "Limits"):
#   MAX_ARRAY_BYTES        all entries together: room for the parameters and Adam's two
#                          moments of a MAX_PARAMETERS model in float64 (1.2 GB).
#   MAX_COMPRESSION_RATIO  deflated entries together, bytes out per byte in: trained
#                          weights deflate ~1.1:1; zeros and zip bombs ~1000:1.
#   MAX_PARAMETERS         parameters and state of the model a checkpoint describes:
#                          100 times the book's largest (faces_vae, 493,715).
#   MAX_ENTRIES            a model of 3,000 parameter arrays, with Adam's moments.
#   MAX_META_CHARS         the meta JSON: a history of 100,000 values fits.
#   MAX_META_DEPTH         nesting of JSON objects and lists; a model's own is ~10 deep.
MAX_ARRAY_BYTES = 2 ** 31
MAX_COMPRESSION_RATIO = 100
MAX_PARAMETERS = 50_000_000
MAX_ENTRIES = 10_000
MAX_META_CHARS = 2 ** 21
MAX_META_DEPTH = 64

_CHUNK = 1 << 20
_KINDS = "biufU"                # bool, integers, floats, and text (meta, checksum)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET_STEP = np.zeros(256, dtype=np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


class CheckpointError(Exception):
    """A checkpoint could not be written, read, verified or matched to a model."""


def check_parameter_count(count, where):
    """Refuse a described model of more than MAX_PARAMETERS parameters (state included),
    before it is built. The limit is read here, when called, like every other limit."""
    if count > MAX_PARAMETERS:
        raise CheckpointError(f"{where} describes a model of {count:,} parameters, more than "
                              f"the limit of {MAX_PARAMETERS:,}; refused before building it")


def check_checkpoint_size(entries, nbytes, where):
    """Refuse a model whose checkpoint would hold more than MAX_ENTRIES entries or
    MAX_ARRAY_BYTES bytes of arrays, which read() would refuse (limits read when called)."""
    if entries > MAX_ENTRIES:
        raise CheckpointError(f"{where}: its checkpoint would hold about {entries:,} entries "
                              f"(three per parameter array, with the optimizer's moments), "
                              f"more than the {MAX_ENTRIES:,} a checkpoint may hold")
    if nbytes > MAX_ARRAY_BYTES:
        raise CheckpointError(f"{where}: its checkpoint would hold {nbytes:,} bytes of arrays "
                              f"(parameters and the optimizer's moments), more than the "
                              f"{MAX_ARRAY_BYTES:,} a checkpoint may hold")


def _digest(arrays):
    h = hashlib.sha256()
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        h.update(value.reshape(-1).view(np.uint8))     # the bytes, without a copy of them
    return h.hexdigest()


def _check_path(path, owner):
    try:
        return os.fspath(path)
    except TypeError:
        raise InputTypeError(f"{owner}: path must be a str or os.PathLike naming a .npz file, "
                             f"got {type(path).__name__}") from None


def _kind_of_file(mode):
    for test, kind in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _open_regular(path):
    """Open `path` for reading if it is a regular file: a FIFO would block forever, and a
    device would stream without end."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path!r}: no such file") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"{path!r} is a directory, not a checkpoint file "
                              f"(training writes <out>/model.npz)")
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"{path!r} is {_kind_of_file(mode)}, not a checkpoint file; "
                              f"give the path of a .npz file")
    try:
        f, mode = open_regular(path)    # had it become a FIFO since the stat: no hang
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {exc.strerror or exc}") from exc
    if f is None:
        raise CheckpointError(f"{path!r} is {_kind_of_file(mode)}, not a checkpoint file")
    return f


def _plan(z, size, path):
    """The zip directory's entries, once their declared sizes are within the limits."""
    infos = z.infolist()
    if len(infos) > MAX_ENTRIES:
        raise CheckpointError(f"{path!r} has {len(infos):,} entries, more than the limit of "
                              f"{MAX_ENTRIES:,} for a checkpoint")
    counts = collections.Counter(info.filename for info in infos)
    if len(counts) != len(infos):
        twice = sorted(name for name, count in counts.items() if count > 1)
        raise CheckpointError(f"{path!r} is not a minivae checkpoint: entries {twice[:4]} "
                              f"appear more than once")
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise CheckpointError(f"{path!r} is not a minivae checkpoint: its entry "
                                  f"{info.filename!r} is not a .npy array")
        if info.flag_bits & 0x1:
            raise CheckpointError(f"{path!r}: entry {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(f"{path!r}: entry {info.filename!r} uses zip compression "
                                  f"method {info.compress_type}; a checkpoint's entries are "
                                  f"stored or deflated")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise CheckpointError(f"{path!r}: entry {info.filename!r} is stored uncompressed "
                                  f"but declares {info.file_size:,} bytes in "
                                  f"{info.compress_size:,}: the zip directory is corrupt")
    held = sum(info.compress_size for info in infos)
    if held > size:
        raise CheckpointError(f"{path!r}: its zip directory declares {held:,} bytes of entries, "
                              f"more than the file's own {size:,} bytes: corrupt or crafted")
    deflated = [info for info in infos if info.compress_type == zipfile.ZIP_DEFLATED]
    packed = sum(info.compress_size for info in deflated)
    unpacked = sum(info.file_size for info in deflated)
    if unpacked > MAX_COMPRESSION_RATIO * packed:
        raise CheckpointError(f"{path!r}: its compressed entries declare {unpacked:,} bytes "
                              f"from {packed:,}, more than the limit of {MAX_COMPRESSION_RATIO} "
                              f"times (a zip bomb?); refused before decompressing")
    total = sum(info.file_size for info in infos)
    if total > MAX_ARRAY_BYTES:
        raise CheckpointError(f"{path!r}: its entries declare {total:,} bytes, more than the "
                              f"limit of {MAX_ARRAY_BYTES:,} bytes for a checkpoint")
    return infos


def _read_entry(z, info, path):
    """One .npy entry: its header checked against the zip directory's size, then its data."""
    key = info.filename[:-len(".npy")]
    with z.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise CheckpointError(f"{path!r}: entry {key!r} is .npy format version {version}; "
                                  f"a checkpoint's are 1.0 or 2.0")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(f)
        if dtype.kind not in _KINDS or dtype.hasobject or dtype.fields is not None:
            raise CheckpointError(f"{path!r}: entry {key!r} has dtype {dtype}; a checkpoint "
                                  f"holds only numbers and text, never objects")
        nbytes = math.prod(shape) * dtype.itemsize
        # numpy would allocate the array the header declares before reading any of it:
        # the declaration must agree with the zip directory's, already within the limits.
        if f.tell() + nbytes != info.file_size:
            raise CheckpointError(f"{path!r}: entry {key!r} declares shape {shape} of {dtype} "
                                  f"({nbytes:,} bytes), but its zip entry holds "
                                  f"{info.file_size - f.tell():,} bytes of data")
        if key == "meta" and (shape != () or dtype.kind != "U"
                              or dtype.itemsize // 4 > MAX_META_CHARS):
            raise CheckpointError(f"{path!r}: its meta entry is {dtype} of shape {shape}; "
                                  f"expected JSON text of at most {MAX_META_CHARS:,} characters")
        array = np.empty(shape[::-1] if fortran_order else shape, dtype=dtype)
        buffer = memoryview(array.reshape(-1).view(np.uint8))
        filled = 0
        while filled < nbytes:          # in chunks: zipfile's readinto would copy the whole
            n = f.readinto(buffer[filled:filled + _CHUNK])
            if not n:
                raise CheckpointError(f"{path!r}: entry {key!r} is truncated")
            filled += n
        f.read(1)                       # reaches the entry's end, where zipfile checks its CRC
    return key, (array.T if fortran_order else array)


def _nesting_depth(text):
    """How deeply JSON `text` nests objects and lists, counted without parsing it."""
    # Brackets inside strings do not nest: each string becomes "" first.
    skeleton = _STRING.sub('""', text).encode("utf-8", "replace")
    steps = _BRACKET_STEP[np.frombuffer(skeleton, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _field_problem(meta):
    """(field, what is wrong) for the first meta field readers rely on that is malformed."""
    required = ("model_class", "dtype", "epoch", "rng_state", "history")
    missing = [key for key in required if key not in meta]
    if meta.get("version", 1) >= 2 and "model" not in meta:
        missing.append("model")
    elif meta.get("version") == 1 and "model_config" not in meta:
        missing.append("model_config")
    if missing:
        return missing[0], "is missing"
    kinds = {"model_class": str, "dtype": str, "rng_state": dict, "model": dict,
             "model_config": dict, "optimizer_config": (dict, type(None)), "run": dict}
    for key, kind in kinds.items():
        if key in meta and not isinstance(meta[key], kind):
            expected = "a JSON object" if kind is dict else "a string" if kind is str else \
                "a JSON object or null"
            return key, f"is {type(meta[key]).__name__}, expected {expected}"
    epoch = meta["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        return "epoch", f"is {epoch!r}, expected an integer >= 0"
    history = meta["history"]
    if not isinstance(history, dict):
        return "history", f"is {type(history).__name__}, expected a JSON object of metric lists"
    for name, values in history.items():
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            return f"history[{name!r}]", "is not a list of numbers"
    spec = meta.get("model")
    if spec is not None:
        if not isinstance(spec.get("class_name"), str) or not isinstance(spec.get("config"), dict):
            return "model", "lacks a class_name string and a config object"
        shape = spec.get("input_shape")
        if not (isinstance(shape, list) and shape
                and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
            return "model.input_shape", f"is {shape!r}, expected a list of positive integers"
    return None


def _parse_meta(text, path):
    depth = _nesting_depth(text)
    if depth > MAX_META_DEPTH:
        raise CheckpointError(f"{path!r}: its metadata nests {depth} levels deep, more than "
                              f"the limit of {MAX_META_DEPTH}")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path!r} has unreadable metadata: {exc}") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path!r} has metadata of type {type(meta).__name__}; "
                              f"expected a JSON object")
    if meta.get("format") != FORMAT or meta.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(f"{path!r} has format {meta.get('format')!r} version "
                              f"{meta.get('version')!r}; this minivae reads {FORMAT!r} "
                              f"versions {', '.join(map(str, READABLE_VERSIONS))}")
    problem = _field_problem(meta)
    if problem is not None:
        field, what = problem
        raise CheckpointError(f"{path!r}: metadata field {field} {what}")
    return meta


def read(path):
    """The verified arrays and parsed meta of a checkpoint: (arrays, meta).

    Raises CheckpointError, naming the file, for a path that is missing, a folder
    or not a regular file (a named pipe, a device), for a file declaring more than
    the limits above allow (refused before anything is decompressed or allocated),
    and for any file that is not an intact minivae checkpoint. Never unpickles.
    """
    path = _check_path(path, "checkpoint.read")
    try:
        with _open_regular(path) as f:
            arrays = _read_arrays(f, path)
        if "checksum" not in arrays or "meta" not in arrays:
            raise CheckpointError(f"{path!r} is not a minivae checkpoint: no meta/checksum "
                                  f"entries")
        stored = str(arrays.pop("checksum"))
        if _digest(arrays) != stored:
            raise CheckpointError(f"{path!r} failed its SHA-256 check: the file is corrupted")
        return arrays, _parse_meta(str(arrays.pop("meta")), path)
    except MemoryError as exc:
        raise CheckpointError(f"{path!r}: out of memory while reading it; what it declares is "
                              f"within the limits (at most {MAX_ARRAY_BYTES:,} bytes of arrays), "
                              f"but this process could not hold it") from exc


def _read_arrays(f, path):
    size = os.fstat(f.fileno()).st_size
    if f.read(6) == b"\x93NUMPY":
        raise CheckpointError(f"{path!r} holds a single .npy array, not a minivae checkpoint "
                              f"(.npz)")
    f.seek(0)
    try:
        with zipfile.ZipFile(f) as z:
            return dict(_read_entry(z, info, path) for info in _plan(z, size, path))
    except (CheckpointError, MemoryError):
        raise
    except Exception as exc:
        # Corrupt bytes reach zipfile and numpy's .npy header parser, which answer with
        # several exception types: BadZipFile, NotImplementedError (an unknown zip
        # version), zlib errors, ValueError, EOFError, ... Each one means the file is not
        # an intact checkpoint, and the original stays as __cause__.
        raise CheckpointError(f"{path!r} is not a readable minivae checkpoint (truncated or "
                              f"corrupted?): {type(exc).__name__}: {exc}") from exc
