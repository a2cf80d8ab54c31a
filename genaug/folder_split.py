"""A folder's held-out test split, and what changed in a folder since it was last read.

Without a ``test/`` folder a stratified ``TEST_SHARE`` of every class is held out for testing.
The test files, each with its modification time and size, are saved in ``$GENAUG_CACHE/splits/``
(:func:`split_file`) and reused by every later run on the folder: images added later go to
training, so the test set never changes under a result. When a saved test image is no longer
where it was (removed, moved to another class, renamed or edited), loading stops with one line
saying what changed: delete the split file to draw a new split, or keep the old one on purpose
(``python -m genaug data --data PATH --keep-split``: the test images still there stay test
images, moved ones under their new class). :func:`compare` says what changed between two
listings, for the split and for a results folder's record of the folder (its
:func:`fingerprint`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence

import numpy as np
import torch

from genaug.config import CACHE_ENV, cache_root
from genaug.device import draw, make_generator

TEST_SHARE = 0.2  # held out of every class when the folder has no test/ subfolder
SPLIT_SEED = 0
Contents = Mapping[str, Sequence[int]]  # path relative to the folder -> (mtime in ns, bytes)


class FolderError(ValueError):
    """A folder that cannot be read as labelled images; the one-line message names the fix."""


def _class_of(path: str) -> str:
    """The class folder of a path relative to the folder (``train/<class>/...`` or ``<class>/``)."""
    parts = path.split("/")
    return parts[1] if parts[0] in ("train", "test") and len(parts) > 2 else parts[0]


@dataclass(frozen=True)
class Changes:
    """Image files added, removed, moved (same name, time and size elsewhere) or edited."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    moved: tuple[tuple[str, str], ...] = ()  # (old path, new path)
    edited: tuple[str, ...] = ()  # same path, another time or size

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.moved or self.edited)

    def describe(self, noun: str = "image") -> str:
        """``"2 image(s) added, 1 moved between classes, e.g. cat/a.png -> dog/a.png"``."""
        between = [m for m in self.moved if _class_of(m[0]) != _class_of(m[1])]
        renamed = [m for m in self.moved if m not in between]
        counts = [(len(self.added), "added"), (len(self.removed), "removed"),
                  (len(between), "moved between classes"), (len(renamed), "renamed"),
                  (len(self.edited), "edited")]
        said = [f"{n} {what}" for n, what in counts if n]
        example = (" -> ".join(self.moved[0]) if self.moved else
                   (self.removed or self.added or self.edited or ("",))[0])
        first, _, rest = said[0].partition(" ")
        return f"{first} {noun}(s) {', '.join([rest, *said[1:]])}, e.g. {example}"


def compare(old: Contents, new: Contents) -> Changes:
    """What happened to the image files between two listings of a folder."""
    gone = [p for p in old if p not in new]
    came = [p for p in new if p not in old]
    arrivals: dict[tuple, str] = {}
    for path in came:
        arrivals.setdefault((PurePosixPath(path).name, *new[path]), path)
    moved = [(p, arrivals.pop(key)) for p in gone
             if (key := (PurePosixPath(p).name, *old[p])) in arrivals]
    moved_from, moved_to = {a for a, _ in moved}, {b for _, b in moved}
    return Changes(tuple(p for p in came if p not in moved_to),
                   tuple(p for p in gone if p not in moved_from), tuple(moved),
                   tuple(p for p in old if p in new and tuple(old[p]) != tuple(new[p])))


