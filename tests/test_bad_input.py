"""The catalogue of bad input: every public entry point answers with a sentence.

Each case names the call, the exception type it must raise and a pattern the
message must match. The patterns ask for three things: the argument's name,
what was expected, and what came ("got ..."), so that no case passes on a raw
numpy error raised from deep inside (those name neither). The command-line
cases run `python -m minivae` in a subprocess and ask for a non-zero exit, one
error line on stderr and no traceback.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minivae
from minivae import (checkpoint, datasets, evaluation, experiments, figures, gaps, latent,
                     losses, model_check, plotting, runs)
from minivae.architectures import faces_vae, fashion_autoencoder, fashion_vae, from_config
from minivae.checkpoint import CheckpointError
from minivae.datasets import DatasetError
from minivae.errors import InputError, InputTypeError
from minivae.layers import Conv2D, Dense, Reshape, Sampling
from minivae.optimizers import Adam


@pytest.fixture(scope="module")
def vae():
    return fashion_vae(seed=0).compile(Adam())


def built(layer, input_shape):
    layer.build(input_shape, rng=np.random.default_rng(0))
    return layer


def f32(*shape, fill=0.0):
    return np.full(shape, fill, np.float32)


def written(save, path):
    """`path` after save(path, array): a numpy file that is not a checkpoint."""
    save(path, f32(3))
    return path


def saved(model, folder):
    """A checkpoint of `model` in `folder`, for the commands' library functions."""
    return checkpoint.save(folder / "model.npz", model)


IMAGES = f32(4, 32, 32, 1, fill=0.5)

