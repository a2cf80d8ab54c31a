"""Figures the teacher's docs quote from notebooks are figures the notebooks print.

docs/answers.md and docs/teaching.md read stored outputs back to the teacher: "300 images take
1.096 s", "the judge recognises 57.2% of samples". A re-executed notebook moves such figures,
and nothing else would notice a doc that kept the old one. Each answer (a numbered item under
"## NN ·") and each "**NN ·**" paragraph of the teacher's guide belongs to notebook NN; every
decimal it quotes must be one that notebook prints or holds in its cells (rounded as quoted), or
one of a notebook, file or module it cites. A figure derived in the text goes inside `$...$`,
which shows the derivation; generated result sections are checked against their CSVs instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("docs/answers.md", "docs/teaching.md")
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")
GENERATED = re.compile(r"<!-- results:(?!end).*?<!-- results:end -->", re.S)
MATH = re.compile(r"\$[^$]*\$")
OWNER = re.compile(r"(?:## |\*\*)(\d\d) · ")
CITED_NOTEBOOK = re.compile(r"(?<![\d.])(\d\d)(?=,\s+section|\s+section|\))|notebooks? (\d\d)")
CITED_FILE = re.compile(r"\]\(\.\./([\w/.-]+)\)|`(genaug(?:\.\w+)+)")


def notebook_text(number: str) -> str:
    """Notebook ``number``'s cell sources and stored text outputs, joined."""
    parts = []
    for path in (ROOT / "notebooks").glob(f"{number}_*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            parts.append("".join(cell["source"]))
            for out in cell.get("outputs", []):
                parts.append("".join(out.get("text", "")))
                parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def file_text(cited: str) -> str:
    """A cited file (``results/README.md``) or module (``genaug.augment.config_for``)."""
    if not cited.startswith("genaug"):
        return (ROOT / cited).read_text() if (ROOT / cited).is_file() else ""
    parts = cited.split(".")
    for end in range(len(parts), 1, -1):
        path = ROOT.joinpath(*parts[:end]).with_suffix(".py")
        if path.is_file():
            return path.read_text()
    return ""


def owned_blocks(text: str) -> list[tuple[str, str]]:
    """(notebook number, block) for each answer and each notebook paragraph of ``text``."""
    blocks, owner = [], None
    for block in re.split(r"\n(?=\d+\. \*\*|## |\*\*\d\d · )", GENERATED.sub("", text)):
        match = OWNER.match(block)
        if block.startswith("## ") or match:
            owner = match.group(1) if match else None
        if owner:
            blocks.append((owner, block))
    return blocks


def printed(quoted: str, source: str) -> bool:
    """Whether ``source`` holds ``quoted``, or a longer decimal that rounds to it."""
    places = len(quoted.split(".")[1])
    return quoted in source or any(
        round(float(d), places) == float(quoted) for d in DECIMAL.findall(source)
        if len(d.split(".")[1]) > places)


def unsourced(owner: str, block: str) -> list[str]:
    """The decimals ``block`` quotes that neither its notebook nor anything it cites holds."""
    notebooks = {owner} | {a or b for a, b in CITED_NOTEBOOK.findall(block)}
    files = {a or b for a, b in CITED_FILE.findall(block)}
    source = "\n".join([*map(notebook_text, sorted(notebooks)), *map(file_text, sorted(files))])
    return [d for d in DECIMAL.findall(MATH.sub("", block)) if not printed(d, source)]


@pytest.mark.parametrize("doc", DOCS)
def test_every_quoted_decimal_is_printed_where_the_doc_says(doc):
    problems = [f"notebook {owner}: {missing} in '{block[:60]}...'"
                for owner, block in owned_blocks((ROOT / doc).read_text())
                if (missing := unsourced(owner, block))]
    assert not problems, (f"{doc} quotes figures its notebooks no longer print (re-quote them "
                          "from the stored outputs):\n" + "\n".join(problems))


@pytest.mark.parametrize("block, missing", [
    ("**08 · Diffusion.** 500 steps in 13.7 s.", []),
    ("**08 · Diffusion.** 500 steps in 13.9 s.", ["13.9"]),
    ("**08 · Diffusion.** FD 15.9 on all images.", []),  # printed as 15.88
    ("**08 · Diffusion.** FD 16.9 on all images.", ["16.9"]),
    ("**08 · Diffusion.** a floor of $-(0.9 \\ln 0.9) = 0.095$.", []),
    ("**01 · Augmentation.** the cVAE's 10.9% (06, section \"TSTR\").", []),
    ("**01 · Augmentation.** the cVAE's 10.9%.", ["10.9"]),
])
def test_the_quote_check_catches_a_drifted_figure(block, missing):
    [(owner, text)] = owned_blocks(block)
    assert unsourced(owner, text) == missing
