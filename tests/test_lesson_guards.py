"""A lesson guard must be able to fail: plant a collapsed model's numbers into notebook 03's
guard cells, or an untrained model's into notebook 08's guard on the shipped model, and watch
them stop the notebook (nbval would then fail CI)."""

from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import torch

from genaug import pick

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK = NOTEBOOKS / "03_conditional_vae.ipynb"


def guard_cell(marker: str, notebook: Path = NOTEBOOK) -> str:
    """The source of the one code cell of ``notebook`` that holds ``marker``."""
    cells = [c.source for c in nbformat.read(notebook, as_version=4).cells
             if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"expected one cell with {marker!r}, found {len(cells)}"
    return cells[0]


def test_the_kl_guard_stops_a_collapsed_cvae():
    cell = guard_cell("the CVAE has collapsed")
    healthy = {"before": {"loss": 300.0}, "after": {"loss": 250.0, "kl": 3.3}, "pick": pick}
    exec(cell, healthy)  # the stored run's kind of numbers pass
    collapsed = {**healthy, "after": {"loss": 250.0, "kl": 0.0}}  # KL 0: z carries nothing
    with pytest.raises(AssertionError, match="collapsed"):
        exec(cell, collapsed)


def _grid_namespace(grid: torch.Tensor, n_styles: int, k: int) -> dict:
    labels = torch.arange(k).repeat(n_styles)
    test = SimpleNamespace(images=torch.rand(len(labels), 1, 28, 28), labels=labels)
    return {"grid": grid, "n_styles": n_styles, "K": k, "test": test, "torch": torch,
            "after": {"kl": 3.0}}


def test_the_style_grid_guard_stops_identical_rows():
    cell = guard_cell("z carries no style (collapse)")
    n_styles, k = 4, 10
    exec(cell, _grid_namespace(torch.rand(n_styles * k, 1, 28, 28), n_styles, k))
    one_row = torch.rand(1, k, 1, 28, 28).expand(n_styles, k, 1, 28, 28)  # every style the same
    with pytest.raises(AssertionError, match="no style"):
        exec(cell, _grid_namespace(one_row.reshape(n_styles * k, 1, 28, 28), n_styles, k))


def test_the_pretrained_guard_stops_an_untrained_model_shown_as_the_full_recipe():
    from genaug.metrics import class_accuracy
    from genaug.pretrained import build, load, record
    from genaug.synthetic import labelled_batch

    cell = guard_cell("the shipped diffusion model's samples are recognised only",
                      NOTEBOOKS / "08_diffusion.ipynb")
    judge = load("judge")
    untrained = build("diffusion", image_size=28, channels=1, n_classes=10).eval()
    images, labels = labelled_batch(untrained, n=50, seed=0)

    def namespace(accuracy: float, recall: float = 0.0) -> dict:
        return {"quality": {"full recipe, pretrained": {"class accuracy": accuracy,
                                                        "recall": recall},
                            "trained above": {"class accuracy": 0.5, "recall": 0.0}},
                "scores": {"real test images": {"accuracy": 0.91}}, "pick": pick}

    shipped = record("diffusion")["quality"]
    exec(cell, namespace(shipped["class accuracy"], shipped["recall"]))  # shipped: passes
    with pytest.raises(AssertionError, match="retrain it"):
        exec(cell, namespace(class_accuracy(judge, images, labels)))
