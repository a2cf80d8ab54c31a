"""Your own images: a folder of labelled images, decoded once into tensors, with a stable split.

The layout is the common one: ``PATH/<class name>/*.png`` (also .jpg, .jpeg, .webp, .tif,
.tiff, .bmp), one subfolder per class, or ``PATH/train/<class>/...`` beside
``PATH/test/<class>/...``; images in subfolders of a class folder belong to that class. Every
image is converted as :mod:`genaug.pixels` says (EXIF orientation applied, 16-bit and float
images scaled by their own range, transparency on white), centre-cropped to a square and resized
to ``size`` (at most ``MAX_SIZE``) once, the first time a process reads the folder; training
then indexes tensors and never decodes. The folder is grey (1 channel) when every image is (red,
green and blue equal), else RGB (3 channels): a grey image in a colour folder gets three equal
channels.

One image, one label: hidden folders and files (names starting with '.', such as
``.ipynb_checkpoints`` or ``.thumbnails``) are never read. A class folder may be a link to a
folder outside PATH, read once however many links lead to it; no other link to a folder is
followed, and a link to a file inside PATH is skipped (the file counts where it is). Skipped
folders and links, files that are not images or cannot be read, and images smaller than
``size`` (upscaled) are each counted in a notice.

Without a ``test`` folder a stratified ``TEST_SHARE`` of every class is held out for testing and
saved, and a folder that no longer holds its saved split is refused (:mod:`genaug.folder_split`);
:func:`folder_record` is what a results folder records of the folder.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genaug import folder_split
from genaug.folder_split import (  # noqa: F401  (TEST_SHARE and split_file: notebook 10's names)
    TEST_SHARE,
    FolderError,
    fingerprint,
    held_out,
    split_file,
)
from genaug.pixels import read_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
DEFAULT_SIZE = 32  # CIFAR-10's side: small enough for a CPU, large enough to tell a car
MAX_SIZE = 512  # the largest side: a thousand 512x512 colour images take 3 GB as floats
_LAYOUT = "one subfolder of images per class (PATH/<class>/*.png)"


@dataclass(frozen=True)
class Listing:
    """What a folder holds, before decoding: hashable, so a changed file means a new read."""

    folder: str
    classes: tuple[str, ...]
    files: tuple[tuple[str, int], ...]  # (path relative to the folder, label)
    stamps: tuple[tuple[int, int], ...]  # (modification time in ns, bytes) of each file
    others: tuple[str, ...]  # files that are not images by their suffix
    skipped: tuple[str, ...] = ()  # folders and links not read: hidden, or a second label

    def contents(self) -> dict[str, tuple[int, int]]:
        """Each image file's (modification time, bytes): what a fingerprint is taken of."""
        return {rel: stamp for (rel, _), stamp in zip(self.files, self.stamps, strict=True)}


@dataclass(frozen=True)
class Decoded:
    """Every readable image of a folder, decoded once."""

    pixels: np.ndarray  # (N, C, S, S) uint8, C = 1 (grey) or 3 (RGB)
    paths: tuple[str, ...]  # relative to the folder
    labels: np.ndarray  # (N,) int64
    classes: tuple[str, ...]


