"""The stored notebooks: committed with the outputs of one clean run, top to bottom.

The notebooks are read on the repository's page as well as run, so what is stored must be what
the committed code printed: `python scripts/nbtools.py execute` writes it. These tests catch a
notebook saved half-run, run out of order, or holding an error.
"""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
STORED = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", STORED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_stored_outputs_hold_no_error(path):
    for number, cell in enumerate(code_cells(path), 1):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors, (f"{path.name}, code cell {number}, stores an error "
                            f"({errors[0].ename}: {errors[0].evalue}); fix it and re-run "
                            "`python scripts/nbtools.py execute`")


@pytest.mark.parametrize("path", STORED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cells_were_run_top_to_bottom(path):
    counts = [cell.get("execution_count") for cell in code_cells(path)]
    expected = list(range(1, len(counts) + 1))
    assert counts == expected, (
        f"{path.name} was not run top to bottom in one go (execution counts {counts}); re-run "
        f"`python scripts/nbtools.py execute {path.parent.name}/{path.name}`")


def test_the_test_catches_an_out_of_order_run(tmp_path):
    """The order test must fail on a notebook whose cells were run out of order."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1", execution_count=2),
                nbformat.v4.new_code_cell("2", execution_count=1)]
    path = tmp_path / "shuffled.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match="top to bottom"):
        test_cells_were_run_top_to_bottom(path)
