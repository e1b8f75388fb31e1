"""Checkpoints: one .npz holding a model, its optimizer and where training stood.

    files.py   the file: arrays and JSON metadata, checksummed, read with bounds
    models.py  what goes in it: save, load (any model, rebuilt from its own
               description), restore into a model, the fit callback

Writes are atomic (docs/checkpoint.md).
"""

from .files import FORMAT, READABLE_VERSIONS, VERSION, CheckpointError, read
from .models import (CheckpointCallback, build_model, check_readable, load, model_spec,
                     restore, save)

__all__ = ["save", "load", "restore", "read", "build_model", "model_spec", "check_readable",
           "CheckpointError",
           "CheckpointCallback", "FORMAT", "VERSION", "READABLE_VERSIONS"]
