"""minivae.model_check: the whole-model gradient check `minivae gradcheck` runs."""

import pytest

from minivae import checkpoint, model_check
from minivae.architectures import fashion_autoencoder
from minivae.errors import InputError
from minivae.model_check import GRADCHECK_RTOL, check_whole_model


def test_the_books_vae_passes_in_one_direction_per_array():
    report, rtol = check_whole_model("vae", directions=1, batch_size=1)
    assert report.passed and rtol == GRADCHECK_RTOL["vae"]
    assert "conv2d_transpose_1/kernel" in str(report)


def test_a_checkpoints_model_is_checked_at_its_weights(tmp_path):
    path = checkpoint.save(tmp_path / "ae.npz", fashion_autoencoder(seed=0))
    report, rtol = check_whole_model(checkpoint=path, directions=1, batch_size=1)
    assert rtol == GRADCHECK_RTOL["ae"] and report.verdict in ("pass", "inconclusive")


@pytest.mark.parametrize("kwargs, match", [
    ({"max_entries": 0}, "--max-entries must be a positive integer"),
    ({"directions": -1}, "--directions must be an integer >= 0"),
    ({"rtol": 2.0}, r"--rtol must be a number in \(0, 1\)"),
    ({"model": "gan"}, "--model must be vae or ae"),
])
def test_settings_that_check_nothing_are_refused(kwargs, match):
    with pytest.raises(InputError, match=match):
        check_whole_model(**kwargs)


def test_max_entries_none_checks_every_entry_as_check_model_does(monkeypatch):
    """check_whole_model(max_entries=None) raised a TypeError from a comparison with None;
    None is check_model's own "every entry", so it is passed on as such."""
    seen = {}

    def check_model(model, x, **kwargs):
        seen.update(kwargs)
        return "report"

    monkeypatch.setattr(model_check, "check_model", check_model)
    assert check_whole_model(max_entries=None, batch_size=1) == ("report", GRADCHECK_RTOL["vae"])
    assert seen["max_entries"] is None
