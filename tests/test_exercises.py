"""The exercise notebooks: generated from solutions/, current, and stopping at their first stub.

Each exercise notebook is run (in quick mode) only up to the check cell of its first task:
everything before it must run cleanly, and that check must say "not done yet" (NotDoneYet, a
NotImplementedError) because the stub above it still raises NotImplementedError.
"""

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import nbtools  # noqa: E402  (scripts/nbtools.py: the exercises and sync jobs)

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = [ROOT / "exercises" / p.name for p in SOLUTIONS]


def code_cells(path: Path) -> list[tuple[int, str]]:
    """(index, source) of each code cell."""
    nb = nbformat.read(path, as_version=4)
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def first_check_after_stub(path: Path) -> int:
    """Index of the first cell that calls a genaug check after the first stub's cell."""
    cells = code_cells(path)
    stub = next(i for i, src in cells if "raise NotImplementedError(" in src)
    return next(i for i, src in cells if i > stub and "check_" in src)


def test_every_solution_has_an_exercise():
    assert len(SOLUTIONS) >= 7, f"expected the seven exercise notebooks, found {len(SOLUTIONS)}"
    on_disk = sorted((ROOT / "exercises").glob("*.ipynb"))
    assert on_disk == EXERCISES, "exercises/ and solutions/ hold different notebooks"


def test_exercises_are_current(capsys):
    stale = nbtools.exercises(check=True)
    assert stale == 0, ("exercises/ is stale; run `python scripts/nbtools.py exercises`:\n"
                        + capsys.readouterr().out)


def test_setup_cells_are_current(capsys):
    stale = nbtools.sync(check=True)
    assert stale == 0, ("setup cells (or README's Colab links) are stale; run "
                        "`python scripts/nbtools.py sync`:\n" + capsys.readouterr().out)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_blocks_are_followed_by_a_check(path):
    cells = code_cells(path)
    blocks = [k for k, (_, src) in enumerate(cells) if "# BEGIN SOLUTION" in src]
    assert blocks, f"{path.name} has no # BEGIN SOLUTION block"
    for k in blocks:
        index, source = cells[k]
        assert source.count("# BEGIN SOLUTION") == source.count("# END SOLUTION"), \
            f"cell {index} of {path.name}: a BEGIN SOLUTION without its END SOLUTION"
        assert source.count("# HINT: ") >= source.count("# BEGIN SOLUTION"), \
            f"cell {index} of {path.name}: every solution block needs a # HINT: line"
        following = cells[k + 1][1] if k + 1 < len(cells) else ""
        assert "check_" in following or "# BEGIN SOLUTION" in following, \
            f"cell {index} of {path.name} is not followed by a genaug.checks call"


def run_until_first_checks(paths: list[Path]) -> dict[str, dict]:
    """Run each exercise up to its first task's check; report where each stopped and why.

    One kernel serves all of them, with the namespace cleared (%reset) before each, so the
    imports are paid once; each notebook still runs from its own setup cell.
    """
    combined, sections = nbformat.v4.new_notebook(), []
    for path in paths:
        stop = first_check_after_stub(path)
        cells = [nbformat.v4.new_code_cell("%reset -f")]
        cells += nbformat.read(path, as_version=4).cells[: stop + 1]
        sections.append((path.name, len(combined.cells), stop, cells))
        combined.cells += cells
    client = NotebookClient(combined, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "exercises")}})
    runs = {}
    with client.setup_kernel(env={**os.environ, "OMP_NUM_THREADS": "1"}):
        for name, first, stop, cells in sections:
            runs[name] = {"stop": stop, "failed": None, "ename": None, "evalue": None}
            for offset, cell in enumerate(cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, first + offset)
                except CellExecutionError as error:  # offset - 1: the %reset cell came first
                    runs[name].update(failed=offset - 1, ename=error.ename, evalue=error.evalue)
                    break
    return runs


@pytest.fixture(scope="module")
def exercise_runs() -> dict[str, dict]:
    return run_until_first_checks(EXERCISES)


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_exercise_stops_at_its_first_stub(path, exercise_runs):
    run = exercise_runs[path.name]
    assert run["failed"] is not None, f"{path.name} ran its first check without an error"
    assert run["failed"] == run["stop"], (
        f"{path.name} failed in cell {run['failed']} before reaching its first check "
        f"(cell {run['stop']}): {run['ename']}: {run['evalue']}")
    assert run["ename"] == "NotDoneYet" and run["evalue"].startswith("not done yet"), \
        f"{path.name}: the first check should say 'not done yet', got {run['ename']}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_each_exercise_ends_with_a_checked_stretch_task(path):
    """One "## Stretch task" section before the recap, with a gap to fill and its own check."""
    cells = nbformat.read(path, as_version=4).cells
    starts = [i for i, c in enumerate(cells)
              if c.cell_type == "markdown" and c.source.startswith("## Stretch task")]
    recap = next(i for i, c in enumerate(cells) if c.cell_type == "markdown"
                 and c.source.startswith("## Recap"))
    assert len(starts) == 1 and starts[0] < recap, \
        f"{path.name}: expected one '## Stretch task' section before '## Recap'"
    code = [c.source for c in cells[starts[0]:recap] if c.cell_type == "code"]
    assert any("# BEGIN SOLUTION" in src for src in code), \
        f"{path.name}: the stretch task has no solution block for the exercise to blank"
    assert any(src.startswith("check_") for src in code), \
        f"{path.name}: the stretch task has no genaug.checks call"


def test_execute_keeps_a_failing_notebooks_last_good_outputs(tmp_path, monkeypatch):
    for name in ("GENAUG_QUICK", "GENAUG_PROGRESS", "GENAUG_DOWNLOAD", "MPLBACKEND"):
        monkeypatch.delenv(name, raising=False)  # restored after the test: execute sets them
    monkeypatch.setattr(nbtools, "ROOT", tmp_path)
    path, times = tmp_path / "broken.ipynb", tmp_path / "times.json"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('no')")])
    nbtools.write(nb, path)
    before = path.read_text()
    assert nbtools.execute([path], full=False, timeout=120, times_file=times) == 1
    assert path.read_text() == before, "an error was stored as the notebook's output"
    assert "broken.ipynb" not in times.read_text(), "a failed run's time was recorded"
