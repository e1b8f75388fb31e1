"""Hostile files cost bounded memory (issue 14; docs/checkpoint.md and docs/datasets.md,
"Limits").

Each case runs in a child process whose address space is capped (RLIMIT_AS) at its
own baseline, measured once numpy and the reader are imported, plus HEADROOM. Before
the limits, every hostile file here took 1 GB or more; under the cap it ended in a
MemoryError naming no file, or, for a named pipe, blocked forever. Now each one is
refused, naming the file and the limit, before its payload is decompressed or its
arrays allocated; a file within the limits that this process cannot hold is a
reader's error naming the file; and good files still load under the same cap.
The files are made here, field by field where a library would not write them.
"""

import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from minivae import checkpoint
from minivae.architectures import fashion_vae

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="measures the address space in /proc/self/status")

MiB = 1 << 20
HEADROOM = 256 * MiB        # each hostile file below needed 1 GB or more before the limits
PATIENCE = 300              # a hang guard only: a refusal takes about a second
REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys
headroom, cases = int(sys.argv[1]), json.loads(sys.argv[2])
import resource, gzip, zipfile
import numpy as np
from minivae import architectures, checkpoint, datasets, serialization
if any(reader == "folder" for reader, _ in cases):
    import matplotlib.image, PIL.Image, PIL.PngImagePlugin

def vm(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))

class Unseekable:                   # a pipe's view of a file: read() only
    def __init__(self, f):
        self.read, self.name = f.read, f.name

def run(reader, path):
    if reader == "checkpoint":
        checkpoint.load(path)
    elif reader == "idx":
        datasets.read_idx(path)
    elif reader == "idx-stream":
        with open(path, "rb") as f:
            datasets.read_idx(Unseekable(f))
    else:
        datasets.load_image_folder(path, size=(8, 8))

base = vm("VmSize")
resource.setrlimit(resource.RLIMIT_AS, (base + headroom, base + headroom))
results = []
for reader, path in cases:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                # restart the resident high-water mark (VmHWM) here
    rss = vm("VmRSS")
    try:
        run(reader, path)
        outcome = "loaded"
    except (checkpoint.CheckpointError, datasets.DatasetError) as exc:
        outcome = f"refused: {exc}"
    results.append({"outcome": outcome, "peak": vm("VmHWM") - rss})
print(json.dumps(results))
"""


def run_capped(cases, env):
    """Run [(reader, path), ...] one after another in a child capped at its baseline plus
    HEADROOM; each case's outcome and peak resident memory above what it started with."""
    env = {**env, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(HEADROOM), json.dumps(cases)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=PATIENCE)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# -- the hostile files ---------------------------------------------------------------

def npy_header(shape, descr="<f8"):
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False,
                                             "shape": shape})
    return f.getvalue()


def write_zip(path, name, data, *, method=0, file_size=None, hole=0):
    """A one-entry zip written field by field, as zipfile would not: `data` then `hole`
    zero bytes (left sparse) as the entry's stored bytes, `file_size` what the
    directory declares they inflate to. The CRC is right for a plain stored entry, and
    0 otherwise: those files are refused, or run out of memory, before it is checked."""
    name = name.encode()
    stored = len(data) + hole
    file_size = stored if file_size is None else file_size
    crc = zlib.crc32(data) if file_size == len(data) else 0
    sizes = (crc, stored, file_size, len(name))
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, *sizes, 0) + name
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, *sizes,
                          0, 0, 0, 0, 0, 0) + name
    with open(path, "wb") as f:
        f.write(local + data)
        f.seek(hole, os.SEEK_CUR)
        offset = f.tell()
        f.write(central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central),
                                      offset, 0))
    return path