def load_folder(root: str | Path | None, split: str, size: int = DEFAULT_SIZE
                ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """One split's images (N, C, size, size) as uint8, labels (N,) and class names."""
    folder = check_folder(root)
    check_size(size)
    listing = scan(folder)
    decoded = _decode(listing, size)
    test = _test_mask(folder, listing, decoded)
    keep = test if split == "test" else ~test
    return decoded.pixels[keep], decoded.labels[keep], decoded.classes


def folder_record(root: str | Path, size: int) -> dict:
    """What a results folder records of the folder it was made from: every image file's
    (modification time, bytes), their fingerprint, and the test split."""
    folder = check_folder(root)
    check_size(size)
    listing = scan(folder)
    decoded = _decode(listing, size)
    test = _test_mask(folder, listing, decoded)
    contents = listing.contents()
    return {"folder": str(folder), "fingerprint": fingerprint(contents),
            "files": {rel: list(stamp) for rel, stamp in contents.items()},
            "test": sorted(p for p, t in zip(decoded.paths, test, strict=True) if t)}


def keep_split(root: str | Path) -> str:
    """Keep a folder's saved test split on purpose after it changed; says what was kept."""
    folder = check_folder(root)
    if split_roots(folder)[1] is not None:
        return f"{folder} has its own test/ folder: there is no held-out split to keep."
    listing = scan(folder)
    return folder_split.keep_split(folder, listing.classes, listing.contents())


def _test_mask(folder: Path, listing: Listing, decoded: Decoded) -> np.ndarray:
    """Which decoded images are test images: test/'s, or the held-out split's."""
    _, test_root = split_roots(folder)
    if test_root is not None:
        return np.array([Path(p).parts[0] == "test" for p in decoded.paths], dtype=bool)
    test = held_out(folder, decoded.classes, decoded.paths, decoded.labels, listing.contents())
    return np.array([p in test for p in decoded.paths], dtype=bool)


def check_size(size: int) -> None:
    """A side images can be resized to: a whole number from 1 to MAX_SIZE."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise FolderError(f"size must be a positive whole number of pixels, got {size!r}.")
    if size > MAX_SIZE:
        raise FolderError(f"Image size {size} is above {MAX_SIZE}, the largest side a folder's "
                          f"images are resized to (the course's models are built for small "
                          f"images); give --image-size (or size=) up to {MAX_SIZE}.")


def check_folder(root: str | Path | None) -> Path:
    """The folder as an absolute path, or a FolderError saying what is wrong with it."""
    if root is None:
        raise FolderError(f"The folder dataset needs root=PATH (--data PATH): a folder with "
                          f"{_LAYOUT}.")
    folder = Path(root).expanduser()
    if not folder.exists():
        raise FolderError(f"{folder} does not exist; give a folder with {_LAYOUT}.")
    if not folder.is_dir():
        raise FolderError(f"{folder} is a file, not a folder; give a folder with {_LAYOUT}.")
    return folder.resolve()


def split_roots(folder: Path) -> tuple[Path, Path | None]:
    """Where the class folders are: ``train/`` and ``test/`` when present, else the folder."""
    train = folder / "train"
    if not train.is_dir():
        return folder, None
    return train, (folder / "test" if (folder / "test").is_dir() else None)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _overlap(a: Path, b: Path) -> bool:
    """Whether one folder holds the other (or they are the same): reading both reads twice."""
    return a == b or a in b.parents or b in a.parents


def _class_folders(root: Path, taken: list[Path]) -> tuple[list[str], list[Path]]:
    """The class folders under ``root``, and the folders skipped: hidden ones, and links to a
    folder in ``taken`` (the whole folder, what holds it, or another link's folder)."""
    names, skipped = [], []
    for entry in sorted(p for p in root.iterdir() if p.is_dir()):
        if _hidden(entry.name) or (entry.is_symlink() and
                                   any(_overlap(entry.resolve(), t) for t in taken)):
            skipped.append(entry)
            continue
        if entry.is_symlink():
            taken.append(entry.resolve())
        names.append(entry.name)
    return names, skipped


def _names(names: list[str], most: int = 5) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most
                                      else "")


def class_names(folder: Path) -> tuple[tuple[str, ...], list[Path]]:
    """The class folders' names, sorted (at least two, the same in ``train/`` and ``test/``),
    and the folders skipped beside them."""
    train_root, test_root = split_roots(folder)
    taken = [folder]
    names, skipped = _class_folders(train_root, taken)
    if not names:
        loose = any(p.suffix.lower() in IMAGE_SUFFIXES for p in train_root.iterdir())
        what = "holds images but no class folders" if loose else "holds no class folders"
        raise FolderError(f"{train_root} {what}; it needs {_LAYOUT}.")
    if len(names) == 1:
        raise FolderError(f"{train_root} has one class folder ({names[0]}); a classifier needs "
                          "two or more: add a subfolder of images for each class.")
    if test_root is not None:
        test_names, test_skipped = _class_folders(test_root, taken)
        if test_names != names:
            raise FolderError(f"{test_root} has class folders {_names(test_names)} but "
                              f"{train_root} has {_names(names)}; give both the same class "
                              "folders.")
        skipped += test_skipped
    return tuple(names), skipped


def _walk(top: Path, folder: Path) -> tuple[list[Path], list[Path]]:
    """Every file under a class folder, and what was not read: hidden folders, links to
    folders, and links to files inside ``folder`` (read where they are)."""
    files, skipped = [], []
    for here, dirs, names in os.walk(top):  # a link to a folder is listed, never entered
        here = Path(here)
        skipped += [here / d for d in dirs if _hidden(d) or (here / d).is_symlink()]
        dirs[:] = [d for d in dirs if not (_hidden(d) or (here / d).is_symlink())]
        for path in (here / n for n in names if not _hidden(n)):  # .DS_Store and the like
            if path.is_symlink() and path.resolve().is_relative_to(folder):
                skipped.append(path)
            elif path.is_file():
                files.append(path)
    return sorted(files), skipped


def scan(folder: Path) -> Listing:
    """Every file under the class folders, as image files (with labels) and other files."""
    classes, skipped = class_names(folder)
    files, others = [], []
    for root in filter(None, split_roots(folder)):
        for label, name in enumerate(classes):
            paths, not_read = _walk(root / name, folder)
            skipped += not_read
            for path in paths:
                rel = path.relative_to(folder).as_posix()
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    files.append((rel, label))
                else:
                    others.append(rel)
    stamps = tuple((s.st_mtime_ns, s.st_size) for s in (os.stat(folder / f) for f, _ in files))
    return Listing(str(folder), classes, tuple(files), stamps, tuple(others),
                   tuple(p.relative_to(folder).as_posix() for p in skipped))


@functools.lru_cache(maxsize=4)
def _decode(listing: Listing, size: int) -> Decoded:
    """Decode every image file once per process; the notices are printed then, once."""
    folder = Path(listing.folder)
    read = [read_image(folder / rel, size) for rel, _ in listing.files]
    ok = [r is not None for r in read]
    unreadable = [rel for (rel, _), good in zip(listing.files, ok, strict=True) if not good]
    labels = np.array([label for (_, label), good in zip(listing.files, ok, strict=True) if good],
                      dtype=np.int64)
    _check_every_class(listing, labels, unreadable)
    small = [r[1] for r in read if r is not None and r[1] < size]
    _notify(listing, unreadable, small, size)
    rgb = np.stack([r[0] for r in read if r is not None])  # (N, S, S, 3)
    grey = bool((rgb[..., :1] == rgb).all())
    pixels = np.ascontiguousarray((rgb[..., :1] if grey else rgb).transpose(0, 3, 1, 2))
    paths = tuple(rel for (rel, _), good in zip(listing.files, ok, strict=True) if good)
    return Decoded(pixels, paths, labels, listing.classes)


def _check_every_class(listing: Listing, labels: np.ndarray, unreadable: list[str]) -> None:
    """Every class needs a readable image; the error names the class and why."""
    train_root, _ = split_roots(Path(listing.folder))
    unreadable_set = set(unreadable)
    counts = np.bincount(labels, minlength=len(listing.classes))
    for label, name in enumerate(listing.classes):
        if counts[label] > 0:
            continue
        broken = [rel for rel, lab in listing.files if lab == label and rel in unreadable_set]
        if broken:
            raise FolderError(f"Class {name!r} has no readable image ({len(broken)} file(s) "
                              f"could not be read, e.g. {broken[0]}); replace them or remove "
                              f"{train_root / name}.")
        raise FolderError(f"Class {name!r} ({train_root / name}) holds no "
                          f"{'/'.join(IMAGE_SUFFIXES)} image; add images or remove the folder.")


def _notify(listing: Listing, unreadable: list[str], small: list[int], size: int) -> None:
    """Say what was skipped or upscaled, with a count and an example, once per read."""
    if listing.skipped:
        print(f"Notice: did not read {len(listing.skipped)} hidden folder(s) or link(s) in "
              f"{listing.folder} (e.g. {listing.skipped[0]}): hidden folders, and links that "
              "would read a folder twice or give an image a second label, are never read.")
    if listing.others:
        print(f"Notice: skipped {len(listing.others)} file(s) in {listing.folder} that are not "
              f"{'/'.join(IMAGE_SUFFIXES)} images (e.g. {listing.others[0]}).")
    if unreadable:
        print(f"Notice: skipped {len(unreadable)} image file(s) in {listing.folder} that could "
              f"not be read (e.g. {unreadable[0]}); replace them to use them.")
    if small:
        print(f"Notice: {len(small)} image(s) in {listing.folder} are smaller than {size} "
              f"pixels (the smallest side is {min(small)}); they were upscaled, which blurs "
              "them. A smaller size (--image-size) keeps them sharp.")
