"""Notebook maintenance for the course: one script, three jobs.

    python scripts/nbtools.py sync [--check]      write the Colab setup cell into every notebook,
                                                  the Colab links into README.md, and the
                                                  docs' result sections (genaug.results_docs)
                                                  and docs/teaching.md's notebook times
    python scripts/nbtools.py exercises [--check] regenerate exercises/ from solutions/
    python scripts/nbtools.py execute [--full] [NOTEBOOK ...]
                                                  run notebooks top to bottom, store their outputs

``--check`` changes nothing and exits 1 when a file is stale (the tests call it that way).
The repository's address lives in ``genaug.config.REPO_URL``; ``sync`` copies it into the
notebooks' first cells and into README.md's table of Colab links.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from genaug.config import REPO_URL  # noqa: E402

FOLDERS = ("notebooks", "solutions", "exercises")
TIMES_FILE = ROOT / "docs" / "notebook_times.json"
SETUP_CELL = f"""\
# Setup: on Colab this installs the course package (a no-op where it is installed),
# then seeds everything and picks the fastest device (CUDA, Apple MPS, or the CPU).
import importlib.util, subprocess, sys
if importlib.util.find_spec("genaug") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+{REPO_URL}"], check=True)
import genaug
device = genaug.setup(seed=0)"""
SOLUTION_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\n(?P<body>.*?)^[ \t]*# END SOLUTION\n?", re.M | re.S
)
HINT = re.compile(r"^[ \t]*# HINT: (?P<hint>.+)$", re.M)
README = ROOT / "README.md"
DIAGRAMS = ROOT / "docs" / "diagrams"
ATTACHED = re.compile(r"\(attachment:([\w-]+\.png)\)")  # a diagram shown from the cell itself
LINKS_START, LINKS_END = "<!-- colab-links:start -->", "<!-- colab-links:end -->"
PRETRAINED_START, PRETRAINED_END = "<!-- pretrained:start -->", "<!-- pretrained:end -->"
TIMES_START, TIMES_END = "<!-- times:start -->", "<!-- times:end -->"
PERCENT = ("test accuracy", "class accuracy", "precision", "recall", "largest class share",
           "judge on real test images")


def notebook_paths(folders=FOLDERS) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).glob("*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write in a stable, diff-friendly form: fixed cell ids, no volatile metadata."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:02d}"
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items()
                            if k in ("tags",)}
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        **({"genaug": nb.metadata["genaug"]} if "genaug" in nb.metadata else {}),
    }
    text = nbformat.writes(nb)
    path.write_text(text if text.endswith("\n") else text + "\n")


def first_code_cell(nb):
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def sync(check: bool) -> int:
    """Make every notebook's first code cell the Colab setup cell, and embed its diagrams."""
    stale = []
    for path in notebook_paths():
        nb = read(path)
        cell = first_code_cell(nb)
        setup_stale = cell is not None and cell.source != SETUP_CELL
        if setup_stale and not check:
            cell.source = SETUP_CELL
        if _embed_diagrams(nb) or setup_stale:
            stale.append(path)
            if not check:
                write(nb, path)
    for path in stale:
        print(f"{'stale' if check else 'updated'} setup cell or diagram: {path.relative_to(ROOT)}")
    readme_stale = _sync_sections(check)
    docs_stale = _sync_results_docs(check)
    return 1 if (check and (stale or readme_stale or docs_stale)) else 0


def _sync_results_docs(check: bool) -> list[str]:
    """Rewrite the docs' generated result sections from results/; the docs that were stale."""
    from genaug.results_docs import sync_docs  # here: it imports torch and matplotlib

    stale = sync_docs(ROOT, check)
    for name in stale:
        print(f"{'stale' if check else 'updated'}: {name} result sections")
    return stale


def _embed_diagrams(nb: nbformat.NotebookNode) -> bool:
    """Attach docs/diagrams/<name>.png to each markdown cell that shows ``attachment:<name>``,
    so a diagram renders offline, on Colab and before the repository is public; True if any
    attachment was missing or stale (and is now replaced)."""
    changed = False
    for cell in nb.cells:
        names = ATTACHED.findall(cell.source) if cell.cell_type == "markdown" else []
        wanted = {n: {"image/png": base64.b64encode((DIAGRAMS / n).read_bytes()).decode()}
                  for n in names}
        if wanted and cell.get("attachments") != wanted:
            cell["attachments"], changed = wanted, True
    return changed


