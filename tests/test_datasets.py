"""Tests for minivae.datasets.

The reader is proved on IDX files these tests write themselves (every dtype,
gzip and raw, broken in every way we know); the real Fashion-MNIST, when the
Debian package is installed, only adds a check of shapes and recorded hashes.
"""

import functools
import gzip
import hashlib
import http.server
import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae import datasets
from minivae.datasets import DatasetError, DatasetNotFoundError, read_idx
from minivae.errors import InputError

# An independent writer: the IDX layout spelled out again, not taken from the module.
TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
              np.float32: 0x0D, np.float64: 0x0E}
STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
REAL_DIR = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array):
    array = np.asarray(array)
    header = bytes([0, 0, TYPE_CODES[array.dtype.type], array.ndim])
    sizes = b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + sizes + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz=True):
    data = idx_bytes(array)
    Path(path).write_bytes(gzip.compress(data) if gz else data)
    return Path(path)


def sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def write_dataset(folder, n_train=6, n_test=4, gz=True, seed=0):
    """Write a tiny MNIST-format dataset; return its arrays and checksums."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays, checksums = {}, {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n, dtype=np.uint8)
        for stem, array in zip(STEMS[split], (x, y)):
            write_idx(folder / (stem + ".gz" if gz else stem), array, gz)
            checksums[stem] = sha256(array)
        arrays[split] = (x, y)
    return arrays, checksums


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real data anywhere: HOME, $MINIVAE_DATA and the Debian root all point into tmp."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MINIVAE_DATA", raising=False)
    monkeypatch.delenv("MINIVAE_NO_SYSTEM_DATA", raising=False)
    monkeypatch.setattr(datasets.mnist, "SYSTEM_DATA_ROOT", tmp_path / "system")
    return tmp_path


# ---------------------------------------------------------------- read_idx --

@pytest.mark.parametrize("dtype", list(TYPE_CODES))
@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trips_every_dtype(tmp_path, dtype, gz):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal((3, 5, 2)) * 100).astype(dtype)
    out = read_idx(write_idx(tmp_path / "a.idx", array, gz))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.shape == (3, 5, 2)
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable


def test_read_idx_accepts_file_objects_even_unseekable(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)

    class ReadOnly:                     # no seek, no name: only read()
        def __init__(self, data):
            self._buffer = io.BytesIO(data)

        def read(self, n=-1):
            return self._buffer.read(n)

    for data in (idx_bytes(array), gzip.compress(idx_bytes(array))):
        np.testing.assert_array_equal(read_idx(ReadOnly(data)), array)
        np.testing.assert_array_equal(read_idx(io.BytesIO(data)), array)


def test_gzip_is_told_by_magic_not_by_name(tmp_path):
    array = np.arange(10, dtype=np.int16)
    raw_named_gz = write_idx(tmp_path / "raw.gz", array, gz=False)
    gz_named_raw = write_idx(tmp_path / "compressed.idx", array, gz=True)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)


def test_empty_dimensions_read_as_empty_arrays(tmp_path):
    assert read_idx(write_idx(tmp_path / "e", np.zeros((0, 28, 28), np.uint8))).shape == (0, 28, 28)


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_payload_names_file_and_both_byte_counts(tmp_path, gz):
    data = idx_bytes(np.zeros((4, 5), np.uint8))[:-3]           # 17 of the 20 payload bytes
    path = tmp_path / "short.idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DatasetError, match=r"short\.idx: truncated.*20 bytes.*holds 17"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False])
def test_over_long_payload_names_file_and_both_byte_counts(tmp_path, gz):
    data = idx_bytes(np.zeros((4, 5), np.int32)) + b"\x00" * 7  # 80 payload bytes + 7
    path = tmp_path / "long.idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DatasetError, match=r"long\.idx: over-long.*80 bytes.*holds 87"):
        read_idx(path)


@pytest.mark.parametrize("data, message", [
    (b"", "fewer than the 4-byte magic"),
    (b"\x00\x00", "fewer than the 4-byte magic"),
    (b"\x00\x01\x08\x01" + b"\x00\x00\x00\x01x", "two zero bytes"),
    (b"PK\x03\x04", "two zero bytes"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01x", "unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x00", "declares 0 dimensions"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated header"),
])
def test_malformed_headers_raise_dataset_error(tmp_path, data, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert "bad.idx" in str(info.value)


def test_bad_gzip_is_wrapped_with_its_cause(tmp_path):
    good = gzip.compress(idx_bytes(np.arange(4000, dtype=np.int32)))
    cases = {
        "garbage": b"\x1f\x8b" + b"not gzip at all" * 4,
        "cut": good[: len(good) // 2],
        "flipped": good[:30] + bytes(b ^ 0xFF for b in good[30:60]) + good[60:],
    }
    for label, data in cases.items():
        path = tmp_path / f"{label}.gz"
        path.write_bytes(data)
        with pytest.raises(DatasetError, match=f"{label}.gz: corrupt or truncated gzip") as info:
            read_idx(path)
        assert info.value.__cause__ is not None, label


def test_unreadable_paths_raise_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="missing.idx: cannot open") as info:
        read_idx(tmp_path / "missing.idx")
    assert isinstance(info.value.__cause__, FileNotFoundError)
    with pytest.raises(DatasetError, match="cannot open"):
        read_idx(tmp_path)                                      # a folder


def test_bad_arguments_are_type_errors(tmp_path):
    with pytest.raises(TypeError, match="path or a binary file object"):
        read_idx(42)
    with pytest.raises(TypeError, match="binary mode"):
        read_idx(io.StringIO("text"))


# Declared sizes are held against the file and the limits before anything is read
# (docs/datasets.md, "Limits"); the memory this saves: tests/test_hostile_files.py.

def test_a_gzip_file_may_not_declare_more_than_its_ratio_allows(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.idx, "GZIP_ALLOWANCE", 1000)
    data = gzip.compress(idx_bytes(np.zeros((100, 28, 28), np.uint8)))    # ~100 B: 780x
    path = tmp_path / "bomb.gz"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=rf"bomb.gz: the header declares shape \(100, 28, 28\) "
                                           rf"of uint8, 78,400 bytes of data, more than the limit "
                                           rf"for a {len(data)}-byte gzip file \(16x its size, and "
                                           rf"at least 1,000 bytes\)"):
        read_idx(path)
    monkeypatch.setattr(datasets.idx, "GZIP_ALLOWANCE", 100_000)     # the same file, allowed
    assert read_idx(path).shape == (100, 28, 28)


def test_a_gzip_stream_of_unknown_size_is_held_to_the_ratio_as_it_inflates(monkeypatch):
    monkeypatch.setattr(datasets.idx, "GZIP_ALLOWANCE", 1000)
    data = gzip.compress(idx_bytes(np.zeros((100, 28, 28), np.uint8)))

    class Pipe:                     # read() only: its size cannot be known in advance
        name = "pipe"

        def __init__(self):
            self.read = io.BytesIO(data).read

    with pytest.raises(DatasetError, match=r"pipe: the gzip data inflates to [\d,]+ bytes from "
                                           r"[\d,]+, more than 16x .*\(a gzip bomb\?\)"):
        read_idx(Pipe())


def test_no_idx_file_may_declare_more_than_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.idx, "MAX_IDX_BYTES", 1000)
    for gz in (False, True):
        path = write_idx(tmp_path / f"big{gz}", np.zeros((2, 28, 28), np.uint8), gz)
        with pytest.raises(DatasetError, match=r"declares shape \(2, 28, 28\) of uint8, 1,568 "
                                               r"bytes of data, more than the limit of 1,000 "
                                               r"bytes for an IDX file"):
            read_idx(path)


def test_an_image_is_measured_before_it_is_decoded(tmp_path, monkeypatch):
    from PIL import Image
    monkeypatch.setattr(datasets.folders, "MAX_IMAGE_PIXELS", 99)
    for name in ("wide.png", "wide.jpg"):
        folder = tmp_path / name.split(".")[1]
        folder.mkdir()
        Image.new("RGB", (20, 5)).save(folder / name)
        with pytest.raises(DatasetError, match=rf"{name}: 20x5 is 100 pixels, more than the "
                                               rf"limit of 99 for one image; refused before "
                                               rf"decoding it"):
            datasets.load_image_folder(folder)
    monkeypatch.setattr(datasets.folders, "MAX_IMAGE_PIXELS", 100)
    assert datasets.load_image_folder(folder, size=4).shape == (1, 4, 4, 3)


byte_soup = st.one_of(
    st.binary(max_size=64),
    st.binary(max_size=40).map(lambda b: b"\x00\x00" + b),                 # past the magic
    st.tuples(st.sampled_from([8, 9, 11, 12, 13, 14]), st.integers(1, 3),
              st.binary(max_size=40)).map(lambda t: bytes([0, 0, t[0], t[1]]) + t[2]),
    st.binary(max_size=40).map(lambda b: gzip.compress(b"\x00\x00\x08\x01" + b)),
    st.binary(max_size=40).map(lambda b: b"\x1f\x8b" + b),                 # gzip magic, then junk
)


@settings(max_examples=200, deadline=None)
@given(data=byte_soup)
def test_random_bytes_give_an_array_or_dataset_error_only(data):
    try:
        out = read_idx(io.BytesIO(data))
    except DatasetError as exc:
        assert "<file object>" in str(exc)
    else:
        assert isinstance(out, np.ndarray)


# ------------------------------------------------------------------ loaders --

def test_load_pads_and_scales_as_the_book(isolated):
    arrays, checksums = write_dataset(isolated / "data")
    for split in ("train", "test"):
        x, y = datasets.load_fashion_mnist(split, isolated / "data", checksums=checksums)
        raw_x, raw_y = arrays[split]
        book = np.pad(raw_x, ((0, 0), (2, 2), (2, 2)), constant_values=0)[..., None]
        assert x.shape == (len(raw_x), 32, 32, 1) and x.dtype == np.float32
        np.testing.assert_array_equal(x, book.astype(np.float32) / 255)   # exactly, not approx
        np.testing.assert_array_equal(y, raw_y)
        assert y.dtype == np.uint8
        x8, _ = datasets.load_fashion_mnist(split, isolated / "data", dtype="uint8",
                                            checksums=checksums)
        np.testing.assert_array_equal(x8, book)
        np.testing.assert_array_equal(datasets.to_float(x8), x)


def test_uncompressed_files_and_float64(isolated):
    arrays, checksums = write_dataset(isolated / "raw", gz=False)
    x, y = datasets.load_fashion_mnist("test", isolated / "raw", dtype=np.float64,
                                       checksums=checksums)
    assert x.dtype == np.float64 and x.shape == (4, 32, 32, 1)
    np.testing.assert_array_equal(y, arrays["test"][1])


def test_recorded_checksums_reject_other_data_of_the_published_size(isolated, monkeypatch):
    """Files as long as the release whose SHA-256 differs are corrupt: refused, unless
    verify=False, which loads them with a warning. (The release's lengths are patched
    down to this fixture's 6 and 4 images.)"""
    monkeypatch.setattr(datasets.mnist, "PUBLISHED_SIZE", {"train": 6, "test": 4})
    write_dataset(isolated / "data")
    with pytest.raises(DatasetError, match="corrupt or is not Fashion-MNIST.*verify=False "
                                           r"\(--no-verify\)") as info:
        datasets.load_fashion_mnist("test", isolated / "data")
    assert "t10k-images-idx3-ubyte.gz" in str(info.value)
    with pytest.warns(datasets.DatasetWarning, match="SHA-256 differs .* loaded anyway"):
        x, _ = datasets.load_fashion_mnist("test", isolated / "data", verify=False)
    assert x.shape == (4, 32, 32, 1)
    x, _ = datasets.load_fashion_mnist("test", isolated / "data", checksums={})  # {}: no checks
    assert x.shape == (4, 32, 32, 1)


def test_files_of_another_length_load_with_a_warning_that_they_are_unverified(isolated):
    """A subset of the release (4 test images, not 10,000) is not the release: it loads,
    and says once per file that it was not verified."""
    arrays, _ = write_dataset(isolated / "data")
    with pytest.warns(datasets.DatasetWarning) as caught:
        x, y = datasets.load_fashion_mnist("test", isolated / "data")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2 and all("holds 4 entries, not the 10,000 of Fashion-MNIST's "
                                      "published release; loaded unverified" in m
                                      for m in messages)
    np.testing.assert_array_equal(y, arrays["test"][1])


def test_pad_false_keeps_the_28x28_images(isolated):
    arrays, checksums = write_dataset(isolated / "data")
    x, _ = datasets.load_fashion_mnist("test", isolated / "data", pad=False, dtype="uint8",
                                       checksums=checksums)
    np.testing.assert_array_equal(x[..., 0], arrays["test"][0])
    s, _ = datasets.load_sample(pad=False)
    assert s.shape == (2000, 28, 28, 1)


def test_search_order_data_dir_then_env_then_cache_then_system(isolated, monkeypatch):
    home = Path(os.environ["HOME"])
    places = {"data_dir": (isolated / "given", 1), "env": (isolated / "env" / "mnist", 2),
              "cache": (home / ".cache" / "minivae" / "mnist", 3),
              "system": (isolated / "system" / "mnist", 4)}
    for folder, n in places.values():
        write_dataset(folder, n_train=n)
    monkeypatch.setenv("MINIVAE_DATA", str(isolated / "env"))

    def n_loaded(data_dir=None):
        return len(datasets.load_mnist("train", data_dir)[1])

    assert n_loaded(isolated / "given") == 1
    assert n_loaded() == 2
    monkeypatch.delenv("MINIVAE_DATA")
    assert n_loaded() == 3
    for f in places["cache"][0].iterdir():
        f.unlink()
    assert n_loaded() == 4
    with pytest.raises(DatasetNotFoundError, match="(?s)nowhere.*no such folder.*only place"):
        n_loaded(isolated / "nowhere")          # a data_dir given never falls through
    write_dataset(isolated / "root" / "mnist", n_train=5)      # data_dir/<name> is looked at too
    assert n_loaded(isolated / "root") == 5


def test_no_system_data_variable_leaves_the_system_folder_out(isolated, monkeypatch):
    """MINIVAE_NO_SYSTEM_DATA=1 makes a machine with the Debian package look like one
    without it (what the subprocess tests rely on); "0" or empty changes nothing."""
    write_dataset(isolated / "system" / "mnist", n_train=3)
    for value in ("0", ""):
        monkeypatch.setenv("MINIVAE_NO_SYSTEM_DATA", value)
        assert len(datasets.load_mnist("train")[1]) == 3
    monkeypatch.setenv("MINIVAE_NO_SYSTEM_DATA", "1")
    with pytest.raises(DatasetNotFoundError, match=r"system/mnist  \(not searched: "
                                                   r"MINIVAE_NO_SYSTEM_DATA is set\)"):
        datasets.load_mnist("train")
    write_dataset(isolated / "given", n_train=2)               # other places are still searched
    assert len(datasets.load_mnist("train", isolated / "given")[1]) == 2


def test_not_found_lists_every_place_and_the_ways_to_get_it(isolated, monkeypatch):
    monkeypatch.setenv("MINIVAE_DATA", str(isolated / "env"))
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.load_fashion_mnist("train")
    message = str(info.value)
    home = Path(os.environ["HOME"])
    for place in (isolated / "env" / "fashion-mnist", home / ".cache" / "minivae" /
                  "fashion-mnist", isolated / "system" / "fashion-mnist"):
        assert str(place) in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download=True" in message and "embedded sample" in message
    assert isinstance(info.value, DatasetError) and isinstance(info.value, ValueError)


def test_a_data_dir_given_is_the_only_place_looked_in(isolated, monkeypatch):
    """A folder named by the caller that lacks the files is an error naming it, never
    a silent switch to another copy (here one in $MINIVAE_DATA), nor to the sample."""
    write_dataset(isolated / "env" / "fashion-mnist")
    monkeypatch.setenv("MINIVAE_DATA", str(isolated / "env"))
    partial = isolated / "given"
    partial.mkdir()
    write_idx(partial / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.load_fashion_mnist("train", partial)
    message = str(info.value)
    assert str(partial) in message and "missing train-labels-idx1-ubyte[.gz]" in message
    assert "only place searched" in message and str(isolated / "env") not in message
    assert "embedded sample" not in message
    with pytest.raises(DatasetNotFoundError):
        datasets.load_dataset("train", partial, dtype="uint8")      # no fallback to the sample


def test_mismatched_or_misshapen_files(isolated):
    folder = isolated / "data"
    arrays, _ = write_dataset(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DatasetError, match=r"t10k-images.*4 images but .*t10k-labels.*3 labels"):
        datasets.load_mnist("test", folder)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((3, 27, 27), np.uint8))
    with pytest.raises(DatasetError, match=r"shape \(3, 27, 27\); expected uint8 images"):
        datasets.load_mnist("test", folder)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.full(6, 10, np.uint8))
    with pytest.raises(DatasetError, match="holds label 10"):
        datasets.load_mnist("train", folder)