def deflated_zeros(head, mebibytes, wbits):
    """`head` then `mebibytes` MiB of zeros, deflated in ~1 KB a MiB without compressing
    them all: after a full flush the compressor starts afresh, so one MiB's output
    repeats. The gzip trailer's CRC is wrong; the readers refuse before it."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    piece = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
    return first + piece * mebibytes + c.flush()


def zip_bomb(path):
    """~3 MB whose directory declares a 3.2 GB deflated .npy: the issue's 3.2 GB case."""
    n = 3052                                    # MiB of zeros: 400,031,744 float64
    head = npy_header((n * MiB // 8,))
    data = deflated_zeros(head, n, -15)
    return write_zip(path, "param/x.npy", data, method=8, file_size=len(head) + n * MiB)


def npy_header_bomb(path):
    """An honest directory (1 KB stored) around a .npy header declaring 3.2 GB: numpy
    allocates what the header says before reading."""
    return write_zip(path, "param/x.npy", npy_header((400_000_000,)) + bytes(1024))


def latent_dim_checkpoint(path):
    """A valid checkpoint, checksum and all, whose model says latent_dim 1,000,000."""
    checkpoint.save(path, fashion_vae(seed=0))
    arrays, meta = checkpoint.read(path)
    meta["model"]["config"]["encoder"]["config"]["latent_dim"] = 1_000_000
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["checksum"] = np.array(checkpoint.files._digest(arrays))
    with open(path, "wb") as f:                 # np.savez would append .npz to a name
        np.savez(f, **arrays)
    return path


def idx_header(shape, code=0x08):
    return bytes([0, 0, code, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


def idx_gzip_bomb(path):
    """1 MB of gzip whose IDX header declares 1 GiB of uint8: the issue's 1.06 GB case."""
    path.write_bytes(deflated_zeros(idx_header((1024, 1024, 1024)), 1024, 31))
    return path


def png(width, height, bit_depth, colour_type, rows):
    def chunk(kind, body):
        return (struct.pack(">L", len(body)) + kind + body
                + struct.pack(">L", zlib.crc32(kind + body)))
    ihdr = struct.pack(">2L5B", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 1))
            + chunk(b"IEND", b""))


def huge_png_folder(folder):
    """A valid ~24 KB 1-bit PNG of 14000x14000 pixels: decoding takes ~3.8 GB."""
    folder.mkdir()
    (folder / "huge.png").write_bytes(png(14000, 14000, 1, 0, bytes(14000 * (1 + 14000 // 8))))
    return folder


def large_checkpoint(path):
    """Within every limit (300 MB of arrays), more than the capped process can hold."""
    n = 300 * MiB
    return write_zip(path, "param/x.npy", npy_header((n // 8,)), hole=n)


def large_idx(path):
    """A raw IDX of 300 MB (a sparse file), within the limits, beyond the cap."""
    with open(path, "wb") as f:
        f.write(idx_header((300, 1024, 1024)))
        f.truncate(f.tell() + 300 * MiB)
    return path


def large_png_folder(folder):
    """A 4096x4000 RGBA PNG, under the pixel limit: decoding takes ~400 MB."""
    folder.mkdir()
    (folder / "large.png").write_bytes(png(4096, 4000, 8, 6, bytes(4000 * (1 + 4096 * 4))))
    return folder


def good_png_folder(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = b"".join(b"\x00" + rng.integers(0, 256, 40 * 3, dtype=np.uint8).tobytes()
                    for _ in range(30))
    (folder / "a.png").write_bytes(png(40, 30, 8, 2, rows))
    return folder


def named_pipe(path):
    os.mkfifo(path)
    return path


# case: (reader, how the file is made, what the refusal says, or None: it loads). Each
# reader's cases run in one child, in this order: the good files last, to show that
# the refusals left the capped process able to read them.
CASES = {
    "zip bomb": ("checkpoint", zip_bomb, r"zip bomb\?\); refused before decompressing"),
    ".npy header bomb": ("checkpoint", npy_header_bomb,
                         r"entry 'param/x' declares shape \(400000000,\) of float64 "
                         r"\(3,200,000,000 bytes\), but its zip entry holds 1,024 bytes"),
    "latent_dim 1e6": ("checkpoint", latent_dim_checkpoint,
                       r"describes a model of 6,146,334,849 parameters, more than the limit "
                       r"of 50,000,000; refused before building it"),
    "named pipe as a checkpoint": ("checkpoint", named_pipe,
                                   r"is a named pipe \(FIFO\), not a checkpoint file"),
    "checkpoint too large for the process": ("checkpoint", large_checkpoint,
                                             r"out of memory while reading it"),
    "a good checkpoint": ("checkpoint", lambda p: checkpoint.save(p, fashion_vae(seed=0)), None),
    "IDX gzip bomb": ("idx", idx_gzip_bomb,
                      r"declares shape \(1024, 1024, 1024\) of uint8, 1,073,741,824 bytes of "
                      r"data, more than the limit for a 1,0\d\d,\d\d\d-byte gzip file"),
    "IDX gzip bomb, unseekable": ("idx-stream", idx_gzip_bomb,
                                  r"inflates to .* more than 16x .*refused \(a gzip bomb\?\)"),
    "named pipe as an IDX file": ("idx", named_pipe, r"not a regular file"),
    "IDX too large for the process": ("idx", large_idx, r"out of memory reading its "
                                                        r"314,572,800 bytes"),
    "PNG 14000x14000": ("folder", huge_png_folder,
                        r"huge.png: 14000x14000 is 196,000,000 pixels, more than the limit "
                        r"of 16,777,216 for one image; refused before decoding"),
    "PNG too large for the process": ("folder", large_png_folder,
                                      r"large.png: out of memory while decoding it"),
    "a good image folder": ("folder", good_png_folder, None),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, hermetic_env):
    """Every case's outcome and peak: a capped child per reader, two children at a time."""
    folder = tmp_path_factory.mktemp("hostile")
    paths = {case: str(make(folder / f"case{i}" if reader == "folder" else folder / f"case{i}.bin"))
             for i, (case, (reader, make, _)) in enumerate(CASES.items())}
    groups = {}
    for case, (reader, _, _) in CASES.items():
        groups.setdefault(reader.split("-")[0], []).append(case)
    with ThreadPoolExecutor(2) as pool:
        runs = {pool.submit(run_capped, [(CASES[c][0], paths[c]) for c in cases], hermetic_env):
                cases for cases in groups.values()}
        return {case: (paths[case], result) for future, cases in runs.items()
                for case, result in zip(cases, future.result())}


@pytest.mark.parametrize("case", CASES)
def test_each_file_is_refused_naming_it_within_the_memory_cap(outcomes, case):
    path, result = outcomes[case]
    expected = CASES[case][2]
    if expected is None:
        assert result["outcome"] == "loaded"
        return
    assert result["outcome"].startswith("refused: "), result
    assert path in result["outcome"], result
    assert re.search(expected, result["outcome"]), result


def test_the_refusals_cost_little_memory(outcomes):
    """A refusal reads headers only: its peak resident memory above the baseline stays far
    under the cap, whatever the file declares. 64 MiB covers the unseekable IDX stream
    inflating its 16 MiB allowance before the ratio refuses it."""
    for case in ("zip bomb", ".npy header bomb", "latent_dim 1e6", "IDX gzip bomb",
                 "IDX gzip bomb, unseekable", "PNG 14000x14000"):
        assert outcomes[case][1]["peak"] < 64 * MiB, (case, outcomes[case])
