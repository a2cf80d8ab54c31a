"""The experiment's CSV files: written atomically, read back with a torn last row dropped."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` to ``path`` through a temporary file, so a crash never leaves half a file."""
    if not rows:
        return
    columns = list(dict.fromkeys(k for row in rows for k in row))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def read_rows(path: str | Path, key_fields: tuple[str, ...] = ()) -> list[dict]:
    """Rows of a results CSV with numbers and booleans turned back into Python values.

    A row cut short (a crash or a full disk mid-write by another tool) is dropped with a
    notice, together with the other rows of its job (same ``key_fields``): that job runs again.
    """
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    torn = [r for r in rows if None in r or None in r.values()]
    if text and not text.endswith("\n") and rows and not torn:
        torn = rows[-1:]  # the last line has no end: it may have lost digits
    if torn:
        keys = {tuple(r.get(f) for f in key_fields) for r in torn}
        kept = [r for r in rows if r not in torn and
                (not key_fields or tuple(r.get(f) for f in key_fields) not in keys)]
        print(f"Notice: {path} held {len(torn)} incomplete row(s); they and the rest of their "
              f"job ({len(rows) - len(kept)} rows in all) are dropped, and that job runs again.")
        rows = kept
    return [{k: _parse(v) for k, v in row.items()} for row in rows]


def _parse(value: str):
    if value in ("True", "False"):
        return value == "True"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
