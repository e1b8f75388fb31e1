"""minivae.figures: a checkpoint's figures written to files, called as a notebook would
(the commands that call them: tests/test_cli*.py)."""

import numpy as np
import pytest

from minivae import checkpoint, figures
from minivae.architectures import fashion_autoencoder, fashion_vae
from minivae.datasets import DatasetError, load_for_training, parse_spec
from minivae.errors import InputError
from minivae.training import History
from tests.conftest import PNG


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    return {"vae": checkpoint.save(folder / "vae.npz", fashion_vae(latent_dim=3, seed=0)),
            "ae": checkpoint.save(folder / "ae.npz", fashion_autoencoder(seed=0))}


def test_write_figures_draws_a_runs_five_for_a_vae_and_four_for_an_autoencoder(
        tmp_path, no_real_data):
    _, val = load_for_training(parse_spec(), limit=40, verbose=0)
    history = History({"total_loss": [2.0, 1.0]}, [0, 1])
    names = [p.name for p in figures.write_figures(fashion_vae(latent_dim=3, seed=0), tmp_path,
                                                   val, history)]
    assert names == ["reconstructions.png", "latent_scatter.png", "latent_grid.png",
                     "samples.png", "loss_curves.png"]
    names = [p.name for p in figures.write_figures(fashion_autoencoder(seed=0), tmp_path / "ae",
                                                   val, history)]
    assert "samples.png" not in names and (tmp_path / "ae" / "latent_grid.png").exists()


def test_sample_writes_a_figure_or_any_number_to_npy(saved, tmp_path):
    assert figures.sample(saved["vae"], tmp_path / "s.png", n=4).read_bytes()[:8] == PNG
    path = figures.sample(saved["vae"], tmp_path / "s.npy", n=1001, seed=2)
    model = checkpoint.load(saved["vae"])
    np.testing.assert_array_equal(np.load(path), model.generate(1001, np.random.default_rng(2)))
    with pytest.raises(InputError, match="-n 1,001 would tile 1,001 images"):
        figures.sample(saved["vae"], tmp_path / "t.png", n=1001)
    with pytest.raises(InputError, match="holds an Autoencoder, which has no prior"):
        figures.sample(saved["ae"], tmp_path / "u.png")


def test_a_long_npy_sample_shows_its_progress_and_ends_the_line(saved, tmp_path, monkeypatch,
                                                              capsys):
    """Issue 22: `sample -n 200000 --out s.npy` decoded for 48 s with nothing on the
    screen. Beyond PROGRESS_SAMPLES images it counts them on one stderr line, chunk by
    chunk, and ends that line; below it, it prints nothing."""
    figures.sample(saved["vae"], tmp_path / "quiet.npy", n=2500)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(figures, "PROGRESS_SAMPLES", 2000)
    figures.sample(saved["vae"], tmp_path / "s.npy", n=2500)
    err = capsys.readouterr().err
    assert err == ("\rsample: 1,000 of 2,500 images decoded\rsample: 2,000 of 2,500 images "
                   "decoded\rsample: 2,500 of 2,500 images decoded\n")


def test_reconstruct_interpolate_and_morph_read_the_recorded_data(saved, tmp_path,
                                                                 no_real_data):
    assert figures.reconstruct(saved["ae"], tmp_path / "r.png", n=3).exists()
    assert figures.interpolate(saved["vae"], tmp_path / "i.png", 2, 5, steps=4,
                               spherical=True).exists()
    assert figures.morph(saved["ae"], tmp_path / "m.png", 0, 9, steps=3).exists()
    with pytest.raises(InputError, match=r"--index-b must lie in \[0, 1999\], got 2000"):
        figures.interpolate(saved["vae"], tmp_path / "j.png", 0, 2000)


def test_embedding_and_attribute_write_their_folders(saved, tmp_path, no_real_data):
    paths, report = figures.embedding(saved["vae"], tmp_path / "e", limit=100, n=4, grid=3,
                                      dims=3)
    assert report["codes"] == 100 and len(report["axes"]["kl_to_prior"]) == 3
    assert all(p.exists() for p in paths) and (tmp_path / "e" / "embedding.json").exists()
    found, figure = figures.attribute(saved["vae"], tmp_path / "a", positive=["Trouser"],
                                      limit=300, factors=(-1, 0, 1), faces=2, verbose=0)
    assert found.vector.shape == (3,) and figure.exists()
    with pytest.raises(InputError, match="give the attribute one way"):
        figures.attribute(saved["vae"], tmp_path / "b")