def test_bad_arguments(isolated):
    with pytest.raises(ValueError, match="load_fashion_mnist: unknown split 'validation'"):
        datasets.load_fashion_mnist("validation")
    with pytest.raises(ValueError, match="unknown dtype 'int32'"):
        datasets.load_mnist("train", dtype="int32")


# ----------------------------------------------------------------- download --

@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/'served'; yields (base_url, folder, request log)."""
    served = tmp_path / "served"
    served.mkdir()
    requests = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    handler = functools.partial(Quiet, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", served, requests
    httpd.shutdown()
    httpd.server_close()


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir()) if Path(folder).exists() else []


def test_download_into_cache_verified_and_reused(isolated, server):
    url, served, requests = server
    arrays, checksums = write_dataset(served)
    x, y = datasets.load_fashion_mnist("test", download=True, base_url=url, checksums=checksums)
    np.testing.assert_array_equal(y, arrays["test"][1])
    cache = Path(os.environ["HOME"]) / ".cache" / "minivae" / "fashion-mnist"
    assert leftovers(cache) == sorted(f"{s}.gz" for pair in STEMS.values() for s in pair)
    assert len(requests) == 4
    datasets.load_fashion_mnist("train", download=True, base_url=url, checksums=checksums)
    assert len(requests) == 4                                   # found locally: no new request


def test_download_goes_to_data_dir_or_env(isolated, server, monkeypatch):
    url, served, _ = server
    _, checksums = write_dataset(served)
    datasets.load_mnist("test", isolated / "mine", download=True, base_url=url,
                        checksums=checksums)
    assert len(leftovers(isolated / "mine")) == 4
    monkeypatch.setenv("MINIVAE_DATA", str(isolated / "env"))
    datasets.load_mnist("test", download=True, base_url=url, checksums=checksums)
    assert len(leftovers(isolated / "env" / "mnist")) == 4


def test_corrupt_download_is_rejected_and_not_kept(isolated, server):
    url, served, _ = server
    _, checksums = write_dataset(served)
    checksums["t10k-images-idx3-ubyte"] = "0" * 64             # what the server sends is wrong
    target = isolated / "target"
    with pytest.raises(DatasetError, match=r"download of .*t10k-images-idx3-ubyte.gz was "
                                           r"rejected and removed: .*SHA-256"):
        datasets.load_fashion_mnist("test", target, download=True, base_url=url,
                                    checksums=checksums)
    kept = leftovers(target)
    assert "t10k-images-idx3-ubyte.gz" not in kept and not any(".part" in k for k in kept)


def test_broken_gzip_and_missing_files_on_the_server(isolated, server):
    url, served, _ = server
    _, checksums = write_dataset(served)
    (served / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8bbroken")
    with pytest.raises(DatasetError, match="rejected and removed: .*gzip"):
        datasets.load_mnist("test", isolated / "t1", download=True, base_url=url)
    assert leftovers(isolated / "t1") == []                     # the first file failed
    (served / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"could not download .*train-images.*404"):
        datasets.load_mnist("test", isolated / "t2", download=True, base_url=url)
    assert leftovers(isolated / "t2") == []


def test_unreachable_server_is_a_dataset_error(isolated):
    with pytest.raises(DatasetError, match="could not download http://127.0.0.1:9/"):
        datasets.load_mnist("test", isolated / "t", download=True,
                            base_url="http://127.0.0.1:9/", timeout=5)


# ------------------------------------------------------------------- sample --

def test_embedded_sample():
    x, y = datasets.load_sample()
    assert x.shape == (2000, 32, 32, 1) and x.dtype == np.float32
    assert y.shape == (2000,) and y.dtype == np.uint8
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.5
    border = np.ones((32, 32), bool)
    border[2:-2, 2:-2] = False
    assert not x[:, border, 0].any()                           # two zero pixels each side
    assert set(np.unique(y)) == set(range(10))
    x8, y8 = datasets.load_sample(dtype="uint8")
    np.testing.assert_array_equal(datasets.to_float(x8), x)
    np.testing.assert_array_equal(y8, y)


def test_sample_files_and_license_ship_in_the_package():
    data = Path(datasets.__file__).parent.parent / "data"
    size = (data / datasets.SAMPLE_FILE).stat().st_size
    assert 200_000 < size < 1_500_000
    assert "Copyright (c) 2017 Zalando SE" in (data / "FASHION_MNIST_LICENSE.txt").read_text()


def test_sample_is_verified(monkeypatch):
    monkeypatch.setitem(datasets.SAMPLE_SHA256, "labels", "f" * 64)
    with pytest.raises(DatasetError, match="corrupt or is not the Fashion-MNIST sample"):
        datasets.load_sample()
    monkeypatch.setattr(datasets.sample, "SAMPLE_FILE", "gone.npz")
    with pytest.raises(DatasetError, match="gone.npz: the embedded sample cannot be read"):
        datasets.load_sample()


def test_load_dataset_falls_back_to_the_sample_only_when_nothing_is_found(isolated):
    ds = datasets.load_dataset("train")
    assert ds.is_sample and len(ds) == 2000 and ds.source.endswith(datasets.SAMPLE_FILE)
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    with pytest.raises(DatasetNotFoundError):
        datasets.load_dataset("train", allow_sample=False)
    with pytest.raises(DatasetNotFoundError):
        datasets.load_dataset("train", name="mnist")            # the sample is Fashion-MNIST
    write_dataset(isolated / "data", n_train=1)
    (isolated / "data" / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(DatasetError, match="not an IDX file"):   # found but wrong: no fallback
        datasets.load_dataset("train", isolated / "data")
    ds = datasets.load_dataset("test", isolated / "data", name="mnist", dtype="uint8")
    assert not ds.is_sample and ds.source == str(isolated / "data") and len(ds) == 4
    assert ds.images.dtype == np.uint8 and ds.classes == datasets.MNIST_CLASSES


# ------------------------------------------------------------ real data -----

@pytest.mark.skipif(not REAL_DIR.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_shapes_and_hashes():
    for split, n in (("train", 60000), ("test", 10000)):
        images_stem, labels_stem = STEMS[split]
        raw_x = read_idx(REAL_DIR / f"{images_stem}.gz")
        raw_y = read_idx(REAL_DIR / f"{labels_stem}.gz")
        assert raw_x.shape == (n, 28, 28) and raw_y.shape == (n,)
        assert sha256(raw_x) == datasets.FASHION_MNIST_SHA256[images_stem]
        assert sha256(raw_y) == datasets.FASHION_MNIST_SHA256[labels_stem]
        assert np.bincount(raw_y).tolist() == [n // 10] * 10
    x, y = datasets.load_fashion_mnist("test", REAL_DIR, dtype="uint8")
    sample_x, sample_y = datasets.load_sample(dtype="uint8")
    np.testing.assert_array_equal(sample_x, x[:2000])          # the sample is what it says
    np.testing.assert_array_equal(sample_y, y[:2000])


# ----------------------------------------------------------- image folders --

def save_png(path, pixels):
    from matplotlib import image as mpimg
    mpimg.imsave(path, pixels)


def test_image_folder_reads_crops_and_resizes(tmp_path):
    rgb = np.zeros((40, 80, 3), np.float32)
    rgb[:, :20] = (1.0, 0.0, 0.0)                               # cropped away: outer quarters
    rgb[:, 20:60] = (0.0, 0.5, 1.0)
    rgb[:, 60:] = (1.0, 0.0, 0.0)
    save_png(tmp_path / "b.png", rgb)
    save_png(tmp_path / "a.jpg", np.full((30, 30, 3), 0.25, np.float32))
    gray = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    from matplotlib import image as mpimg
    mpimg.imsave(tmp_path / "c.PNG", gray, cmap="gray")
    (tmp_path / "notes.txt").write_text("not an image")

    x = datasets.load_image_folder(tmp_path, size=(16, 16))
    assert x.shape == (3, 16, 16, 3) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_allclose(x[0], 0.25, atol=2 / 255)       # JPEG is lossy on flat color too
    np.testing.assert_allclose(x[1], np.broadcast_to([0.0, 0.5, 1.0], (16, 16, 3)),
                               atol=1 / 255)                    # PNG stores 8 bits a channel
    assert np.allclose(x[2][..., 0], x[2][..., 1]) and x[2][0, 0, 0] < x[2][-1, -1, 0]
    assert datasets.load_image_folder(tmp_path, size=8, limit=2).shape == (2, 8, 8, 3)


def test_area_resize_averages_blocks_and_keeps_means():
    x = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    down = datasets.folders._resize_area(x, 2, 2)[..., 0]
    np.testing.assert_allclose(down, [[2.5, 4.5], [10.5, 12.5]])
    up = datasets.folders._resize_area(x, 8, 12)
    np.testing.assert_allclose(up.mean(), x.mean(), rtol=1e-6)  # float32 rounding only


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="is not a folder .it does not exist"):
        datasets.load_image_folder(tmp_path / "nope")
    (tmp_path / "file.png").write_bytes(b"this is no png")
    with pytest.raises(DatasetError, match="is not a folder .it is a file"):
        datasets.load_image_folder(tmp_path / "file.png")
    with pytest.raises(DatasetError, match=r"file.png: cannot be read as an image") as info:
        datasets.load_image_folder(tmp_path)
    assert info.value.__cause__ is not None
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("no images here")
    with pytest.raises(DatasetError, match="holds no .png, .jpg or .jpeg file"):
        datasets.load_image_folder(empty)
    with pytest.raises(ValueError, match="size"):
        datasets.load_image_folder(empty, size=(0, 4))


# ------------------------------------------------------------------ the data spec --

def test_parse_spec_takes_arguments_then_the_record_then_the_model():
    assert datasets.parse_spec() == {"name": "fashion-mnist", "data_dir": None, "folder": None,
                                     "image_size": 32}
    recorded = {"name": "folder", "folder": "/faces", "image_size": 48, "data_dir": None}
    assert datasets.parse_spec(recorded=recorded)["folder"] == "/faces"
    assert datasets.parse_spec("mnist", image_size=28, recorded=recorded) == {
        "name": "mnist", "data_dir": None, "folder": None, "image_size": 28}
    assert datasets.parse_spec("celeba:/c", input_shape=(64, 64, 3))["image_size"] == 64
    assert datasets.parse_spec(input_shape=(28, 28, 1))["image_size"] == 28


@pytest.mark.parametrize("kwargs, match", [
    ({"data": "cifar"}, "--data must be fashion-mnist, mnist, folder:PATH or celeba:ROOT"),
    ({"data": "folder"}, "--data folder needs its path"),
    ({"data": "mnist", "image_size": 64}, "--image-size must be 28 or 32 for mnist"),
    ({"input_shape": (64, 64, 3)}, r"reads images of shape \(64, 64, 3\), and fashion-mnist"),
])
def test_parse_spec_refuses_what_names_nothing(kwargs, match):
    with pytest.raises(InputError, match=match):
        datasets.parse_spec(**kwargs)


def test_a_folder_splits_ninety_ten_and_keeps_its_spec(tmp_path):
    from matplotlib.image import imsave
    for i in range(10):
        imsave(tmp_path / f"{i}.png", np.full((4, 4, 3), i / 10))
    spec = datasets.parse_spec(f"folder:{tmp_path}", image_size=8)
    train, test = datasets.load_for_training(spec)
    assert (len(train), len(test)) == (9, 1) and train.images.dtype == np.uint8
    assert train.labels is None and train.spec == spec and train.description == str(tmp_path)
    assert train.images.shape[1:] == (8, 8, 3)


def test_the_sample_holds_out_its_last_images_for_validation(tmp_path, monkeypatch, capsys):
    from tests.conftest import hide_real_data
    hide_real_data(monkeypatch, tmp_path)
    train, val = datasets.load_for_training(datasets.parse_spec(), limit=300)
    assert (len(train), len(val)) == (300, datasets.spec.SAMPLE_HOLDOUT) and train.is_sample
    assert train.description == "the embedded sample"
    sample = datasets.load_sample("uint8")[0]
    np.testing.assert_array_equal(val.images, sample[-datasets.spec.SAMPLE_HOLDOUT:])
    np.testing.assert_array_equal(train.images, sample[:300])
    assert "using the embedded sample of 2000 images" in capsys.readouterr().err
    with pytest.raises(InputError, match=r"reads images of shape \(28, 28, 1\), but the "
                                         r"embedded sample gives \(32, 32, 1\)"):
        datasets.check_fits(train, (28, 28, 1), "the model")


def test_a_fall_back_to_the_sample_is_said_even_when_quiet(no_real_data, capsys):
    """A quiet run (verbose=0, `train --quiet`) that asked for Fashion-MNIST and got the
    embedded sample says so: the data it trains on is not the data it asked for. The
    sample named as the data is announced only when verbose."""
    datasets.load_spec(datasets.parse_spec("fashion-mnist"), "train", verbose=0)
    assert "Fashion-MNIST not found; using the embedded sample" in capsys.readouterr().err
    datasets.load_spec(datasets.parse_spec("sample"), "train", verbose=0)
    assert capsys.readouterr().err == ""
