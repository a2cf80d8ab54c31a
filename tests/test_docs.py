"""The teacher's kit: answers for every question, diagrams that exist and can be redrawn.

- docs/answers.md has, under a "## NN ..." heading per notebook, one numbered answer for each
  question in that notebook's "Questions to think about" section, numbered 1, 2, ... in order.
- Every diagram a notebook or a doc shows (a link containing ``diagrams/<name>.png``, or a
  notebook's ``attachment:<name>.png``) is a file in docs/diagrams/ that git tracks, and a
  notebook carries it as a cell attachment with exactly that file's bytes (so it renders
  offline, on Colab and before the repository is public).
- docs/diagrams/make_diagrams.py runs and writes every PNG it claims, at the stated size, and
  the PNGs in docs/diagrams/ are exactly the ones it draws, each shown somewhere.
- The result figures of README.md, results/README.md and docs/ are generated from the results
  folder each cites (genaug.results_docs), and none is stale; what their prose still says about
  a folder (a seed count, a chosen or fixed share, a quoted interval) agrees with that folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from genaug.results_docs import DOCS as RESULT_DOCS
from genaug.results_docs import prose_problems, regenerate, sync_docs

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ANSWERS = ROOT / "docs" / "answers.md"
DIAGRAMS = ROOT / "docs" / "diagrams"
SCRIPT = DIAGRAMS / "make_diagrams.py"
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
ITEM = re.compile(r"^(\d+)\.\s")  # a numbered list item at the start of a line
HEADING = re.compile(r"^#{1,6}\s")
QUESTIONS = re.compile(r"^#{1,6}\s+Questions to think about\s*$", re.I)
DIAGRAM_LINK = re.compile(r"(?:[\w./:-]*diagrams/|attachment:)([\w-]+\.png)")


def markdown_of(path: Path) -> str:
    """A notebook's markdown cells, joined; or a Markdown file's text."""
    if path.suffix != ".ipynb":
        return path.read_text()
    cells = json.loads(path.read_text())["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def numbered_items(lines: list[str]) -> list[int]:
    """The numbers of the numbered list items in ``lines`` (nested items are indented: skipped)."""
    return [int(m[1]) for line in lines if (m := ITEM.match(line))]


def notebook_questions(path: Path) -> list[int] | None:
    """The question numbers under "Questions to think about", or None without such a section."""
    lines = markdown_of(path).splitlines()
    starts = [i for i, line in enumerate(lines) if QUESTIONS.match(line)]
    if not starts:
        return None
    assert len(starts) == 1, f"{path.name} has {len(starts)} 'Questions to think about' sections"
    body = lines[starts[0] + 1:]
    end = next((i for i, line in enumerate(body) if HEADING.match(line)), len(body))
    return numbered_items(body[:end])


def answer_sections() -> dict[str, list[int]]:
    """Notebook number ("00", "01", ...) -> the answer numbers under its "## NN" heading."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in ANSWERS.read_text().splitlines():
        if line.startswith("## "):
            match = re.match(r"## (\d\d)\b", line)
            current = match[1] if match else None
            if current:
                assert current not in sections, f"docs/answers.md has two sections '## {current}'"
                sections[current] = []
        elif current:
            sections[current].append(line)
    return {number: numbered_items(lines) for number, lines in sections.items()}


def test_every_question_has_an_answer():
    answers = answer_sections()
    asked = {}
    for path in NOTEBOOKS:
        questions = notebook_questions(path)
        if questions is None:
            continue
        number = path.name[:2]
        asked[number] = questions
        assert questions == list(range(1, len(questions) + 1)), (
            f"{path.name}: its questions are numbered {questions}, expected 1..{len(questions)}")
        assert number in answers, (
            f"docs/answers.md has no section '## {number} ...' for {path.name}'s "
            f"{len(questions)} questions: add one, with a numbered answer per question")
        assert answers[number] == questions, (
            f"{path.name} asks {len(questions)} questions but docs/answers.md's section "
            f"'## {number}' has the answers numbered {answers[number]}: one numbered answer per "
            "question, in the notebook's order")
    orphans = sorted(set(answers) - set(asked))
    assert not orphans, (
        f"docs/answers.md answers notebooks that ask nothing (or are gone): {orphans}")
    assert asked, "no notebook has a 'Questions to think about' section"