def colab_table() -> str:
    """A Markdown table of every notebook with its 'Open in Colab' link."""
    colab = REPO_URL.replace("https://github.com/", "https://colab.research.google.com/github/")
    lines = ["| notebook | what it is | Colab |", "|---|---|---|"]
    for path in notebook_paths(("notebooks", "exercises", "solutions")):
        title = next((line.lstrip("# ").strip() for cell in read(path).cells
                      if cell.cell_type == "markdown" for line in cell.source.splitlines()
                      if line.startswith("# ")), path.stem)
        rel = path.relative_to(ROOT).as_posix()
        lines.append(f"| [`{rel}`]({rel}) | {title} | "
                     f"[Open in Colab]({colab}/blob/main/{rel}) |")
    return "\n".join(lines)


def pretrained_table() -> str:
    """A Markdown table of the shipped full-recipe models, read from their records."""
    from genaug import pretrained

    lines = ["| model | notebook | steps | trained in | on | measured quality |",
             "|---|---|---|---|---|---|"]
    for name in pretrained.available():
        facts = pretrained.record(name)
        # two decimals for the judge: 89.95% must not print as a 90.0% it did not reach
        quality = ", ".join(f"{k} {v:.{2 if k == 'test accuracy' else 1}%}" if k in PERCENT
                            else f"{k} {v:.3g}" for k, v in facts.get("quality", {}).items())
        lines.append(f"| `{name}` | {facts['notebook']} | {facts['recipe']['steps']:,} | "
                     f"{facts['wall_seconds'] / 60:.0f} min | {facts['hardware']} | {quality} |")
    return "\n".join(lines)


def times_table() -> str:
    """A Markdown table of each notebook's quick-mode wall time from docs/notebook_times.json,
    with the date its stored outputs were made, and each folder's total."""
    times = json.loads(TIMES_FILE.read_text()).get("quick", {}) if TIMES_FILE.is_file() else {}
    lines = ["| notebook | quick mode | on | outputs stored |", "|---|---|---|---|"]
    for folder in ("notebooks", "solutions"):
        paths = notebook_paths((folder,))
        for path in paths:
            rel = path.relative_to(ROOT).as_posix()
            entry = times.get(rel)
            took = f"{entry['seconds']:.0f} s | {entry['device']}" if entry else "not recorded |"
            date = read(path).metadata.get("genaug", {}).get("date", "not recorded")
            lines.append(f"| `{rel}` | {took} | {date} |")
        recorded = [times[p.relative_to(ROOT).as_posix()]["seconds"] for p in paths
                    if p.relative_to(ROOT).as_posix() in times]
        lines.append(f"| all of `{folder}/` | {sum(recorded) / 60:.1f} min "
                     f"({len(recorded)} of {len(paths)} recorded) | | |")
    return "\n".join(lines)


def _sync_sections(check: bool) -> bool:
    """Rewrite the generated sections between their markers in README.md and docs/teaching.md;
    True if one was stale."""
    stale = False
    for path, sections in DOC_SECTIONS.items():
        text = path.read_text() if path.is_file() else ""
        new = text
        for (start, end), make in sections.items():
            if start in new:
                head, rest = new.split(start, 1)
                _, tail = rest.split(end, 1)
                new = f"{head}{start}\n{make()}\n{end}{tail}"
        if new != text:
            stale = True
            print(f"{'stale' if check else 'updated'}: {path.relative_to(ROOT)}'s generated "
                  "sections")
            if not check:
                path.write_text(new)
    return stale


def to_exercise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Replace every solution block with a stub that raises NotImplementedError and its hint."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # a deep copy
    nb.metadata.pop("genaug", None)  # an exercise is never executed: no "executed_in_mode"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue

        def stub(match: re.Match) -> str:
            hint = HINT.search(match["body"])
            message = hint["hint"] if hint else "complete this part"
            return f'{match["indent"]}raise NotImplementedError({("Exercise: " + message)!r})\n'

        cell.source = SOLUTION_BLOCK.sub(stub, cell.source)
        cell.outputs, cell.execution_count = [], None
    return nb


