"""The folder a results folder was made from: recorded when a run starts, checked on resume.

A folder run's results folder holds ``folder.json``: every image file's path, modification time
and size, their fingerprint, and the test split. A resume (the same command again), and every
job of a run before it loads the data, compares the folder with that record first: images
added, removed, moved between classes or edited, or another test split, stop the run with one
line saying what changed, so seeds run before and after a change never share a table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from genaug.data import FOLDER
from genaug.experiment.settings import ExperimentConfig
from genaug.experiment.validation import ConfigError
from genaug.folder import folder_record
from genaug.folder_split import compare

RECORD = "folder.json"


def check_same_data(config: ExperimentConfig, out: Path) -> dict | None:
    """Refuse a folder that changed since ``out`` was started (its record says how it was);
    return the folder's record as it is now (None for a named dataset: checksums guard it)."""
    if config.dataset != FOLDER:
        return None
    now = folder_record(config.data_root, config.image_size)
    path = Path(out) / RECORD
    if not path.is_file():
        return now
    before = json.loads(path.read_text())
    afresh = f"start afresh with another --out (or delete {out})"
    if before["fingerprint"] != now["fingerprint"]:
        changes = compare(before["files"], now["files"])
        raise ConfigError(f"{now['folder']} changed since {out} was started: "
                          f"{changes.describe()}. Resuming would mix both versions in one "
                          f"table: {afresh}, or put the folder back as it was.")
    if before["test"] != now["test"]:
        differ = len(set(before["test"]) ^ set(now["test"]))
        raise ConfigError(f"The test split of {now['folder']} changed since {out} was started "
                          f"({differ} test images differ): {afresh}, or restore the split it "
                          "used.")
    return now


def record_data(out: Path, record: dict | None) -> None:
    """Write the folder's record into ``out``, once (a resume keeps the first)."""
    path = Path(out) / RECORD
    if record is None or path.is_file():
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, path)
