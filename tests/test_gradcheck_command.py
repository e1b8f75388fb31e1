"""`minivae gradcheck`: refuses a check of nothing and bad tolerances, one line each."""

import pytest

from minivae.cli import main


@pytest.mark.parametrize("flags,message", [
    (["--max-entries", "0"], "--max-entries must be a positive integer (entries checked per "
                             "array), got 0: that would check nothing"),
    (["--max-entries", "-3"], "--max-entries must be a positive integer"),
    (["--rtol", "0"], "--rtol must be a number in (0, 1), got 0.0"),
    (["--rtol", "nan"], "--rtol must be a number in (0, 1), got nan"),
    (["--rtol", "2"], "--rtol must be a number in (0, 1), got 2.0"),
    (["--step=-1e-6"], "--step must be a number in (0, 0.01), got -1e-06"),
    (["--step", "inf"], "--step must be a number in (0, 0.01), got inf"),
    (["--directions", "-1"], "--directions must be an integer >= 0, got -1"),
])
def test_bad_flags_are_one_line_and_exit_2(capsys, flags, message):
    assert main(["gradcheck", *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"minivae gradcheck: error: {message}")
    assert len(captured.err.splitlines()) == 1
