"""minivae._atomic: files are created as open() would create them, and killed writes'
leftovers are found and removed (the crash cases are in test_faults.py)."""

import os
import stat

import pytest

from minivae import checkpoint
from minivae._atomic import _create_temporary, atomic_write, temporary_leftovers
from tests.conftest import tiny_vae


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_files_are_created_with_the_users_umask(tmp_path, umask):
    """mkstemp made every checkpoint and history.json 0600, whatever the umask said."""
    old = os.umask(umask)
    try:
        written = [atomic_write(tmp_path / "history.json", lambda f: f.write(b"{}")),
                   checkpoint.save(tmp_path / "model.npz", tiny_vae())]
    finally:
        os.umask(old)
    for path in written:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask, path


def test_a_killed_writes_leftover_is_found_and_removed_by_the_next_write(tmp_path):
    target = tmp_path / "model.npz"
    fd, leftover = _create_temporary(target)     # as a process killed mid-write leaves it
    os.close(fd)
    (tmp_path / ".model.npz.bak.tmp-0a1b2c").write_bytes(b"")     # another file's: kept
    assert temporary_leftovers(target) == [os.path.basename(leftover)]
    atomic_write(target, lambda f: f.write(b"new"))
    assert temporary_leftovers(target) == []
    assert sorted(os.listdir(tmp_path)) == [".model.npz.bak.tmp-0a1b2c", "model.npz"]


def test_a_failing_write_leaves_nothing_behind(tmp_path):
    def fail(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "model.npz", fail)
    assert os.listdir(tmp_path) == []
