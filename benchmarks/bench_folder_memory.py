"""Peak memory of `minivae train --data folder:DIR` against the folder's size.

Writes folders of N random 64x64 RGB PNGs (--sizes, default 200 2000), then runs
one epoch of `python -m minivae train --model tiny_model:build --data folder:DIR`
on each, every run in its own process, and reports that process's peak RSS
(ru_maxrss) and wall time. The model is a small VAE of 64x64x3 images (one
stride-4 convolution, a latent size of 8), so the data, not the model, sets the
memory. --baseline CHECKOUT adds the same runs on another checkout of minivae
(from before streaming, say) as the same-run baseline; --limit N passes
--limit N to train. Streamed data keeps the peak flat in N (docs/datasets.md,
"Streamed folders"); the figures at the end still read up to 5,000 validation
images.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
from PIL import Image

TINY_MODEL = '''
from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Reshape
from minivae.models import VAE, GaussianEncoder, Sequential


def build():
    encoder = GaussianEncoder([Conv2D(8, 3, strides=4, padding="same", activation="relu"),
                               Flatten()], 8)
    decoder = Sequential([Dense(16 * 16 * 8, activation="relu"), Reshape((16, 16, 8)),
                          Conv2DTranspose(3, 3, strides=4, padding="same",
                                          activation="sigmoid")])
    return VAE(encoder, decoder)
'''

# The child: `python -m minivae ARGS` in this process, then its peak RSS on the last line.
CHILD = '''
import resource, runpy, sys
sys.argv = ["minivae", *sys.argv[1:]]
try:
    runpy.run_module("minivae", run_name="__main__")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
print("peak_rss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code)
'''


def write_folder(folder, n, rng):
    folder.mkdir()
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
            folder / f"{i:06d}.png")


def train(checkout, folder, work, limit):
    """(peak RSS in MB, seconds) of one epoch of train on folder, minivae from checkout."""
    out = Path(tempfile.mkdtemp(dir=work))
    args = ["train", "--model", "tiny_model:build", "--data", f"folder:{folder}",
            "--out", str(out), "--epochs", "1", "--quiet"]
    if limit:
        args += ["--limit", str(limit), "--batch-size", str(min(limit, 100))]
    env = {**os.environ, "PYTHONPATH": str(checkout), "MINIVAE_NO_SYSTEM_DATA": "1"}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=work, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    last = proc.stdout.strip().splitlines()[-1].split() if proc.stdout.strip() else []
    if proc.returncode != 0 or not last or last[0] != "peak_rss_kib" or last[2] != "0":
        raise SystemExit(f"train on {folder} with {checkout} failed:\n{proc.stderr}")
    return int(last[1]) / 1024, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000],
                        help="images per folder (default 200 2000)")
    parser.add_argument("--baseline", type=Path, help="another checkout of minivae to compare")
    parser.add_argument("--limit", type=int, help="pass --limit N to train")
    args = parser.parse_args()
    contenders = {"minivae": _common.REPO}
    if args.baseline:
        contenders["minivae@baseline"] = args.baseline.resolve()
    rng = np.random.default_rng(0)
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "tiny_model.py").write_text(TINY_MODEL)
        for n in args.sizes:
            folder = work / f"png{n}"
            write_folder(folder, n, rng)
            row = [f"{n:,}"]
            for name, checkout in contenders.items():
                mb, seconds = train(checkout, folder, work, args.limit)
                results.append({"images": n, "contender": name, "checkout": str(checkout),
                                "peak_rss_mb": mb, "seconds": seconds, "limit": args.limit})
                row += [f"{mb:,.0f}", f"{seconds:.1f}"]
            rows.append(row)
    headers = ["images"] + [f"{name} {unit}" for name in contenders for unit in ("MB", "s")]
    _common.print_table(headers, rows)
    path = _common.write_results("bench_folder_memory", {
        "script": "bench_folder_memory.py", "machine": _common.machine_report(),
        "sizes": args.sizes, "limit": args.limit, "runs": results})
    print(f"wrote {path.relative_to(_common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