# (id, call(vae, tmp_path), exception type, message pattern)
CASES = [
    # ------------------------------------------------------------- layers --
    ("dense-wrong-rank", lambda m, d: built(Dense(4), (3,)).forward(f32(2, 3, 1)),
     InputError, r"Dense: expected x of shape \(batch, 3\), got \(2, 3, 1\)"),
    ("conv-wrong-channels", lambda m, d: built(Conv2D(4, 3), (8, 8, 3)).forward(f32(2, 8, 8, 1)),
     InputError, r"Conv2D: expected x of shape \(batch, 8, 8, 3\), got \(2, 8, 8, 1\)"),
    ("dense-integer-dtype", lambda m, d: built(Dense(4), (3,)).forward(np.ones((2, 3), np.int64)),
     InputTypeError, r"x must be a floating-point array, got dtype int64"),
    ("conv-object-dtype",
     lambda m, d: built(Conv2D(4, 3), (8, 8, 1)).forward(np.empty((1, 8, 8, 1), object)),
     InputTypeError, r"Conv2D: x must be a floating-point array, got dtype object"),
    ("dense-negative-units", lambda m, d: Dense(-3),
     InputError, r"Dense: units must be a positive integer, got -3"),
    ("conv-unknown-padding", lambda m, d: Conv2D(4, 3, padding="full"),
     InputError, r"Conv2D: unknown padding 'full'; expected one of 'valid', 'same'"),
    ("dense-unknown-activation", lambda m, d: Dense(4, activation="tanhh"),
     InputError, r"Dense: unknown activation 'tanhh'; expected one of .*'relu'"),
    ("reshape-negative-size", lambda m, d: Reshape((-2, 4)),
     InputError, r"Reshape: target_shape entries must be positive .*got \(-2, 4\)"),
    ("build-integer-dtype", lambda m, d: Dense(4).build((3,), dtype="int32"),
     InputTypeError, r"dtype must be a floating type such as 'float32' or 'float64', got int32"),
    ("sampling-batch-mismatch",
     lambda m, d: built(Sampling(), (2,)).forward((f32(3, 2), f32(4, 2))),
     InputError, r"z_mean and z_log_var must have the same batch size, "
                 r"got z_mean \(3, 2\) and z_log_var \(4, 2\)"),
    ("sampling-eps-shape",
     lambda m, d: built(Sampling(), (2,)).forward((f32(3, 2), f32(3, 2)), eps=f32(3, 5)),
     InputError, r"eps must have z_mean's shape \(3, 2\), got \(3, 5\)"),
    # ------------------------------------------------------------- losses --
    ("bce-shape-mismatch", lambda m, d: losses.binary_crossentropy(f32(2, 3), f32(2, 4)),
     InputError, r"y_true and y_pred must have the same shape, got y_true \(2, 3\) "
                 r"and y_pred \(2, 4\)"),
    ("bce-integer-labels",
     lambda m, d: losses.binary_crossentropy(np.ones((2, 3), np.int64), f32(2, 3)),
     InputTypeError, r"binary_crossentropy: y_true must be a floating-point array, got dtype int64"),
    ("bce-unknown-reduction",
     lambda m, d: losses.binary_crossentropy_from_logits(f32(2, 3), f32(2, 3), reduction="sum"),
     InputError, r"unknown reduction 'sum'; expected one of 'mean', 'none'"),
    ("kl-batch-mismatch", lambda m, d: losses.gaussian_kl(f32(3, 2), f32(4, 2)),
     InputError, r"gaussian_kl: mu and log_var must have the same shape, "
                 r"got mu \(3, 2\) and log_var \(4, 2\)"),
    ("kl-wrong-rank", lambda m, d: losses.gaussian_kl(f32(3), f32(3)),
     InputError, r"expected mu and log_var of shape \(batch, latent_dim\), got \(3,\)"),
    ("kl-ragged-list", lambda m, d: losses.gaussian_kl([[0.0, 1.0], [2.0]], f32(2, 2)),
     InputTypeError, r"gaussian_kl: mu must be an array of numbers: .*inhomogeneous"),
    # ------------------------------------------------------------- models --
    ("fit-wrong-channels", lambda m, d: m.fit(f32(4, 32, 32, 3), verbose=0),
     InputError, r"VAE.fit: x must have shape \(N, 32, 32, 1\) .*got \(4, 32, 32, 3\)"),
    ("fit-integer-dtype", lambda m, d: m.fit(np.zeros((4, 32, 32, 1), np.int64), verbose=0),
     InputTypeError, r"VAE.fit: x must be float images in \[0, 1\] or uint8 pixels, got dtype int64"),
    ("fit-nan-images", lambda m, d: m.fit(f32(4, 32, 32, 1, fill=np.nan), verbose=0),
     InputError, r"VAE.fit: x holds 4096 non-finite value\(s\) \(NaN or inf\); expected finite"),
    ("fit-inf-validation",
     lambda m, d: m.fit(IMAGES, validation_data=f32(2, 32, 32, 1, fill=np.inf), verbose=0),
     InputError, r"validation_data holds 2048 non-finite value\(s\) .*expected finite"),
    ("fit-negative-batch-size", lambda m, d: m.fit(IMAGES, batch_size=-1, verbose=0),
     InputError, r"VAE.fit: batch_size must be a positive integer, got -1"),
    ("fit-initial-epoch-string", lambda m, d: m.fit(IMAGES, initial_epoch="1", verbose=0),
     InputTypeError, r"VAE.fit: initial_epoch must be an integer >= 0, got '1' of type str"),
    ("fit-callback-not-callable", lambda m, d: m.fit(IMAGES, callbacks=[3], verbose=0),
     InputTypeError, r"VAE.fit: callbacks\[0\] must be callable as cb\(model, epoch, logs, "
                r"history\), got int"),
    ("fit-seed-string", lambda m, d: m.fit(IMAGES, seed="a", verbose=0),
     InputTypeError, r"VAE.fit: seed must be an integer >= 0, got 'a' of type str"),
    ("decode-wrong-latent-dim", lambda m, d: m.decode(f32(3, 5)),
     InputError, r"VAE.decode: z must have shape \(N, 2\), got \(3, 5\)"),
    ("decode-nan", lambda m, d: m.decode(f32(3, 2, fill=np.nan)),
     InputError, r"VAE.decode: z holds 6 non-finite value\(s\) \(NaN or inf\); expected finite"),
    ("encode-zero-batch-size", lambda m, d: m.encode(IMAGES, batch_size=0),
     InputError, r"VAE.encode: batch_size must be a positive integer, got 0"),
    ("reconstruct-no-images", lambda m, d: m.reconstruct(f32(0, 32, 32, 1)),
     InputError, r"^VAE.reconstruct: x must hold at least one image, got shape \(0, 32, 32, 1\)"),
    ("generate-negative-n", lambda m, d: m.generate(-1),
     InputError, r"VAE.generate: n must be a positive integer, got -1"),
    ("generate-rng-not-generator", lambda m, d: m.generate(3, rng=3),
     InputTypeError, r"VAE.generate: rng must be a numpy.random.Generator.*got int"),
    ("astype-integer-dtype", lambda m, d: fashion_vae().astype("int32"),
     InputTypeError, r"^VAE.astype: dtype must be a floating type .*got int32"),
    ("build-without-a-shape", lambda m, d: fashion_vae().build(None),
     InputTypeError, r"^VAE.build: input_shape must be the shape of one input without the batch "
                     r"axis, .*got None"),
    ("from-config-of-nothing", lambda m, d: minivae.VAE.from_config(None),
     InputTypeError, r"^VAE.from_config: config must be a dict, .*got NoneType"),
    ("sequential-of-one-layer", lambda m, d: minivae.Sequential(Dense(3)),
     InputTypeError, r"^Sequential: layers must be a list of layers, got one Dense; write "
                     r"Sequential\(\[layer\]\)"),
    ("autoencoder-without-parts", lambda m, d: minivae.Autoencoder(None, None),
     InputTypeError, r"^Autoencoder: encoder must be a Layer or a Sequential of layers, got "
                     r"NoneType"),
    ("architecture-unknown-dtype", lambda m, d: fashion_vae(dtype="float33"),
     InputTypeError, r"fashion_vae: dtype must name a floating type .*got 'float33'"),
    ("architecture-beta-string", lambda m, d: fashion_vae(beta="a"),
     InputTypeError, r"VAE: beta must be a number, got 'a' of type str"),
    ("architecture-unknown-name", lambda m, d: from_config({"architecture": "resnet"}),
     InputError, r"from_config: unknown architecture 'resnet'; expected one of 'fashion_vae'"),
    # ----------------------------------------------------------- datasets --
    ("dataset-unknown-split", lambda m, d: datasets.load_dataset("validation"),
     InputError, r"load_dataset: unknown split 'validation'; expected one of 'train', 'test'"),
    ("data-dir-is-a-file", lambda m, d: datasets.load_fashion_mnist(data_dir=__file__),
     DatasetError, r"data_dir '.*test_bad_input.py' is a file; expected the folder"),
    ("data-dir-not-a-path", lambda m, d: datasets.load_mnist(data_dir=3),
     InputTypeError, r"load_mnist: data_dir must be a path to a folder .*got int"),
    ("idx-path-is-a-directory", lambda m, d: datasets.read_idx(d),
     DatasetError, r"cannot open IDX file \(Is a directory\)"),
    ("to-float-strings", lambda m, d: datasets.to_float(np.array(["a", "b"])),
     InputTypeError, r"to_float: images must be integer pixels .*got dtype <U1"),
    ("labels-wrong-length",
     lambda m, d: plotting.plot_latent_scatter(f32(5, 2), np.zeros(4, int), d / "s.png"),
     InputError, r"labels must have shape \(5,\), one per row of z, got shape \(4,\)"),
    ("spec-data-is-a-path", lambda m, d: datasets.parse_spec(d),
     InputTypeError, r"--data must be a data spec, the text fashion-mnist, .*got PosixPath\(.*\) "
                     r"of type PosixPath; write folder:.* for the images in that folder, or "
                     r"pass it as --data-dir"),
    ("spec-image-size-zero", lambda m, d: datasets.parse_spec(image_size=0),
     InputError, r"--image-size must be a positive integer, got 0"),
    ("spec-image-size-float", lambda m, d: datasets.parse_spec("folder:x", image_size=64.0),
     InputTypeError, r"--image-size must be a positive integer, got 64.0 of type float"),
    ("spec-data-dir-not-a-path", lambda m, d: datasets.parse_spec(data_dir=3),
     InputTypeError, r"--data-dir must be the path of a folder .*got 3 of type int"),
    # ---------------------------------------------------- runs, gradcheck --
    ("train-run-batch-size-zero", lambda m, d: runs.train_run(d / "r", batch_size=0),
     InputError, r"--batch-size must be a positive integer, got 0"),
    ("train-run-learning-rate-zero", lambda m, d: runs.train_run(d / "r", learning_rate=0),
     InputError, r"--learning-rate must be a finite number > 0, got 0"),
    ("train-run-epochs-float", lambda m, d: runs.train_run(d / "r", epochs=2.5),
     InputTypeError, r"--epochs must be a positive integer, got 2.5 of type float"),
    ("train-run-out-none", lambda m, d: runs.train_run(None),
     InputTypeError, r"--out must be the path of a folder .*got None of type NoneType"),
    ("train-run-model-not-a-model", lambda m, d: runs.train_run(d / "r", model=3),
     InputTypeError, r"--model must be one of vae, .* or a minivae model .*got 3 of type int"),
    ("train-run-resume-nothing", lambda m, d: runs.train_run(d / "r", resume=True, epochs=2),
     InputError, r"--resume continues the run in --out, and .*r holds none \(.*model.npz does "
                 r"not exist\)"),
    ("make-model-not-a-spec", lambda m, d: runs.make_model(3),
     InputTypeError, r"--model must be one of vae, ae, .*module:function, got 3 of type int"),
    ("gradcheck-max-entries-string", lambda m, d: model_check.check_whole_model(max_entries="8"),
     InputTypeError, r"--max-entries must be a positive integer \(entries checked per array\) or "
                     r"None \(every entry\), got '8' of type str"),
    ("gradcheck-batch-size-zero", lambda m, d: model_check.check_whole_model(batch_size=0),
     InputError, r"--batch-size must be a positive integer, got 0"),
    ("gradcheck-seed-negative", lambda m, d: model_check.check_whole_model(seed=-1),
     InputError, r"--seed must be an integer >= 0, got -1"),
    ("gradcheck-checkpoint-not-a-path", lambda m, d: model_check.check_whole_model(checkpoint=3),
     InputTypeError, r"--checkpoint must be the path of a checkpoint .*got 3 of type int"),
    # ------------------------------------------------------------- latent --
    ("codes-of-no-model", lambda m, d: latent.codes(None, IMAGES),
     InputTypeError, r"codes: model must be a minivae model .*got NoneType"),
    ("codes-wrong-images", lambda m, d: latent.codes(m, f32(2, 28, 28, 1)),
     InputError, r"codes: x must have shape \(N, 32, 32, 1\) for this model, got \(2, 28, 28, 1\)"),
    ("decode-points-wrong-size", lambda m, d: latent.decode_points(m, np.zeros((2, 3))),
     InputError, r"decode_points: points must have shape \(n, 2\), the model's latent size, got "
                 r"\(2, 3\)"),
    ("interpolation-images-one-step",
     lambda m, d: latent.interpolation_images(m, IMAGES[0], IMAGES[1], steps=1),
     InputError, r"interpolation_images: steps must be at least 2 \(both ends\), got 1"),
    ("gap-share-constant-axis", lambda m, d: gaps.gap_share(np.zeros((5, 2))),
     InputError, r"^gap_share: every axis of z must vary, got standard deviations \[0. 0.\]"),
    ("latent-report-one-code", lambda m, d: gaps.latent_report(np.zeros((1, 2))),
     InputError, r"^latent_report: z must be codes \(N, d\) with N >= 2 and d >= 1, got shape "
                 r"\(1, 2\)"),
    ("uniform-points-trim-text", lambda m, d: gaps.uniform_points(np.eye(3), 4, trim="1"),
     InputError, r"^uniform_points: trim must be a percentage in \[0, 50\), got '1'"),
    ("latent-grid-n-float",
     lambda m, d: plotting.plot_latent_grid(m.decode, d / "g.png", n=5.0),
     InputTypeError, r"^plot_latent_grid: n must be a positive integer, got 5.0 of type float"),
    ("tile-fill-text", lambda m, d: plotting.tile_images(IMAGES, 2, fill="a"),
     InputTypeError, r"^tile_images: fill must be a number .*got 'a' of type str"),
    # -------------------------------------------------------- checkpoints --
    ("checkpoint-path-none", lambda m, d: checkpoint.load(None),
     InputTypeError, r"checkpoint.load: path must be a str or os.PathLike naming a .npz file, "
                     r"got NoneType"),
    ("checkpoint-of-no-model", lambda m, d: checkpoint.save(d / "m.npz", None),
     InputTypeError, r"checkpoint.save: model must be a minivae model .*got NoneType"),
    ("checkpoint-negative-epoch", lambda m, d: checkpoint.save(d / "m.npz", m, epoch=-1),
     InputError, r"checkpoint.save: epoch must be an integer >= 0, got -1"),
    ("checkpoint-is-a-npy", lambda m, d: checkpoint.load(written(np.save, d / "a.npy")),
     CheckpointError, r"a.npy' holds a single .npy array, not a minivae checkpoint \(.npz\)"),
    ("checkpoint-foreign-npz", lambda m, d: checkpoint.load(written(np.savez, d / "w.npz")),
     CheckpointError, r"w.npz' is not a minivae checkpoint: no meta/checksum entries"),
    ("checkpoint-of-a-non-finite-state", lambda m, d: checkpoint.save(d / "nan.npz", nan_vae()),
     CheckpointError, r"refusing to write '.*nan.npz': non-finite param/conv2d/kernel; a "
                      r"checkpoint holds only a state that can be trained on"),
    # ------------------------------------------------------------ images --
    ("fit-unscaled-pixels", lambda m, d: m.fit(f32(4, 32, 32, 1, fill=200.0), verbose=0),
     InputError, r"VAE.fit: x must be float images in \[0, 1\] \(or uint8 pixels, which are "
                 r"scaled for you\), got values from 200 to 200; divide by 255 first"),
    # ------------------------------------------- the commands, called from Python --
    ("evaluate-iwae-k-float", lambda m, d: evaluation.evaluate_checkpoint(saved(m, d), iwae_k=5.0),
     InputTypeError, r"evaluate_checkpoint: iwae_k must be positive integers \(an int or a list "
                     r"of them, e.g. \(1, 10, 100\)\), got 5.0 of type float"),
    ("evaluate-iwae-k-string", lambda m, d: evaluation.evaluate_checkpoint(saved(m, d), iwae_k="5"),
     InputTypeError, r"evaluate_checkpoint: iwae_k must be positive integers .*got '5' of "
                     r"type str"),
    ("interpolate-index-float",
     lambda m, d: figures.interpolate(saved(m, d), d / "i.png", index_a=1.5),
     InputTypeError, r"interpolate: index_a must be an integer \(an image index\), got 1.5 of "
                     r"type float"),
    ("morph-steps-float", lambda m, d: figures.morph(saved(m, d), d / "m.png", steps=2.5),
     InputTypeError, r"morph: steps must be an integer >= 2, got 2.5 of type float"),
    ("attribute-positive-float",
     lambda m, d: figures.attribute(saved(m, d), d / "a", positive=3.5),
     InputTypeError, r"attribute: positive must be class names or indices \(a str, an int, or a "
                     r"list of them, .*\), got 3.5"),
    ("attribute-no-image-has-it",       # the sample's first three are classes 9, 2 and 1
     lambda m, d: figures.attribute(saved(m, d), d / "a", positive="Bag", limit=3, verbose=0),
     InputError, r"--positive Bag: 0 of the 3 images of the embedded sample have it; the "
                 r"attribute's direction needs images with it and without it"),
    ("attribute-column-not-a-name",
     lambda m, d: figures.attribute(saved(m, d), d / "a", attribute=5, celeba=d),
     InputTypeError, r"attribute: attribute must be a CelebA column's name \(a str, e.g. "
                     r"'Blond_Hair'\), got 5 of type int"),
    ("compare-radius-string", lambda m, d: experiments.compare_run(d / "c", radius="a"),
     InputTypeError, r"compare_run: radius must be a number or a list of numbers \(radii in "
                     r"standard deviations\), got 'a'"),
    ("compare-radius-infinite", lambda m, d: experiments.compare_run(d / "c", radius=np.inf),
     InputError, r"--radius must be positive and finite \(radii in standard deviations\), at "
                 r"least one, got inf"),
    ("sweep-betas-one-number", lambda m, d: experiments.sweep_run(d / "s", betas=1.0),
     InputTypeError, r"sweep_run: betas must be a list of numbers >= 0 \(e.g. \[0.5, 1, 2\]\), "
                     r"got 1.0"),
    ("fit-images-in-minus-one-to-one",
     lambda m, d: m.fit(np.linspace(-1, 1, 4096, dtype=np.float32).reshape(4, 32, 32, 1),
                        verbose=0),
     InputError, r"got values from -1 to 1; rescale to \[0, 1\] first, e.g. \(x \+ 1\) / 2"),
]


