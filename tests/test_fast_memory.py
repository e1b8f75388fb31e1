"""Memory: a long run holds its resident set steady after the first epoch, and the
malloc tuning (minivae.fast.memory) keeps freed buffers, only when asked.

The first epoch allocates what training keeps (Adam's slots, each layer's cached
activations, numpy's and BLAS's buffers); any later growth would be a leak. The
resident set is read from /proc/self/status (VmRSS, the current value, not the
peak VmHWM) after gc.collect() and glibc's malloc_trim(0). Without the trim, RSS
at batch 1000 wanders by tens of MB from epoch to epoch as glibc keeps freed
blocks of the 1-32 MB buffers in its heap (measured: 586, 610, 700 MB over three
epochs); with it, what remains is memory in use plus the few fragments glibc
cannot return, and the per-epoch figures agree to 0.1 MB.
"""

import gc
import os

import pytest

from minivae.architectures import fashion_vae
from minivae.datasets import load_sample
from minivae.fast.memory import libc_function
from minivae.optimizers import Adam

STATUS = "/proc/self/status"


MALLOC_TRIM = libc_function("malloc_trim")          # None without glibc: musl, macOS, ...

pytestmark = pytest.mark.skipif(not os.path.exists(STATUS) or MALLOC_TRIM is None,
                                reason="reads Linux's /proc/self/status and calls glibc's "
                                       "malloc_trim")

# Growth allowed from the end of epoch 1 to the end of the run. The allocator's own
# noise after the trim is about 0.1 MB; the smallest leak worth finding, one float32
# input batch kept per step, would add 0.4 MB per step at batch 100 (5.6 MB over the
# 14 later steps below) and 4 MB per step at batch 1000 (8 MB over 2 steps).
TOLERANCE_MB = 4.0


def rss_mb():
    gc.collect()
    MALLOC_TRIM(0)
    with open(STATUS) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024      # reported in kB
    raise AssertionError(f"no VmRSS line in {STATUS}")


# With fit's default, each step's parts allocate on two threads, from two glibc arenas,
# and malloc_trim cannot return a block that sits below one in use: the RSS after the
# trim wanders by about one of a part's larger buffers per arena (218-234 MB from epoch
# to epoch at batch 100, +10.1 MB the most seen after epoch 1; a part's largest buffer,
# a transposed convolution's columns, is 14.7 MB). So the split run is allowed one
# such block per arena: it finds a leak of a part's buffers per step (over 50 MB),
# and the whole-batch runs, with the allocator's noise at 0.1 MB, find small leaks
# in the loop, the layers and the kernels the two share.
SPLIT_TOLERANCE_MB = TOLERANCE_MB + 2 * 14.7


@pytest.mark.parametrize("n, batch_size, epochs, data_parallel, tolerance",
                         [(200, 100, 8, False, TOLERANCE_MB),
                          (1000, 1000, 3, False, TOLERANCE_MB),
                          (200, 100, 8, True, SPLIT_TOLERANCE_MB)],
                         ids=["8-epochs-batch-100", "batch-1000", "8-epochs-split"])
def test_training_memory_does_not_grow_after_the_first_epoch(n, batch_size, epochs,
                                                             data_parallel, tolerance):
    x = load_sample("uint8")[0][:n]
    model = fashion_vae(seed=0).compile(Adam())
    before = rss_mb()
    rss = []
    model.fit(x, epochs=epochs, batch_size=batch_size, verbose=0,
              data_parallel=data_parallel, callbacks=[lambda *args: rss.append(rss_mb())])
    growth = max(rss[1:]) - rss[0]
    shown = ", ".join(f"{v:.1f}" for v in rss)
    print(f"\n{n} images, batch {batch_size}: RSS {before:.1f} MB before, per epoch [{shown}] "
          f"MB, growth after epoch 1 {growth:+.1f} MB")
    assert len(rss) == epochs
    assert growth <= tolerance, f"RSS per epoch (MB): {shown}"


REFAULT_PROGRAM = """
import resource, sys, numpy as np
from minivae.fast.memory import tune_for_training
if sys.argv[1] == "tuned":
    assert tune_for_training() is True
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():                       # five 20 MB buffers alive at once, as in a training step
    return [np.ones(5_000_000, np.float32) for _ in range(5)]
step()
before = faults()
for _ in range(10):
    step()
print(faults() - before)
"""


def test_the_tuning_keeps_freed_buffers_instead_of_faulting_them_in_again():
    """minivae.fast.memory.tune_for_training (called by `minivae train`): a step's big
    buffers, freed and allocated again, come back from the heap instead of fresh
    zero-filled pages.

    Ten steps of five 20 MB buffers touch 10 * 5 * 20 MB / 4 KB = 244,140 pages. Plain
    glibc trims the freed top of its heap after each step (measured: ~21,600 faults
    here, more without transparent huge pages); tuned, the pages stay mapped (measured:
    0). The bound, 1% of the pages, leaves room for the interpreter's own allocations.
    """
    import subprocess
    import sys

    def faults(mode):
        run = subprocess.run([sys.executable, "-c", REFAULT_PROGRAM, mode],
                             capture_output=True, text=True, check=True)
        return int(run.stdout)

    tuned, plain = faults("tuned"), faults("plain")
    assert tuned < 2441, f"{tuned} page faults with the tuning, {plain} without"
    assert tuned < plain


UNTOUCHED_PROGRAM = """
import ctypes, numpy as np
from minivae.fast import memory
mallopt = memory._mallopt()
calls = []
memory._mallopt = lambda: calls.append(1) or mallopt
from minivae.architectures import fashion_vae
from minivae.optimizers import Adam
model = fashion_vae(seed=0).compile(Adam())
model.fit(np.zeros((20, 32, 32, 1), np.uint8), epochs=1, batch_size=10, verbose=0)
print(len(calls))
"""


def test_library_fit_leaves_malloc_alone():
    """fit in a user's process changes no malloc setting (a fresh process, so that no
    earlier test's call can hide one)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", UNTOUCHED_PROGRAM], capture_output=True,
                         text=True, check=True)
    assert run.stdout.strip() == "0"


def test_the_command_line_asks_for_the_tuning_and_data_parallel_fit(tmp_path, monkeypatch,
                                                                     no_real_data):
    from minivae import training
    from minivae.cli import main
    from minivae.fast import memory

    calls = []
    monkeypatch.setattr(memory, "tune_for_training", lambda: calls.append("tune"))
    monkeypatch.setattr(memory, "release_freed_memory", lambda: calls.append("release"))
    fit = training.fit
    monkeypatch.setattr(training, "fit", lambda *a, **kw: calls.append(
        ("fit", kw.get("data_parallel"))) or fit(*a, **kw))
    assert main(["train", "--out", str(tmp_path / "run"), "--epochs", "1", "--limit", "100",
                 "--quiet"]) == 0
    assert calls == ["tune", ("fit", True), "release"]
