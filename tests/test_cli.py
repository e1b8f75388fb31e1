"""The command line, run in-process: train on the embedded sample, then use the checkpoint."""

import json
import subprocess
import sys

import numpy as np
import pytest

from minivae import checkpoint, cli
from minivae.architectures import fashion_vae
from minivae.cli import EXIT_ERROR, main
from minivae.errors import InputError, InputTypeError
from tests.conftest import PNG, hide_real_data



@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One 1-epoch run on the sample, shared by the tests that only read its output."""
    out = tmp_path_factory.mktemp("run")
    mp = pytest.MonkeyPatch()
    hide_real_data(mp, out / "home")
    try:
        assert main(["train", "--out", str(out), "--epochs", "1", "--quiet", "--seed", "1",
                     "--limit", "300"]) == 0
    finally:
        mp.undo()
    return out


def test_train_writes_checkpoint_history_and_figures(trained):
    history = json.loads((trained / "history.json").read_text())
    keys = {"total_loss", "reconstruction_loss", "kl_loss"}
    assert set(history) == keys | {"val_" + k for k in keys}
    assert all(len(v) == 1 and np.isfinite(v[0]) for v in history.values())
    for name in ("reconstructions", "latent_scatter", "latent_grid", "samples", "loss_curves"):
        assert (trained / f"{name}.png").read_bytes()[:8] == PNG
    assert (trained / "model.npz").stat().st_size > 1_000_000
    assert len(json.loads((trained / "history.json").read_text())["total_loss"]) == 1


def test_train_says_it_uses_the_sample_and_resume_continues(tmp_path, no_real_data, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", "--model", "ae",
                 "--limit", "200"]) == 0
    captured = capsys.readouterr()
    assert "embedded sample of 2000 images" in captured.err
    assert "Epoch 1/1" in captured.out and "final metrics" in captured.out
    assert main(["train", "--out", str(out), "--epochs", "2", "--resume",
                 "--limit", "200"]) == 0
    assert "resuming at epoch 2 of 2" in capsys.readouterr().err
    history = json.loads((out / "history.json").read_text())
    assert len(history["total_loss"]) == 2
    assert main(["train", "--out", str(out), "--epochs", "2", "--resume", "--quiet",
                 "--limit", "200"]) == 2
    assert "2 epoch(s) done; pass --epochs larger" in capsys.readouterr().err


def test_sample_reconstruct_evaluate(trained, tmp_path, no_real_data, capsys):
    ckpt = str(trained / "model.npz")
    assert main(["sample", ckpt, "-n", "12", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG
    assert main(["reconstruct", ckpt, "-n", "6", "--out", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG
    capsys.readouterr()
    assert main(["evaluate", ckpt, "--seed", "0", "--limit", "50", "--iwae-k", "1", "3"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(metrics) == {"total_loss", "reconstruction_loss", "kl_loss"}


def test_gradcheck_command(capsys):
    assert main(["gradcheck", "--directions", "1", "--batch-size", "1"]) == 0   # fast mode
    out = capsys.readouterr().out
    assert "conv2d_transpose_1/kernel" in out and "PASSED" in out


def test_errors_are_one_line_without_traceback(tmp_path, no_real_data, capsys):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    assert main(["sample", str(tmp_path / "bad.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minivae sample: error: ") and "not a readable" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["train", "--out", str(tmp_path / "x"), "--no-sample"]) == 2
    err = capsys.readouterr().err
    assert "Fashion-MNIST" in err and "dataset-fashion-mnist" in err
    assert main(["train", "--out", str(tmp_path / "y"), "--latent-dim", "0"]) == 2
    assert "argument --latent-dim: expected a positive integer, got '0'" in \
        capsys.readouterr().err


def test_unknown_flag_and_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "minivae", "train", "--epocs", "3"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unrecognized arguments: --epocs" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "minivae", "--help"], capture_output=True,
                          text=True)
    assert proc.returncode == 0
    for command in ("train", "sample", "reconstruct", "evaluate", "gradcheck"):
        assert command in proc.stdout


def test_interpolate_and_evaluate_commands(tmp_path, no_real_data, capsys):
    # Untrained weights do: these commands only read a checkpoint, and training
    # one is test_cli's business.
    ckpt = str(checkpoint.save(tmp_path / "model.npz", fashion_vae(seed=0)))
    for extra in ([], ["--spherical"]):
        png = tmp_path / f"i{len(extra)}.png"
        assert main(["interpolate", ckpt, "--index-a", "3", "--index-b", "7", "--steps", "6",
                     "--out", str(png), *extra]) == 0
        assert png.read_bytes()[:8] == PNG
    assert main(["interpolate", ckpt, "--index-b", "99999"]) == 2
    assert "--index-b must lie in" in capsys.readouterr().err
    report_path = tmp_path / "eval.json"
    assert main(["evaluate", ckpt, "--limit", "40", "--iwae-k", "1", "5", "--iwae-limit", "10",
                 "--json", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "IWAE k=5" in out and "active units" in out
    assert set(json.loads(out.strip().splitlines()[-1])) == {"total_loss", "reconstruction_loss",
                                                             "kl_loss"}
    report = json.loads(report_path.read_text())
    assert report["images"] == 40 and report["iwae_images"] == 10
    assert report["dataset"] == "embedded sample" and set(report["iwae"]) == {"1", "5"}


# ------------------------------------------------------------------ bounded work --

def test_sample_bounds_a_figure_and_streams_any_number_to_npy(trained, tmp_path, capsys):
    ckpt = str(trained / "model.npz")
    assert main(["sample", ckpt, "-n", "10000", "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert "-n 10,000 would tile 10,000 images into one figure" in err and "FILE.npy" in err
    assert not (tmp_path / "s.png").exists()
    assert main(["sample", ckpt, "-n", "1234", "--seed", "3", "--out",
                 str(tmp_path / "s.npy")]) == 0
    images = np.load(tmp_path / "s.npy")
    from minivae import checkpoint
    model = checkpoint.load(ckpt)
    # written 1,000 at a time, the draws are those of one generate(1234) with the same seed
    np.testing.assert_array_equal(images, model.generate(1234, np.random.default_rng(3)))


def test_evaluate_refuses_work_beyond_its_limit_at_once(trained, no_real_data, capsys):
    """A million IWAE samples for each image is refused before any work, with the
    estimate: the sample's 200 held-out test images x 2 passes, plus 200 x 1,000,000."""
    ckpt = str(trained / "model.npz")
    assert main(["evaluate", ckpt, "--iwae-k", "1000000"]) == 2
    err = capsys.readouterr().err
    assert "needs about 200,000,400 decoder passes" in err and "--force" in err
    assert len(err.strip().splitlines()) == 2       # the sample notice, then the refusal