def fingerprint(contents: Contents) -> str:
    """Sixteen hex digits that change when any image file is added, removed, moved or edited."""
    text = json.dumps(sorted((p, list(s)) for p, s in contents.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def split_file(folder: str | Path) -> Path:
    """Where a folder's test split is saved: the cache, under the folder's name and a hash."""
    folder = Path(folder).expanduser().resolve()
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return cache_root() / "splits" / f"{folder.name}-{digest}.json"


def held_out(folder: Path, classes: tuple[str, ...], paths: Sequence[str], labels: np.ndarray,
             contents: Contents) -> set[str]:
    """The test files: the saved split if the folder still holds it, else a new one, saved."""
    path = split_file(folder)
    saved = _read_split(path, folder, classes)
    if saved is None:
        test = _draw_split(len(classes), paths, labels)
        _write_split(path, folder, classes, {p: contents[p] for p in test})
        return test
    changes = _test_changes(saved, contents)
    if changes:
        raise FolderError(f"{folder} changed since its test split was saved in {path}: "
                          f"{changes.describe('test image')}. Delete that file to draw a new "
                          "split (earlier results used the old one), or keep the old split on "
                          f"purpose with `python -m genaug data --data {folder} --keep-split`.")
    return set(saved)


def keep_split(folder: Path, classes: tuple[str, ...], contents: Contents) -> str:
    """Save the old split for the folder as it is now: test images still there stay, moved
    ones follow to their new place, removed ones are gone; returns what was done, in words."""
    path = split_file(folder)
    saved = _read_split(path, folder, classes)
    if saved is None:
        return f"{folder} has no saved test split ({path}); the next run draws one."
    changes = _test_changes(saved, contents)
    if not changes:
        return f"the test split in {path} still matches {folder}: nothing to keep."
    moved, removed = dict(changes.moved), set(changes.removed)
    test = {moved.get(p, p) for p in saved if p not in removed}
    _write_split(path, folder, classes, {p: contents[p] for p in test})
    return (f"kept the test split in {path} ({len(test)} test images) after "
            f"{changes.describe('test image')}.")


def _test_changes(saved: dict[str, Sequence[int] | None], contents: Contents) -> Changes:
    """What happened to the saved test files (additions elsewhere leave the split whole); a
    split saved before times and sizes were recorded checks only that its files are there."""
    old = {p: tuple(s) if s is not None else tuple(contents.get(p, ())) for p, s in saved.items()}
    changes = compare(old, contents)
    return Changes(removed=changes.removed, moved=changes.moved, edited=changes.edited)


def _draw_split(n_classes: int, paths: Sequence[str], labels: np.ndarray) -> set[str]:
    """A stratified TEST_SHARE of each class (at least one image, never the last one)."""
    generator = make_generator(SPLIT_SEED)
    test: set[str] = set()
    for label in range(n_classes):
        members = np.flatnonzero(labels == label)
        n_test = min(len(members) - 1, max(1, round(len(members) * TEST_SHARE)))
        order = draw(torch.randperm, len(members), generator=generator, device="cpu")
        chosen = order[:n_test].numpy()
        test.update(paths[i] for i in members[chosen])
    return test


def _read_split(path: Path, folder: Path, classes: tuple[str, ...]
                ) -> dict[str, Sequence[int] | None] | None:
    """The saved test files with their (time, size), or None if no split is saved; a split
    for other classes is refused."""
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        stamps = saved.get("stamps", {})
        test = {p: stamps.get(p) for p in saved["test"]}
        saved_classes = tuple(saved["classes"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise FolderError(f"The saved test split {path} is damaged; delete it to draw a new "
                          "one.") from None
    if saved_classes != classes:
        raise FolderError(f"The classes of {folder} changed since its test split was saved in "
                          f"{path}; delete that file to draw a new split (earlier results used "
                          "the old one).")
    return test


def _write_split(path: Path, folder: Path, classes: tuple[str, ...], test: Contents) -> None:
    """Save the split atomically (a worker reading it never sees half a file)."""
    record = {"folder": str(folder), "test_share": TEST_SHARE, "seed": SPLIT_SEED,
              "classes": list(classes), "test": sorted(test),
              "stamps": {p: list(test[p]) for p in sorted(test)}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    blocker = next((p for p in (path.parent, *path.parent.parents)
                    if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise FolderError(f"The test split cannot be saved in {path.parent}: {blocker} is a "
                          f"file, not a folder; move it, or set {CACHE_ENV} to a folder you can "
                          "write.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise FolderError(f"The test split cannot be saved to {path} ({error.strerror}); set "
                          f"{CACHE_ENV} to a folder you can write.") from None
