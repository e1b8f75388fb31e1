"""The command line: `minivae train | sample | reconstruct | evaluate | gradcheck`, the
rest of the chapter `embedding | attribute | morph`, and beyond the book
`compare | sweep | interpolate`.

    common.py     flag types, data, models, checkpoints and JSON output, shared
    train.py      train (new runs and exact resumes)
    use.py        sample, reconstruct, evaluate, interpolate: any checkpoint
    gradcheck.py  gradcheck
    analysis.py   compare, sweep
    chapter3.py   embedding, attribute, morph: the rest of the chapter, any checkpoint

Every failure the user can cause (missing data, a bad checkpoint or file, wrong
flags, divergence) ends as one line on stderr and exit status 2, naming the flag
or file as typed; an interruption (Ctrl-C, SIGTERM) says what was saved. Errors
of other kinds are bugs and keep their traceback, so they can be reported.
"""

import argparse
import signal
import sys
import threading

from . import analysis, chapter3, gradcheck, train, use
from .common import CLIError

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130

__all__ = ["main", "build_parser", "CLIError", "EXIT_ERROR"]


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (no usage block): `--help` shows the usage."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    p = _Parser(prog="minivae", description="The VAE of Generative Deep Learning (ch. 3) in "
                "NumPy: train it, sample it, check it; and models of your own.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)
    train.add_parser(sub)
    use.add_parsers(sub)
    gradcheck.add_parser(sub)
    analysis.add_parsers(sub)
    chapter3.add_commands(sub)
    return p


def _one_line(exc):
    """The message on one line however many it has (not finding data lists folders)."""
    message = ""
    for line in str(exc).splitlines():
        line = " ".join(line.split()).removeprefix("- ")
        if line:
            message += (" " if message.endswith(":") else "; ") + line if message else line
    return message or type(exc).__name__


def _terminate(signum, frame):
    raise KeyboardInterrupt         # SIGTERM ends a command as Ctrl-C does, saying what was saved


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:               # --help, or a flag argparse refused (one line)
        return exc.code
    from ..checkpoint import CheckpointError
    from ..datasets import DatasetError
    from ..errors import InputError, InputTypeError
    from ..serialization import SerializationError
    from ..training import TrainingDiverged
    handles_signals = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if handles_signals else None
    try:
        return args.run(args)
    except (CLIError, CheckpointError, DatasetError, SerializationError, TrainingDiverged,
            InputError, InputTypeError, OSError, MemoryError) as exc:
        # A refused input or a failing environment: one line. Any other exception
        # (a ValueError from a bug, say) keeps its traceback, so that it can be reported.
        if isinstance(exc, MemoryError):
            exc = f"out of memory ({exc or 'no detail'}); free memory or ask for less"
        print(f"minivae {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"minivae {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if handles_signals:
            signal.signal(signal.SIGTERM, previous)