def nan_vae():
    model = fashion_vae(seed=0)
    model.named_params()["conv2d/kernel"][...] = np.nan
    return model


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_raises_a_specific_sentence(call, error, pattern, vae, tmp_path,
                                              no_real_data):
    # Data lookups must not depend on what this machine has installed (no_real_data).
    with pytest.raises(error, match=pattern) as info:
        call(vae, tmp_path)
    # The exact type, not a subclass: a DatasetError case must not pass as an InputError,
    # and a refused input is an InputError, not a bare ValueError (which the CLI takes
    # for a bug).
    assert type(info.value) is error


def test_the_catalogue_is_large_and_its_ids_unique():
    ids = [c[0] for c in CASES] + [c[0] for c in CLI_CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 30


# ---------------------------------------------------------------- the CLI --

# Lines a run may print on stderr besides its error: training on the embedded
# sample says so first (the catalogue hides the real dataset to be hermetic).
NOTICE = re.compile(r"minivae: Fashion-MNIST not found; (training on|using) the embedded sample")

# (id, argv after `python -m minivae`, with {d} the case's folder, pattern of the error line)
CLI_CASES = [
    ("cli-checkpoint-is-a-directory", ["sample", "{d}"],
     r"minivae sample: error: '.*' is a directory, not a checkpoint file"),
    ("cli-truncated-checkpoint", ["sample", "{d}/cut.npz"],
     r"minivae sample: error: '.*cut.npz' is not a readable minivae checkpoint "
     r"\(truncated or corrupted\?\): BadZipFile"),
    ("cli-autoencoder-has-no-prior", ["sample", "{d}/ae.npz"],
     r"minivae sample: error: .*ae.npz holds an Autoencoder, which has no prior"),
    # an abbreviation was taken for another flag (--n for --no-verify): flags are whole,
    # and the command that refuses one names itself
    ("cli-abbreviated-flag", ["reconstruct", "{d}/vae.npz", "--n", "3"],
     r"minivae reconstruct: error: unrecognized arguments: --n 3 \(see minivae reconstruct "
     r"--help\)"),
    ("cli-zero-samples", ["sample", "{d}/vae.npz", "-n", "0", "--out", "{d}/s.png"],
     r"minivae sample: error: argument -n: expected a positive integer, got '0'"),
    ("cli-checkpoint-of-another-architecture", ["reconstruct", "{d}/faces.npz", "--out",
                                                "{d}/r.png"],
     r"minivae reconstruct: error: the model reads images of shape \(64, 64, 3\), and "
     r"fashion-mnist has 28x28 or 32x32 grey ones; name its data with --data folder:PATH "
     r"--image-size 64"),
    ("cli-data-dir-is-a-file", ["train", "--out", "{d}/run-data-dir", "--data-dir",
                                "{d}/vae.npz"],
     r"minivae train: error: --data-dir .*vae.npz is a file; expected the folder holding the "
     r"four IDX files"),
    ("cli-data-folder-without-images", ["train", "--out", "{d}/run-folder", "--data",
                                        "folder:{d}/no-images"],
     r"minivae train: error: --data folder:.*no-images: .*no-images is not a folder \(it does "
     r"not exist\)"),
    ("cli-no-data-in-one-line", ["train", "--out", "{d}/run-no-data", "--no-sample"],
     r"minivae train: error: Fashion-MNIST \(train split\) was not found. Looked in, in order: "
     r".*\(no such folder\); .*To get it, any one of: apt-get install dataset-fashion-mnist"),
    ("cli-zero-epochs", ["train", "--out", "{d}/run-0", "--epochs", "0"],
     r"minivae train: error: argument --epochs: expected a positive integer, got '0'"),
    ("cli-nan-learning-rate", ["train", "--out", "{d}/run-nan", "--learning-rate", "nan"],
     r"minivae train: error: argument --learning-rate: expected a finite number > 0, got "
     r"'nan'"),
    ("cli-epochs-not-a-number", ["train", "--out", "{d}/run-abc", "--epochs", "abc"],
     r"minivae train: error: argument --epochs: expected a positive integer, got 'abc' "
     r"\(see minivae train --help\)"),
    ("cli-out-already-holds-a-run", ["train", "--out", "{d}/held"],
     r"minivae train: error: .*held already holds a run \(.*model.npz\); pass --resume to "
     r"continue it, --overwrite to replace it, or choose another --out"),
    ("cli-resume-contradicts-the-checkpoint", ["train", "--out", "{d}/held-2", "--resume",
                                               "--latent-dim", "3", "--epochs", "2"],
     r"minivae train: error: --latent-dim 3 contradicts .*model.npz, which was trained with 2"),
    ("cli-resume-without-optimizer", ["train", "--out", "{d}/r2", "--resume", "{d}/vae.npz",
                                      "--epochs", "2"],
     r"minivae train: error: .*vae.npz was saved without its optimizer state, so it cannot be "
     r"resumed exactly"),
    ("cli-sample-figure-too-large", ["sample", "{d}/vae.npz", "-n", "10000"],
     r"minivae sample: error: -n 10,000 would tile 10,000 images into one figure; a figure "
     r"holds at most 1,000 \(use --out FILE.npy"),
    ("cli-evaluate-beyond-its-limit", ["evaluate", "{d}/vae.npz", "--iwae-k", "1000000"],
     r"minivae evaluate: error: this evaluation needs about 200,000,400 decoder passes .* "
     r"the limit without --force is 2,000,000"),
    ("cli-figure-format-unknown", ["sample", "{d}/vae.npz", "--out", "{d}/s.gif"],
     r"minivae sample: error: .*'\.gif'.*png"),
]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory, hermetic_env):
    """Every CLI case, run at once in its own process (they only wait on imports)."""
    root = tmp_path_factory.mktemp("cli")
    vae_path = checkpoint.save(root / "vae.npz", fashion_vae(seed=0))
    checkpoint.save(root / "ae.npz", fashion_autoencoder(seed=0))
    checkpoint.save(root / "faces.npz", faces_vae(latent_dim=2, seed=0))
    # Cases that reach `train`'s lock run at the same moment, so each has its own --out:
    # two in one folder would race for the lock and one would fail for that instead.
    for held in ("held", "held-2"):
        (root / held).mkdir()
        checkpoint.save(root / held / "model.npz", fashion_vae(seed=0).compile(Adam()),
                        epoch=1)
    data = open(vae_path, "rb").read()
    (root / "cut.npz").write_bytes(data[: len(data) // 3])
    procs = {}
    for name, argv, _ in CLI_CASES:
        argv = [a.format(d=root) for a in argv]
        procs[name] = subprocess.Popen([sys.executable, "-m", "minivae", *argv],
                                       env=hermetic_env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
    runs = {}
    for name, proc in procs.items():
        # 300 s: nine interpreters starting together on two busy cores, none of them training.
        out, err = proc.communicate(timeout=300)
        runs[name] = proc.returncode, err, out
    return runs


@pytest.mark.parametrize("name, pattern", [(c[0], c[2]) for c in CLI_CASES],
                         ids=[c[0] for c in CLI_CASES])
def test_cli_reports_bad_input_in_one_line(cli_runs, name, pattern):
    code, err, _ = cli_runs[name]
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not NOTICE.match(line)]
    assert len(lines) == 1, err
    assert re.fullmatch(pattern + ".*", lines[0]), lines[0]


def test_the_library_refuses_with_input_errors_only():
    """The CLI takes a bare ValueError or TypeError for a bug (it keeps its traceback),
    so every refusal minivae writes must be an InputError or InputTypeError."""
    root = Path(minivae.__file__).parent
    bare = re.compile(r"\braise (ValueError|TypeError)\(")
    found = [f"{path.relative_to(root)}:{number}: {line.strip()}"
             for path in sorted(root.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if bare.search(line)]
    assert not found, "raise InputError / InputTypeError instead:\n" + "\n".join(found)
