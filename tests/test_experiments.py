"""minivae.experiments: latent spaces compared on tiny models, and the compare / sweep
commands that train the book's models."""

import json

import numpy as np
import pytest

from minivae import experiments, gaps
from minivae.cli import main
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