def exercises(check: bool) -> int:
    """Regenerate exercises/ from solutions/ (``--check``: only report what is stale)."""
    stale = []
    wanted = set()
    for source in notebook_paths(("solutions",)):
        target = ROOT / "exercises" / source.name
        wanted.add(target)
        exercise = to_exercise(read(source))
        if not target.is_file() or nbformat.writes(read(target)) != nbformat.writes(
                _normalised(exercise)):
            stale.append(target)
            if not check:
                target.parent.mkdir(exist_ok=True)
                write(exercise, target)
    orphans = [p for p in notebook_paths(("exercises",)) if p not in wanted]
    for path in stale + orphans:
        print(f"{'stale' if check else 'updated'}: {path.relative_to(ROOT)}")
    if not check:
        for path in orphans:
            path.unlink()
    return 1 if (check and (stale or orphans)) else 0


def _normalised(nb):
    """``nb`` as ``write`` would store it, for comparing with a file on disk."""
    tmp = ROOT / ".nbtools-compare.ipynb"
    try:
        write(nb, tmp)
        return read(tmp)
    finally:
        tmp.unlink(missing_ok=True)


def execute(paths: list[Path], full: bool, timeout: int, times_file: Path = TIMES_FILE) -> int:
    """Run notebooks top to bottom in their folder, store outputs, and record the wall time."""
    from nbclient import NotebookClient

    os.environ["GENAUG_QUICK"] = "0" if full else "1"
    os.environ["GENAUG_PROGRESS"] = "0"  # progress bars would clutter the stored outputs
    os.environ.pop("MPLBACKEND", None)  # Agg would keep the figures out of the stored outputs
    os.environ.setdefault("GENAUG_DOWNLOAD", "0")
    # the kernels import this checkout's genaug, not another copy installed elsewhere
    paths_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), paths_before]))
    mode = "full" if full else "quick"
    times = json.loads(times_file.read_text()) if times_file.is_file() else {}
    failures = 0
    for path in paths or notebook_paths(("notebooks", "solutions")):
        path = path.resolve()
        name = os.path.relpath(path, ROOT)  # "../x" for a copy outside the tree (a dry run's)
        nb = read(path)
        start = time.perf_counter()
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        except Exception as error:  # keep going: report every broken notebook in one run
            failures += 1  # and keep its last good outputs and time: an error is not a result
            print(f"FAILED {name}: {type(error).__name__}: {str(error)[-800:]}")
            continue
        seconds = time.perf_counter() - start
        device = _device_name()
        nb.metadata["genaug"] = {"executed_in_mode": mode, "device": device,
                                 "date": time.strftime("%Y-%m-%d")}
        write(nb, path)
        times.setdefault(mode, {})[name] = {
            "seconds": round(seconds, 1), "device": device}
        print(f"{name}: {seconds:.0f} s ({mode} mode, {device})", flush=True)
    times_file.parent.mkdir(exist_ok=True)
    times_file.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    return 1 if failures else 0


def _device_name() -> str:
    from genaug.device import describe, get_device

    return describe(get_device())


DOC_SECTIONS = {README: {(LINKS_START, LINKS_END): colab_table,
                         (PRETRAINED_START, PRETRAINED_END): pretrained_table},
                ROOT / "docs" / "teaching.md": {(TIMES_START, TIMES_END): times_table}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    sub = parser.add_subparsers(dest="job", required=True)
    for job in ("sync", "exercises"):
        sub.add_parser(job, allow_abbrev=False).add_argument("--check", action="store_true")
    run = sub.add_parser("execute", allow_abbrev=False)
    run.add_argument("paths", nargs="*", type=Path)
    run.add_argument("--full", action="store_true", help="full mode (a GPU is advised)")
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    run.add_argument("--times", type=Path, default=TIMES_FILE, help="where to record times")
    args = parser.parse_args()
    if args.job == "sync":
        return sync(args.check)
    if args.job == "exercises":
        return exercises(args.check)
    return execute(args.paths, args.full, args.timeout, args.times)


if __name__ == "__main__":
    sys.exit(main())
