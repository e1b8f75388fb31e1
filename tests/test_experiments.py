"""minivae.experiments: latent spaces compared on tiny models, and the compare / sweep
commands that train the book's models."""

import json

import numpy as np
import pytest

from minivae import checkpoint, evaluation, experiments, gaps
from minivae.cli import main
from minivae.errors import InputError, InputTypeError
from tests.conftest import PNG, tiny_autoencoder, tiny_vae


def test_compare_latent_spaces_on_tiny_models():
    x = np.random.default_rng(6).uniform(size=(60, 8, 8, 1))
    result = experiments.compare_latent_spaces({"ae": tiny_autoencoder(), "vae": tiny_vae()}, x,
                                            radius=[0.25, 0.5], n_points=500, n_images=9)
    for r in result.values():
        assert r["codes"].shape == (60, 2) and r["points"].shape == (9, 2)
        assert r["images"].shape == (9, 8, 8, 1) and 0 <= r["images"].min() <= 1
        assert set(r["report"]["gap_share"]) == {"0.25", "0.5"}
        lo, hi = gaps.region(r["codes"])
        assert np.all(r["points"] >= lo) and np.all(r["points"] <= hi)
        json.dumps(r["report"])


# ------------------------------------------------------------ the commands

def test_compare_command(tmp_path, no_real_data, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--epochs", "1", "--limit", "100", "--out", str(out),
                 "--radius", "0.3"]) == 0
    assert (out / "compare.png").read_bytes()[:8] == PNG
    report = json.loads((out / "compare.json").read_text())
    assert report["dataset"] == "embedded sample" and report["images"] == 100
    for name in ("autoencoder", "vae"):
        assert set(report[name]["gap_share"]) == {"0.3"} and (out / f"{name}.npz").exists()
    assert "KL(Gaussian fit" in capsys.readouterr().out
    assert main(["compare", "--radius", "-1", "--out", str(out)]) == 2      # before training
    assert "--radius must be positive" in capsys.readouterr().err
    # Issue 22: the checkpoints recorded no run, so the commands did not know their data.
    # They record it as `minivae train` does: the sample by name, the model and settings.
    for name, model in (("autoencoder", "ae"), ("vae", "vae")):
        run = checkpoint.load(out / f"{name}.npz").run
        assert run["data"]["name"] == "sample" and run["sample"] is True
        assert (run["model"], run["limit"], run["seed"], run["batch_size"]) == (model, 100, 0, 100)
    evaluation.evaluate_checkpoint(out / "vae.npz", limit=5, iwae_k=())
    assert "as the data named 'sample'" in capsys.readouterr().err       # not a fallback
    assert main(["train", "--out", str(tmp_path / "more"), "--resume", str(out / "vae.npz"),
                 "--epochs", "2", "--quiet"]) == 0                        # a run it continues
    assert checkpoint.load(tmp_path / "more" / "model.npz").epoch == 2


@pytest.mark.parametrize("call, error, message", [
    (lambda out: experiments.compare_run(out, radius=float("inf")), InputError,
     "--radius must be positive and finite"),
    (lambda out: experiments.compare_run(out, radius="a"), InputTypeError,
     "compare_run: radius must be a number or a list of numbers"),
    (lambda out: experiments.compare_run(out, epochs=0), InputError,
     "compare_run: epochs must be a positive integer, got 0"),
    (lambda out: experiments.sweep_run(out, betas=1.0), InputTypeError,
     "sweep_run: betas must be a list of numbers >= 0"),
    (lambda out: experiments.sweep_run(out, betas=[1, float("nan")]), InputError,
     "--beta: betas must be finite numbers >= 0"),
    (lambda out: experiments.sweep_run(out, latent_dim=2.5), InputTypeError,
     "sweep_run: latent_dim must be a positive integer, got 2.5"),
], ids=["radius-inf", "radius-str", "epochs-0", "betas-float", "betas-nan", "latent-float"])
def test_arguments_are_refused_before_any_data_is_read(tmp_path, call, error, message,
                                                       monkeypatch):
    """Issue 22: compare --radius inf was refused only after both models had trained, and
    compare_run(radius="a") and sweep_run(betas=1.0) raised a bare TypeError."""
    def no_data(*args, **kwargs):
        raise AssertionError("data read before the arguments were checked")
    monkeypatch.setattr(experiments, "load_for_training", no_data)
    with pytest.raises(error, match=message) as info:
        call(tmp_path / "out")
    assert type(info.value) is error and not (tmp_path / "out").exists()


def test_sweep_command(tmp_path, no_real_data, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "--beta", "0.5", "8", "--epochs", "1", "--limit", "100",
                 "--out", str(out)]) == 0
    assert (out / "sweep.png").read_bytes()[:8] == PNG
    points = json.loads((out / "sweep.json").read_text())["points"]
    assert [p["beta"] for p in points] == [0.5, 8.0]
    for p in points:
        assert p["elbo"] == pytest.approx(-(p["rate"] + p["distortion"]))
    assert "distortion" in capsys.readouterr().out
    assert main(["sweep", "--beta", "1", "-2", "--out", str(out)]) == 2     # before training
    assert "betas must be finite numbers >= 0" in capsys.readouterr().err
