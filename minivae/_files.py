"""Opening a file that may come from anyone: only a regular file is read.

A named pipe would block the reader until some writer appeared, and a device
would stream without end, so the file is opened without waiting (O_NONBLOCK)
and its kind is checked on the descriptor itself: no race with a stat before.
"""

import errno
import os
import stat

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def open_regular(path):
    """(file opened for binary reading, st_mode) for a regular file, or (None, st_mode)
    for anything else, which is closed again. OSError as os.open raises it, and
    IsADirectoryError for a directory, as open() does."""
    fd = os.open(path, _FLAGS)
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return os.fdopen(fd, "rb"), mode
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    return None, mode
