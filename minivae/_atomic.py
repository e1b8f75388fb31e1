"""Atomic, durable file writes: the one mechanism checkpoints, history.json and the
other JSON reports (write_json), figures, streamed .npy files and dataset
downloads share.

write(file) fills a temporary file beside the target; it is flushed, fsync'ed,
optionally verified, then renamed over the target and the folder fsync'ed. A
crash at any moment leaves the old file or the new one, never a mixture. A
process killed mid-write leaves `.<name>.tmp-<random>` behind; nothing reads it,
and the next successful write of the same target removes it.

The file is created with mode 0666 less the process's umask, as open() would
create it (tempfile.mkstemp's 0600 would hide a checkpoint from the user's group
whatever their umask says).
"""

import json
import os
import re
import secrets

from .errors import InputError


def _temp_prefix(path):
    return f".{os.path.basename(path)}.tmp-"


def _create_temporary(path):
    """(fd, name) of a new, empty file beside `path`, opened for writing. O_EXCL makes
    the creation atomic, as mkstemp's; mode 0o666 lets the kernel apply the umask."""
    folder = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = os.path.join(folder, _temp_prefix(path) + secrets.token_hex(6))
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:     # 48 random bits taken already: try another name
            continue
    raise FileExistsError(f"no free temporary name beside {path!r} after 100 tries")


def temporary_leftovers(path):
    """Names of the temporary files that killed writes of `path` left beside it."""
    folder = os.path.dirname(os.path.abspath(path))
    # The random part is [a-z0-9_] (hex today, mkstemp's alphabet before); anchoring on
    # it keeps the temporaries of another file (say "model.npz.bak") out of the match.
    pattern = re.compile(re.escape(_temp_prefix(path)) + r"[a-z0-9_]+")
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(name for name in names if pattern.fullmatch(name))


def fsync_dir(folder):
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write, verify=None):
    """Call write(file) on a temporary file beside `path`, fsync it, call verify(tmp_path)
    if given, then rename it over `path`. On any error (from write, verify or the file
    system) the temporary file is removed, `path` is left as it was, and the error
    propagates. After the rename, leftovers of killed writes of `path` are removed."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = _create_temporary(path)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if verify is not None:
            verify(tmp)
        os.replace(tmp, path)
        tmp = None
        fsync_dir(folder)
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:      # a full disk names no file
            exc.filename = path                                 # name the one written
        raise
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    for name in temporary_leftovers(path):
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:         # already gone, or not ours to remove: harmless either way
            pass
    return path


def write_json(path, obj):
    """obj as strict JSON (indented, a newline at the end), written atomically.

    A NaN or an infinity is refused with an InputError naming the file: strict
    JSON has no token for them, and readers other than Python's refuse the ones
    Python would write. Returns path.
    """
    try:
        data = (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode()
    except ValueError as exc:
        raise InputError(f"refusing to write {path}: it would hold a non-finite number "
                         f"({exc})") from exc
    return atomic_write(path, lambda f: f.write(data))
