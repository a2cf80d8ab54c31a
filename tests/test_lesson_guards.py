"""A lesson guard must be able to fail: plant a collapsed model's numbers into notebook 03's
guard cell and watch it stop the notebook (nbval would then fail CI)."""

from pathlib import Path

import nbformat
import pytest

from genaug import pick

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_conditional_vae.ipynb"


def guard_cell(marker: str) -> str:
    """The source of the one code cell that holds ``marker``."""
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells
             if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"expected one cell with {marker!r}, found {len(cells)}"
    return cells[0]


def test_the_cvae_guard_stops_a_collapsed_model():
    cell = guard_cell('assert after["kl"] > 1')
    healthy = {"before": {"loss": 300.0}, "after": {"loss": 250.0, "kl": 3.3}, "pick": pick}
    exec(cell, healthy)  # the stored run's kind of numbers pass
    collapsed = {**healthy, "after": {"loss": 250.0, "kl": 0.0}}  # KL 0: z carries nothing
    with pytest.raises(AssertionError, match="collapsed"):
        exec(cell, collapsed)
