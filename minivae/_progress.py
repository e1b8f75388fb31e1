"""One line on stderr that counts work as it is done, for commands that run long.

    with progress_line("IWAE", total, "samples decoded") as progress:
        ... progress(done) ...

rewrites "IWAE: 12,000 of 100,000 samples decoded" in place and ends the line when
the block ends, whatever ends it (an error, Ctrl-C), so that what is printed next
starts on a line of its own. With show=False it prints nothing: the commands show it
only for work that takes more than a few seconds.
"""

import contextlib
import sys


@contextlib.contextmanager
def progress_line(label, total, unit, show=True):
    """A function progress(done) for the block: see the module's docstring."""
    if not show:
        yield None
        return

    def progress(done):
        print(f"\r{label}: {done:,} of {total:,} {unit}", end="", file=sys.stderr, flush=True)

    try:
        yield progress
    finally:
        print(file=sys.stderr, flush=True)
