"""Result figures in the docs, generated from the results folder each one cites.

A doc holds a generated section between two markers, the first naming a folder of ``results/``
and a block (and, optionally, which budgets and methods to show):

    <!-- results:fashion_mnist-cpu-arms:verdicts budget=10 -->
    ...Markdown written from runs.csv and config.json...
    <!-- results:end -->

``python scripts/nbtools.py sync`` rewrites every section of :data:`DOCS` from the folder's CSV
files and ``config.json``; ``sync --check`` (and tests/test_docs.py) fails on a stale one, so a
figure inside a section cannot drift from the run it cites. Prose outside the sections states
results in words; the same test checks what prose still says about a folder (its seed count, a
fixed or chosen share, any interval it quotes) against that folder.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from statistics import mean
from typing import Callable

from genaug.experiment import Results, load_results
from genaug.report import IMBALANCE_COLUMNS, imbalance_rows, percent_with_ci, settings_note
from genaug.verdicts import gain_text, judge, p_number, primary_comparisons, reference_comparisons

DOCS = ("README.md", "results/README.md", "docs/answers.md", "docs/teaching.md",
        "docs/article_vs_measured.md")
START = re.compile(r"<!-- results:(?P<folder>[\w.-]+):(?P<block>[\w-]+)"
                   r"(?P<args>(?: [a-z]+=[\w.,@+-]+)*) -->")
END = "<!-- results:end -->"


def _table(rows: list[dict], columns: list[str]) -> str:
    """A Markdown table of ``rows``' ``columns``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _setup(results: Results, meta: dict, rows: list[dict]) -> str:
    cfg = results.config
    mode = f"{meta['mode']} mode" if "mode" in meta else "no mode recorded (a run before modes)"
    return (f"`results/{results.folder.name}/`: {mode}, "
            f"{' and '.join(map(str, cfg.budgets))} labelled images per class, "
            f"{settings_note(results)}; {cfg.generator_steps} generator steps; "
            f"commit `{meta['git_commit']}`, {meta['device']}.")


def _accuracy(results: Results, meta: dict, rows: list[dict]) -> str:
    bases = [b for b in ("none", "classical") if any(f"gain_vs_{b}" in r for r in rows)]
    return _table([{"budget": r["budget"], "method": r["method"],
                    "test accuracy % [95% CI]": percent_with_ci(r, "test_accuracy"),
                    **{f"gain vs {b}": percent_with_ci(r, f"gain_vs_{b}") for b in bases}}
                   for r in rows], ["budget", "method", "test accuracy % [95% CI]",
                                    *(f"gain vs {b}" for b in bases)])


def _judged_table(judged: list, wanted: list[dict]) -> str:
    kept = [j for j in judged if j.row in wanted]
    table = _table([{"budget": j.row["budget"], "comparison": f"{j.row['method']} vs "
                     f"{j.baseline}", "gain, points [95% CI]": gain_text(j.row, j.baseline),
                     "p": p_number(j.p), "Holm p": p_number(j.adjusted),
                     "verdict": j.outcome} for j in kept],
                   ["budget", "comparison", "gain, points [95% CI]", "p", "Holm p", "verdict"])
    return f"Holm's adjustment over {judged[0].family if judged else 0} comparisons.\n\n{table}"


def _verdicts(results: Results, meta: dict, rows: list[dict]) -> str:
    return _judged_table(judge(primary_comparisons(results.summary)), rows)


def _reference(results: Results, meta: dict, rows: list[dict]) -> str:
    return _judged_table(judge(reference_comparisons(results.summary)), rows)


def _imbalance(results: Results, meta: dict, rows: list[dict]) -> str:
    return _table(imbalance_rows(results), IMBALANCE_COLUMNS)