def test_the_counting_catches_a_missing_answer(tmp_path):
    """The parser must see the difference between 3 questions and 2 answers."""
    assert numbered_items(["1. a", "   more of a", "2. b", "   1. nested, skipped", "3. c"]) == [
        1, 2, 3]
    notebook = tmp_path / "99_probe.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": [
        "## Recap\n", "\n", "1. not a question\n", "\n", "## Questions to think about\n", "\n",
        "1. one?\n", "2. two?\n", "   still two\n", "3. three?\n"]}]}))
    assert notebook_questions(notebook) == [1, 2, 3]


def linked_diagrams() -> dict[str, list[str]]:
    """Each diagram file name linked from a notebook or a doc -> the places that link it."""
    found: dict[str, list[str]] = {}
    for path in NOTEBOOKS + DOCS:
        for match in DIAGRAM_LINK.finditer(markdown_of(path)):
            assert not match[0].startswith("http"), (
                f"{path.relative_to(ROOT)} loads {match[0]} from the network: link the file in "
                "docs/diagrams/ (a notebook attaches it: `python scripts/nbtools.py sync`)")
            found.setdefault(match[1], []).append(str(path.relative_to(ROOT)))
    return found


def git_tracks(path: Path) -> bool | None:
    """Whether git tracks ``path``; None where there is no git repository to ask."""
    try:
        run = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=ROOT,
                             capture_output=True, text=True)
    except FileNotFoundError:
        return None
    if "not a git repository" in run.stderr:
        return None
    return run.returncode == 0


def test_every_linked_diagram_exists_and_is_committed():
    linked = linked_diagrams()
    assert linked, "no notebook or doc shows a diagram from docs/diagrams/"
    for name, places in sorted(linked.items()):
        path = DIAGRAMS / name
        assert path.is_file(), (f"{', '.join(places)} show(s) {name}, which is not in "
                                "docs/diagrams/: add it to make_diagrams.py and run it")
        tracked = git_tracks(path)
        if tracked is None:
            pytest.skip("not a git checkout: cannot check that the diagrams are committed")
        assert tracked, (f"docs/diagrams/{name} is shown by {', '.join(places)} but git does not "
                         f"track it: git add it")