def test_what_a_command_draws_or_decodes_is_bounded_before_it_runs(tmp_path, capsys):
    """Issue 22: morph --steps 5000 reached 4 GB, embedding -n 1e7 and --grid 3000 ran
    for minutes; a checkpoint of kilobytes asked for gigabytes on sample -n 1. Each is
    now refused at once, in one line, naming the flag."""
    from minivae.cli import main
    ckpt = str(checkpoint.save(tmp_path / "model.npz", fashion_vae(seed=0)))
    for argv, message in (
            (["morph", ckpt, "--steps", "5000"], "--steps 5,000 would tile 5,000 images"),
            (["embedding", ckpt, "-n", "10000000"], "-n 10,000,000 would tile"),
            (["embedding", ckpt, "--grid", "3000"], "--grid (its square) 9,000,000 would tile"),
            (["sample", ckpt, "--memory-budget", "0.001"],
             r"decoding of 30 example(s) through this model needs about"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)


def test_review_fixes_of_the_commands_library(tmp_path, no_real_data):
    """attribute --positive on unlabelled data, sample(n) checked in the library, the
    .npy hint only where it helps, --data-dir over a recorded sample."""
    from minivae import runs
    from minivae.datasets import parse_spec
    ckpt = checkpoint.save(tmp_path / "model.npz", fashion_vae(seed=0))
    with pytest.raises(InputError, match=r"sample: n must be a positive integer"):
        figures.sample(ckpt, tmp_path / "x.npy", n=-1)
    with pytest.raises(InputError, match=r"holds at most 1,000$"):
        figures.morph(ckpt, tmp_path / "m.png", steps=5000)
    recorded = {"name": "sample", "data_dir": None, "folder": None, "image_size": 32}
    assert parse_spec(None, "/some/dir", None, recorded)["name"] == "fashion-mnist"
    with pytest.raises(InputError, match="pass one of them"):
        parse_spec("sample", "/some/dir", None, recorded)
    folder = tmp_path / "faces"
    folder.mkdir()
    from PIL import Image
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    run = runs.train_run(tmp_path / "run", model="faces", data=f"folder:{folder}", epochs=1,
                         batch_size=5, verbose=0)
    with pytest.raises(InputError, match=r"--positive names classes, and .* has no labels"):
        figures.attribute(run.checkpoint, tmp_path / "attr", positive=["0"])


# ----------------------------------------------------------- bounded memory, few images --

def _png_folder(folder, n, shape=(32, 32, 3)):
    from PIL import Image
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def _spy_on_reads(monkeypatch):
    """The number of images each read of a FolderImages returns, in order."""
    from minivae.datasets import FolderImages
    reads, read = [], FolderImages.__getitem__

    def spy(self, index):
        out = read(self, index)
        if not isinstance(index, (int, np.integer)):    # an int reads through a list
            reads.append(len(out))
        return out
    monkeypatch.setattr(FolderImages, "__getitem__", spy)
    return reads


def test_embedding_reads_and_encodes_its_images_in_bounded_batches(tmp_path, monkeypatch):
    """Issue 22: embedding and attribute read their whole --limit of images into memory at
    once. A folder's images are now read STREAM_BATCH at a time, and the codes are those
    of one pass over all of them."""
    from minivae import latent
    from minivae.datasets import load_spec
    from tests.test_cli_chapter3 import small_model
    folder = _png_folder(tmp_path / "images", 260)          # 234 training images
    ckpt = checkpoint.save(tmp_path / "m.npz", small_model("vae", (32, 32, 3), latent_dim=3))
    spec = parse_spec(f"folder:{folder}", None, 32)
    images = np.asarray(load_spec(spec, "train").images[:230])
    z, _ = latent.codes_and_draws(checkpoint.load(ckpt), images)
    reads = _spy_on_reads(monkeypatch)
    _, report = figures.embedding(ckpt, tmp_path / "e", limit=230, n=4, grid=3, dims=2,
                                  data=f"folder:{folder}", image_size=32, split="train")
    assert figures.STREAM_BATCH == 100 and reads == [100, 100, 30, 10]    # then the 10 shown
    assert report["codes"] == 230
    assert report["bounding_box"] == [b.tolist() for b in latent.bounding_box(z)]
    with pytest.raises(InputError, match=r"--limit 100,001 would keep 100,001 codes; "
                                         r"embedding encodes at most 100,000"):
        figures.embedding(tmp_path / "not-read.npz", limit=figures.MAX_CODES + 1)


def test_attribute_streams_its_batches_and_finds_the_same_vector(saved, tmp_path, monkeypatch,
                                                                  no_real_data):
    """The batches attribute now reads one at a time are the ones attribute_vector visits
    with all the images in memory (the same order from the same rng): the same vector.
    A class is named by a name, an index, or a list of them."""
    from minivae import attributes
    from minivae.datasets import load_sample
    x, y = load_sample("uint8")
    expected = attributes.attribute_vector(checkpoint.load(saved["vae"]), x[:300], y[:300] == 1,
                                           rng=np.random.default_rng(0))
    for positive in ("Trouser", 1, ["trouser"]):
        found, _ = figures.attribute(saved["vae"], tmp_path / "a", positive=positive, limit=300,
                                     factors=(0, 1), faces=2, verbose=0)
        np.testing.assert_array_equal(found.vector, expected.vector)
        assert found.n_positive == expected.n_positive


def test_attribute_reads_celeba_one_batch_at_a_time(tmp_path, monkeypatch):
    from minivae.datasets import standin
    from tests.test_cli_chapter3 import small_model
    faces, labels = standin.drawn_faces(40, np.random.default_rng(0))
    root = standin.write_celeba_layout(tmp_path / "celeba", faces, labels)
    ckpt = checkpoint.save(tmp_path / "faces.npz", small_model("vae", (64, 64, 3), latent_dim=4))
    reads = _spy_on_reads(monkeypatch)
    found, _ = figures.attribute(ckpt, tmp_path / "a", attribute="Blond_Hair", celeba=root,
                                 batch_size=8, tolerance=0.0, faces=3, factors=(0, 1), verbose=0)
    assert found.n_positive + found.n_negative == 40         # every face, never the tolerance
    assert reads == [8] * 5 + [3]                            # then the three faces moved
    with pytest.raises(DatasetError, match=r"has no attribute 'Blond'; it has .*Blond_Hair"):
        figures.attribute(ckpt, tmp_path / "b", attribute="Blond", celeba=root)


def test_write_figures_draws_what_a_single_image_allows(tmp_path, capsys):
    """Issue 22: a run on a folder of 10 or fewer images (one validation image) trained,
    saved, then failed on the figures. Each figure is drawn from what there is, or left
    out with one line saying why."""
    from minivae.datasets import Dataset
    from tests.test_cli_chapter3 import small_model
    one = Dataset(np.full((1, 32, 32, 3), 128, np.uint8), None, "x", False, "folder", "test",
                  None)
    history = History({"total_loss": [2.0, 1.0]}, [0, 1])
    for kind, d, drawn, notes in (
            ("vae", 3, ["reconstructions", "latent_grid", "samples", "loss_curves"],
             ["no latent_scatter.png: the validation data holds 1 image(s), and codes of 3 "
              "dimensions need two"]),
            ("ae", 3, ["reconstructions", "loss_curves"],
             ["no latent_scatter.png", "no latent_grid.png: the validation data holds 1 "
              "image(s), and an autoencoder's grid spans the spread of its codes"]),
            ("ae", 2, ["reconstructions", "latent_scatter", "loss_curves"],
             ["no latent_grid.png"]),
            ("vae", 1, ["reconstructions", "latent_scatter", "samples", "loss_curves"],
             ["no latent_grid.png: a 1-D latent space has no 2-D grid"])):
        out = tmp_path / f"{kind}{d}"
        out.mkdir()
        paths = figures.write_figures(small_model(kind, (32, 32, 3), latent_dim=d), out, one,
                                      history)
        assert [p.stem for p in paths] == drawn and all(p.exists() for p in paths)
        err = capsys.readouterr().err.splitlines()
        assert len(err) == len(notes), err
        assert all(line.startswith(f"minivae: {note}") for line, note in zip(err, notes)), err


def test_a_run_on_a_folder_of_five_images_ends_well(tmp_path, no_real_data, capsys):
    from minivae.cli import main
    folder = _png_folder(tmp_path / "five", 5, (20, 16, 3))
    out = tmp_path / "run"
    assert main(["train", "--model", "faces", "--data", f"folder:{folder}", "--out", str(out),
                 "--epochs", "1", "--batch-size", "4", "--quiet"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == [
        "latent_grid.png", "loss_curves.png", "reconstructions.png", "samples.png"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minivae: no latent_scatter.png"), err