def _means(runs: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Per (budget, method, ratio, threshold, classical recipe): the mean over seeds of each of
    ``keys``."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        if all(r.get(k) not in (None, "") for k in keys):
            key = (r["budget"], r["method"], r.get("ratio", ""), r.get("threshold", ""),
                   r.get("classical_recipe", ""))
            groups.setdefault(key, []).append(r)
    return [{"budget": b, "method": m, "share": ratio, "threshold": t, "recipe": recipe,
             "seeds": len(g), **{k: mean(float(r[k]) for r in g) for k in keys}}
            for (b, m, ratio, t, recipe), g in groups.items()]


def _sweep(results: Results, meta: dict, rows: list[dict]) -> str:
    found = _means(results.sweep, ("val_accuracy",))
    for r in found:
        r["validation accuracy %"] = f"{100 * r['val_accuracy']:.1f}"
    recipe = ["recipe"] if any(r["recipe"] for r in found) else []  # a folder from before: none
    return _table(found, ["budget", "method", "share", "threshold", *recipe, "seeds",
                          "validation accuracy %"])


def _pools(results: Results, meta: dict, rows: list[dict]) -> str:
    """One row per pool and budget: an arm's '@add' twin draws from the same pool."""
    keys = ("pool_class_accuracy", "pool_frechet", "pool_precision", "pool_recall")
    wanted = {(r["budget"], r["method"]) for r in rows if "@" not in r["method"]}
    found = [r for r in _means(results.runs, keys) if (r["budget"], r["method"]) in wanted]
    return _table([{"budget": r["budget"], "arm": r["method"],
                    "class accuracy %": f"{100 * r['pool_class_accuracy']:.1f}",
                    "squared Frechet": f"{r['pool_frechet']:.2f}",
                    "precision": f"{r['pool_precision']:.3f}",
                    "recall": f"{r['pool_recall']:.3f}"} for r in found],
                  ["budget", "arm", "class accuracy %", "squared Frechet", "precision",
                   "recall"])


BLOCKS: dict[str, Callable[[Results, dict, list[dict]], str]] = {
    "setup": _setup, "accuracy": _accuracy, "verdicts": _verdicts, "reference": _reference,
    "imbalance": _imbalance, "sweep": _sweep, "pools": _pools}


def _rows(results: Results, args: str) -> list[dict]:
    """The summary rows a section shows: all, or those ``budget=10`` and ``methods=a,b`` name."""
    options = dict(arg.split("=", 1) for arg in args.split())
    budgets = {int(b) for b in options.get("budget", "").split(",") if b}
    methods = [m for m in options.get("methods", "").split(",") if m]
    return [r for r in results.summary
            if (not budgets or r["budget"] in budgets) and (
                r["method"] in methods if methods else True)]


def render(root: Path, folder: str, block: str, args: str = "") -> str:
    """One generated section's Markdown, from ``root / 'results' / folder``."""
    if block not in BLOCKS:
        raise ValueError(f"Unknown results block {block!r}; choose from {', '.join(BLOCKS)}.")
    results, meta = load_results(root / "results" / folder)
    return BLOCKS[block](results, meta, _rows(results, args))


def regenerate(text: str, root: Path) -> str:
    """``text`` with every generated section rewritten from the folder it names; a section
    whose marker is indented (inside a list item) is indented alike."""
    out, rest = [], text
    while (match := START.search(rest)) is not None:
        end = rest.find(END, match.end())
        if end < 0:
            raise ValueError(f"{match[0]} has no {END} after it.")
        indent = rest[rest.rfind("\n", 0, match.start()) + 1:match.start()]
        indent = indent if not indent.strip() else ""
        body = render(root, match["folder"], match["block"], match["args"])
        body = "\n".join(indent + line if line else line for line in body.splitlines())
        out.append(f"{rest[:match.end()]}\n{body}\n{indent}")
        rest = rest[end:]
    return "".join(out) + rest


def sync_docs(root: Path, check: bool) -> list[str]:
    """Rewrite the generated sections of every doc (``check``: change nothing); return the docs
    whose sections were stale."""
    stale = []
    for name in DOCS:
        path = root / name
        text = path.read_text()
        new = regenerate(text, root)
        if new != text:
            stale.append(name)
            if not check:
                path.write_text(new)
    return stale


def known_intervals(results: Results) -> list[tuple[float, float, float]]:
    """Every (mean, low, high) in points that a doc may quote from this folder, each also with
    its sign flipped (a gain of A over B is B's loss to A)."""
    found = []
    for row in results.summary + results.imbalance_summary:
        for key in row:
            if f"{key}_low" in row and not math.isnan(row[f"{key}_low"]):
                m, lo, hi = (100 * row[k] for k in (key, f"{key}_low", f"{key}_high"))
                found += [(m, lo, hi), (-m, -hi, -lo)]
    return found


NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten".split())}
SEEDS = re.compile(r"\b(\d+|" + "|".join(NUMBER_WORDS) + r")[- ]seeds?\b", re.I)
CHOSEN = re.compile(r"\b(?:share|ratio)s?\b[^.;]*?\bchosen on (?:the )?validation", re.I)
FIXED = re.compile(r"\b(?:share|ratio)s?\b[^.;]*?\bfixed at (\d*\.\d+)", re.I)
NUMBER = r"([+-]?\d+(?:\.\d+)?)"
INTERVAL = re.compile(rf"{NUMBER}%? \[{NUMBER}, {NUMBER}\]")
SECTION = re.compile(r"<!-- results:.*?<!-- results:end -->|```.*?```", re.S)
SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z*(`\[])")
BLOCK_START = re.compile(r"\n\s*\n|\n(?=\s*(?:\d+\.|[-*|]) )")  # a blank line, or a list item


def _cited(paragraph: str, at: int, folders: list[str]) -> str | None:
    """The folder a claim at ``at`` cites: the last its sentence names before it, else the
    first its sentence names after it, else the last the paragraph names before it."""
    pattern = "|".join(re.escape(f) for f in sorted(folders, key=len, reverse=True))
    mentions = [(m.start(), m[0]) for m in re.finditer(rf"(?:{pattern})(?![\w-])", paragraph)]
    starts = [0] + [m.end() for m in SENTENCE_END.finditer(paragraph)]
    begin = max(s for s in starts if s <= at)
    end = min([s for s in starts if s > at] + [len(paragraph)])
    ranked = ([name for start, name in mentions if begin <= start < at][-1:]
              + [name for start, name in mentions if at <= start < end][:1]
              + [name for start, name in mentions if start < begin][-1:])
    return ranked[0] if ranked else None


def _claim_problems(claim: re.Match, kind: str, results: Results) -> list[str]:
    """Why a prose claim disagrees with the folder it cites (empty if it agrees)."""
    cfg = results.config
    if kind == "seeds":
        said = claim[1].lower()
        n = NUMBER_WORDS[said] if said in NUMBER_WORDS else int(said)
        return [] if n == cfg.seeds else [f"says {claim[0]!r}; config.json has {cfg.seeds}"]
    if kind == "chosen":
        return [] if cfg.ratio is None else [f"says the share was chosen on validation; "
                                             f"config.json fixes it at {cfg.ratio}"]
    if kind == "fixed":
        return [] if cfg.ratio == float(claim[1]) else [
            f"says {claim[0]!r}; config.json has ratio {cfg.ratio}"]
    quoted = [(float(v), 0.5 * 10.0 ** -len(v.partition(".")[2]) + 1e-9)  # half a last digit
              for v in claim.groups()]
    if any(all(abs(q - k) <= tol for (q, tol), k in zip(quoted, known, strict=True))
           for known in known_intervals(results)):
        return []
    return [f"quotes {claim[0]!r}, which is none of its means and intervals"]


def prose_problems(text: str, root: Path) -> list[str]:
    """What the prose of a doc (outside its generated sections and code blocks) says about a
    results folder it names that the folder's config.json or CSV files contradict: a seed
    count, a share chosen on validation or fixed, or a quoted mean with its interval."""
    folders = [p.parent.name for p in (root / "results").glob("*/config.json")]
    loaded: dict[str, Results] = {}
    problems = []
    for paragraph in BLOCK_START.split(SECTION.sub("", text)):
        for kind, pattern in (("seeds", SEEDS), ("chosen", CHOSEN), ("fixed", FIXED),
                              ("interval", INTERVAL)):
            for claim in pattern.finditer(paragraph):
                folder = _cited(paragraph, claim.start(), folders)
                if folder is None:
                    continue
                if folder not in loaded:
                    loaded[folder] = load_results(root / "results" / folder)[0]
                problems += [f"{folder}: {why} (in: {paragraph.strip()[:80]}...)"
                             for why in _claim_problems(claim, kind, loaded[folder])]
    return problems