def load_script():
    spec = importlib.util.spec_from_file_location("make_diagrams", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG file"
    return struct.unpack(">II", head[16:24])


def test_make_diagrams_writes_every_png_it_claims(tmp_path):
    claimed = sorted(f"{name}.png" for name in load_script().DIAGRAMS)
    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, f"make_diagrams.py failed:\n{run.stderr[-2000:]}"
    written = sorted(p.name for p in tmp_path.glob("*.png"))
    assert written == claimed, f"make_diagrams.py claims {claimed} but wrote {written}"
    for name in written:
        width, height = png_size(tmp_path / name)
        assert (width, height) == (900, 400), f"{name} is {width}x{height}, expected 900x400"


def test_the_committed_diagrams_are_the_drawn_ones_and_all_shown():
    claimed = {f"{name}.png" for name in load_script().DIAGRAMS}
    present = {p.name for p in DIAGRAMS.glob("*.png")}
    assert present == claimed, (
        f"docs/diagrams/ holds {sorted(present - claimed)} that make_diagrams.py does not draw "
        f"and lacks {sorted(claimed - present)}: run it, and delete the stale files")
    unshown = sorted(claimed - set(linked_diagrams()))
    assert not unshown, f"diagrams no notebook or doc shows: {unshown}"


def test_notebooks_carry_the_diagrams_they_show():
    """A notebook shows its diagrams from its own cells, byte for byte the docs/diagrams files."""
    import base64

    shown = 0
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            for name in re.findall(r"\(attachment:([\w-]+\.png)\)", "".join(cell["source"])):
                carried = cell.get("attachments", {}).get(name, {}).get("image/png", "")
                assert base64.b64decode(carried) == (DIAGRAMS / name).read_bytes(), (
                    f"{path.name} shows {name} but carries another picture or none: run "
                    "`python scripts/nbtools.py sync`")
                shown += 1
            assert "raw.githubusercontent" not in "".join(cell["source"]), (
                f"{path.name} loads a picture from the network: attach it instead")
    assert shown >= 6, f"only {shown} diagrams are shown from notebooks"


def test_the_generated_result_sections_are_not_stale():
    stale = sync_docs(ROOT, check=True)
    assert not stale, (f"the result sections of {stale} differ from their results folders: run "
                       "`python scripts/nbtools.py sync`")
    texts = [(ROOT / name).read_text() for name in RESULT_DOCS]
    assert sum(t.count("<!-- results:fashion_mnist-cpu-arms:") for t in texts) >= 5


def test_a_stale_section_is_caught():
    fresh = ("<!-- results:fashion_mnist-cpu:setup -->\n"
             "`results/fashion_mnist-cpu/`: 20 seeds\n<!-- results:end -->")
    assert regenerate(fresh, ROOT) != fresh and "3 seeds" in regenerate(fresh, ROOT)
    assert regenerate(regenerate(fresh, ROOT), ROOT) == regenerate(fresh, ROOT)


def test_prose_agrees_with_the_results_folder_it_cites():
    problems = [f"{name}: {p}" for name in RESULT_DOCS
                for p in prose_problems((ROOT / name).read_text(), ROOT)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("prose, found", [
    ("`results/fashion_mnist-cpu-arms/` (5 seeds, the share fixed at 0.25): cgan -0.1 "
     "[-1.4, +1.2] points.", 0),
    ("`results/fashion_mnist-cpu-arms/` ran three seeds.", 1),
    ("In `fashion_mnist-cpu-arms/` the generated share was chosen on validation.", 1),
    ("In `fashion_mnist-cpu/` the generated share is fixed at 0.25.", 1),
    ("In `fashion_mnist-cpu/` cGAN rebalancing raised recall by +6.2 [+0.02, +12.4].", 0),
    ("In `fashion_mnist-cpu/` cGAN rebalancing raised recall by +6.2 [+0.0002, +12.4].", 1),
    ("In `fashion_mnist-cpu/` oversampling beat cGAN: +1.5 [-7.3, +10.4]; cVAE +9.9 [+1.0, "
     "+2.0].", 1),  # the first is cgan's -1.5 [-10.4, +7.3] read the other way round
    ("`fashion_mnist-cpu/` had 3 seeds, `fashion_mnist-cpu-arms/` 5 seeds.", 0),
    ("`fashion_mnist-cpu/` had 5 seeds, `fashion_mnist-cpu-arms/` 3 seeds.", 2),
    ("A run elsewhere used 7 seeds.", 0),  # no folder named: nothing to check against
])
def test_the_prose_check_catches_planted_disagreements(prose, found):
    assert len(prose_problems(prose, ROOT)) == found, prose_problems(prose, ROOT)


def test_the_pools_block_lists_a_pool_once_though_both_modes_draw_from_it():
    from genaug.experiment import preset, runner
    from genaug.results_docs import BLOCKS

    pool = {"pool_class_accuracy": 0.5, "pool_frechet": 6.0, "pool_precision": 0.7,
            "pool_recall": 0.1}
    runs = [{"budget": 10, "seed": s, "method": m, **pool}
            for s in range(3) for m in ("cgan", "cgan@add")]
    rows = [{"budget": 10, "method": m} for m in ("none", "cgan", "cgan@add")]
    results = runner.Results(preset("digits"), None, {}, runs, [], [], rows, [])
    table = BLOCKS["pools"](results, {}, rows)
    assert table.count("| 10 | cgan |") == 1 and "cgan@add" not in table
