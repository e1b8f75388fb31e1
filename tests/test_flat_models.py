"""Models of flat vectors (N, D) in every command: PyTorch's 784-400-20 MLP VAE, trained
on Fashion-MNIST's images flattened and shown as the 28x28 images they are (issue 21)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from minivae import checkpoint
from minivae.datasets import check_fits, load_spec, parse_spec
from minivae.errors import InputError
from minivae.layers import Dense
from minivae.models import VAE, GaussianEncoder, Sequential

PATIENCE = 600          # seconds a subprocess may take on a loaded machine (never a bound)

FLAT_MODELS = """
from minivae.layers import Dense
from minivae.models import VAE, GaussianEncoder, Sequential


def mlp():
    encoder = GaussianEncoder([Dense(400, activation="relu")], 20)
    decoder = Sequential([Dense(400, activation="relu"), Dense(784, activation="sigmoid")])
    return VAE(encoder, decoder, reconstruction_weight=784).build((784,))
"""


def mlp(image_shape=None):
    """The MLP VAE of PyTorch's examples, from minivae's public API."""
    encoder = GaussianEncoder([Dense(400, activation="relu")], 20)
    decoder = Sequential([Dense(400, activation="relu"), Dense(784, activation="sigmoid")])
    return VAE(encoder, decoder, reconstruction_weight=784,
               image_shape=image_shape).build((784,))


def minivae(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "minivae", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=PATIENCE)


def ok(proc):
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc


def one_error_line(proc):
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---------------------------------------------------------------- the library --

def test_a_flat_model_records_its_image_shape_in_its_config():
    model = mlp((28, 28, 1))
    assert model.image_shape == (28, 28, 1)
    assert model.get_config()["image_shape"] == [28, 28, 1]
    x = np.zeros((3, 784), dtype=np.float32)
    assert model.as_images(x).shape == (3, 28, 28, 1)
    assert mlp().image_shape is None and "image_shape" not in mlp().get_config()
    with pytest.raises(InputError, match="image_shape"):
        mlp().as_images(x)
    with pytest.raises(InputError, match="HxWxC"):
        mlp("28 by 28")


def test_an_image_models_config_is_unchanged():
    from minivae.architectures import fashion_vae
    model = fashion_vae(seed=0)
    assert model.image_shape == (32, 32, 1) and "image_shape" not in model.get_config()


def test_the_data_of_a_flat_model_is_its_images_flattened(no_real_data):
    spec = parse_spec(input_shape=(784,))
    assert spec["image_size"] == 28             # the size whose images have 784 pixels
    images = load_spec(spec, "test", verbose=0)
    flat = check_fits(images, (784,), "the model")
    assert flat.images.shape == (len(images), 784)
    np.testing.assert_array_equal(flat.images, images.images.reshape(len(images), -1))
    with pytest.raises(InputError, match="no --image-size of fashion-mnist"):
        parse_spec(input_shape=(100,))
    assert parse_spec("folder:x", input_shape=(12 * 12 * 3,))["image_size"] == 12


# ---------------------------------------------------- every command, fresh process --

@pytest.fixture(scope="module")
def flat_run(tmp_path_factory, hermetic_env):
    """`minivae train --model flat_models:mlp`, 1 epoch on 100 images of the sample."""
    where = tmp_path_factory.mktemp("flat")
    (where / "flat_models.py").write_text(FLAT_MODELS)
    ok(minivae(["train", "--model", "flat_models:mlp", "--out", "run", "--epochs", "1",
                "--limit", "100", "--batch-size", "50", "--quiet"], hermetic_env, where))
    return where


def test_train_records_the_images_a_flat_model_reads(flat_run):
    model = checkpoint.load(flat_run / "run" / "model.npz")
    assert model.input_shape == (784,) and model.image_shape == (28, 28, 1)
    assert model.run["data"]["image_size"] == 28
    for name in ("reconstructions", "latent_scatter", "latent_grid", "samples", "loss_curves"):
        assert (flat_run / "run" / f"{name}.png").stat().st_size > 0


@pytest.mark.parametrize("command", [
    ["sample", "--out", "s.png"],
    ["reconstruct", "--out", "r.png", "-n", "4"],
    ["interpolate", "--out", "i.png", "--steps", "4"],
    ["embedding", "--out", "emb", "--limit", "200", "-n", "4", "--grid", "3", "--quiet"],
    ["attribute", "--positive", "Sandal", "Sneaker", "--limit", "400", "--faces", "2",
     "--factors", "-1", "0", "1", "--out", "att", "--quiet"],
    ["morph", "--out", "m.png", "--steps", "3"],
])
def test_every_figure_command_shows_a_flat_models_vectors_as_images(flat_run, hermetic_env,
                                                                    command):
    proc = ok(minivae([command[0], "run/model.npz", *command[1:]], hermetic_env, flat_run))
    out = flat_run / command[command.index("--out") + 1]
    assert out.exists(), proc.stdout


def test_evaluate_gradcheck_resume_and_npy_samples_of_a_flat_model(flat_run, hermetic_env):
    proc = ok(minivae(["evaluate", "run/model.npz", "--limit", "20", "--iwae-k", "1", "2",
                       "--json", "e.json"], hermetic_env, flat_run))
    report = json.loads((flat_run / "e.json").read_text())
    assert report["pixels"] == 784 and report["images"] == 20, proc.stdout
    ok(minivae(["sample", "run/model.npz", "-n", "5", "--out", "s.npy"], hermetic_env,
               flat_run))
    assert np.load(flat_run / "s.npy").shape == (5, 784)      # what the model outputs
    ok(minivae(["gradcheck", "--checkpoint", "run/model.npz", "--max-entries", "20"],
               hermetic_env, flat_run))
    ok(minivae(["train", "--out", "run", "--resume", "--epochs", "2", "--quiet"],
               hermetic_env, flat_run))
    assert checkpoint.load(flat_run / "run" / "model.npz").epoch == 2


def test_a_flat_model_without_an_image_shape_says_how_to_give_it(tmp_path, hermetic_env):
    checkpoint.save(tmp_path / "bare.npz", mlp())
    line = one_error_line(minivae(["sample", "bare.npz", "--out", "s.png"], hermetic_env,
                                  tmp_path))
    assert "records no image shape" in line and "--image-shape HxWxC" in line
    ok(minivae(["sample", "bare.npz", "--out", "s.png", "--image-shape", "28x28x1"],
               hermetic_env, tmp_path))
    ok(minivae(["reconstruct", "bare.npz", "--out", "r.png", "--image-shape", "28x28x1"],
               hermetic_env, tmp_path))
    line = one_error_line(minivae(["sample", "bare.npz", "--image-shape", "32x32x1"],
                                  hermetic_env, tmp_path))
    assert "1024 values" in line and "vectors of 784" in line
    # the data needs no image shape: 784 values are Fashion-MNIST's 28x28 flattened
    ok(minivae(["evaluate", "bare.npz", "--limit", "10", "--iwae-k"], hermetic_env, tmp_path))


def test_a_flat_model_trains_on_a_streamed_folder_and_shows_its_images(tmp_path):
    from minivae import figures, runs
    from tests.test_streaming import write_folder
    folder = write_folder(tmp_path / "f", 12)
    encoder = GaussianEncoder([Dense(16, activation="relu")], 2)
    decoder = Sequential([Dense(16, activation="relu"), Dense(8 * 8 * 3, activation="sigmoid")])
    model = VAE(encoder, decoder, reconstruction_weight=192).build((8 * 8 * 3,))
    run = runs.train_run(tmp_path / "run", model=model, data=f"folder:{folder}", epochs=1,
                         batch_size=4, verbose=0)
    assert run.model.image_shape == (8, 8, 3)      # 192 values: the folder's 8x8 RGB
    ckpt = tmp_path / "run" / "model.npz"
    saved = checkpoint.load(ckpt)
    assert saved.image_shape == (8, 8, 3) and saved.run["data"]["image_size"] == 8
    figures.reconstruct(ckpt, tmp_path / "r.png", n=1)
    figures.morph(ckpt, tmp_path / "m.png", steps=3)
