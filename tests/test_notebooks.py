"""The book's chapter-3 notebooks (notebooks/*.ipynb) run top to bottom on minivae.

Each is executed in a fresh kernel with MINIVAE_NOTEBOOK_QUICK=1 (small data, one
epoch) on the embedded sample, CelebA hidden (the faces notebook writes its
stand-in); any error in any cell fails the test. The runner is the `notebooks`
extra (nbclient, ipykernel, nbformat): without it the tests skip, saying so.
"""

import importlib.util
import os
from pathlib import Path

import pytest

from tests.conftest import hide_real_data

REASON = ("the notebook runner is not installed: pip install -e '.[notebooks]' (nbclient, "
          "ipykernel, nbformat)")
nbformat = pytest.importorskip("nbformat", reason=REASON)
nbclient = pytest.importorskip("nbclient", reason=REASON)
pytest.importorskip("ipykernel", reason=REASON)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("01_autoencoder", "02_vae_fashion", "03_vae_faces")
# What each notebook shows, as PNGs written to its working folder's figures/.
FIGURES = {
    "01_autoencoder": ("train", "reconstructions", "embedding", "embedding_labels",
                       "box_samples", "grid"),
    "02_vae_fashion": ("train", "reconstructions", "embedding", "prior_samples", "p_space",
                       "grid"),
    "03_vae_faces": ("train", "reconstructions", "histograms", "generated", "add_vector",
                     "morph"),
}


def test_the_notebooks_are_the_ones_the_tool_writes():
    """notebooks/ holds what tools/make_notebooks.py writes: edit the tool, not the files."""
    spec = importlib.util.spec_from_file_location("make_notebooks",
                                                  ROOT / "tools" / "make_notebooks.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")) == list(NOTEBOOKS)
    for name, cells in zip(NOTEBOOKS, (tool.autoencoder(), tool.vae_fashion(), tool.vae_faces())):
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        assert [(c.cell_type, c.source) for c in nb.cells] == \
            [("markdown" if kind == "md" else "code", source) for kind, source in cells], name
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    import matplotlib

    (tmp_path / "home").mkdir()         # IPython writes its profile there
    hide_real_data(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("MINIVAE_NOTEBOOK_QUICK", "1")
    monkeypatch.delenv("MINIVAE_CELEBA", raising=False)
    # The kernel inherits this environment: minivae from this tree, and matplotlib's
    # font cache from this process (a fresh HOME would rebuild it in every kernel).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    monkeypatch.setenv("MPLCONFIGDIR", matplotlib.get_cachedir())
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    work = tmp_path / "work"
    work.mkdir()
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(work)}})
    client.execute()            # raises CellExecutionError, naming the cell, on any error
    for figure in FIGURES[name]:
        assert (work / "figures" / f"{figure}.png").stat().st_size > 1000, figure
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