def test_evaluate_streams_a_large_k_within_one_image(trained, no_real_data, capsys):
    """k = 600 samples of one image are drawn and decoded 100 at a time; the bound
    equals the one computed from the same samples decoded all at once."""
    from minivae import checkpoint, evaluation
    from minivae.datasets import load_sample
    model = checkpoint.load(trained / "model.npz")
    x = load_sample("uint8")[0][:1]
    chunked = evaluation.iwae_per_image(model, x, (600,), np.random.default_rng(0))[600]
    whole = evaluation.iwae_per_image(model, x, (600,), np.random.default_rng(0),
                                      batch_size=600)[600]
    # the same eps in the same order, decoded in other batches: float32 decoder rounding
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)


def test_evaluate_refuses_to_report_non_finite_results(trained, tmp_path, no_real_data,
                                                        capsys):
    import json as json_module

    from minivae import checkpoint
    arrays, meta = checkpoint.read(trained / "model.npz")
    arrays["param/conv2d/kernel"] = np.full_like(arrays["param/conv2d/kernel"], np.nan)
    arrays["meta"] = np.array(json_module.dumps(meta))
    arrays["checksum"] = np.array(checkpoint.files._digest(arrays))
    broken = tmp_path / "nan.npz"
    np.savez(broken, **arrays)
    assert main(["evaluate", str(broken), "--limit", "20", "--iwae-k", "1"]) == 2
    captured = capsys.readouterr()
    # refused where the NaN first shows (the codes it decodes), never reported as an ELBO
    assert "non-finite" in captured.err and "ELBO" not in captured.out


@pytest.mark.parametrize("error", [
    InputError("VAE.decode: z must have shape (N, 2), got (3, 5)"),
    InputTypeError("VAE.generate: rng must be a numpy.random.Generator, got int"),
])
def test_a_refused_input_is_one_line_and_exit_2(monkeypatch, capsys, error):
    def run(args):
        raise error
    monkeypatch.setattr(cli, "cmd_sample", run)
    assert main(["sample", "model.npz"]) == EXIT_ERROR
    assert capsys.readouterr().err == f"minivae sample: error: {error}\n"


@pytest.mark.parametrize("error", [
    ValueError("operands could not be broadcast together with shapes (3,2) (3,5)"),
    TypeError("'NoneType' object is not subscriptable"),
    KeyError("dense/kernel"),
])
def test_a_bug_keeps_its_traceback(monkeypatch, capsys, error):
    """A bare ValueError or TypeError is what numpy or Python raise on a bug, not a
    refusal of minivae's (those are InputError and InputTypeError): it propagates, so
    `python -m minivae` prints the traceback and exits 1."""
    def run(args):
        raise error
    monkeypatch.setattr(cli, "cmd_sample", run)
    with pytest.raises(type(error)) as info:
        main(["sample", "model.npz"])
    assert info.value is error
    assert capsys.readouterr().err == ""


def test_a_bad_mplbackend_is_one_line(tmp_path, hermetic_env):
    """Issue 22: a bad MPLBACKEND printed a traceback once matplotlib was imported only
    where a figure needs it; matplotlib's refusal is now one line naming the variable."""
    from minivae import checkpoint
    from minivae.architectures import fashion_vae
    ckpt = checkpoint.save(tmp_path / "model.npz", fashion_vae(seed=0))
    proc = subprocess.run([sys.executable, "-m", "minivae", "sample", str(ckpt), "--out",
                           str(tmp_path / "s.png")],
                          env={**hermetic_env, "MPLBACKEND": "nonsense"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "matplotlib cannot start" in lines[0] and "MPLBACKEND" in lines[0]
