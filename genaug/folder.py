"""Your own images: a folder of labelled images, decoded once into tensors, with a stable split.

The layout is the common one: ``PATH/<class name>/*.png|jpg|jpeg|webp``, one subfolder per class
(or ``PATH/train/<class>/...`` beside ``PATH/test/<class>/...``). Every image is centre-cropped
to a square and resized to ``size`` once, the first time a process reads the folder; training
then indexes tensors and never decodes. The folder is grey (1 channel) when every image is (red,
green and blue equal), else RGB (3 channels): a grey image in a colour folder gets three equal
channels, and transparent pixels become white.

Without a ``test`` folder a stratified ``TEST_SHARE`` of every class is held out for testing.
The list of test files is saved in ``$GENAUG_CACHE/splits/`` (:func:`split_file`) and reused by
every later run on the folder: images added later go to training, so the test set never changes
under a result. Images smaller than ``size`` are upscaled, with a notice; files that are not
images, or cannot be read, are skipped, with a count in a notice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genaug.config import CACHE_ENV, cache_root
from genaug.device import draw, make_generator

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
DEFAULT_SIZE = 32  # CIFAR-10's side: small enough for a CPU, large enough to tell a car
TEST_SHARE = 0.2  # held out of every class when the folder has no test/ subfolder
SPLIT_SEED = 0
_LAYOUT = "one subfolder of images per class (PATH/<class>/*.png)"


class FolderError(ValueError):
    """A folder that cannot be read as labelled images; the one-line message names the fix."""


@dataclass(frozen=True)
class Listing:
    """What a folder holds, before decoding: hashable, so a changed file means a new read."""

    folder: str
    classes: tuple[str, ...]
    files: tuple[tuple[str, int], ...]  # (path relative to the folder, label)
    stamps: tuple[tuple[int, int], ...]  # (modification time in ns, bytes) of each file
    others: tuple[str, ...]  # files that are not images by their suffix


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
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise FolderError(f"size must be a positive whole number of pixels, got {size!r}.")
    listing = scan(folder)
    decoded = _decode(listing, size)
    _, test_root = split_roots(folder)
    if test_root is not None:
        test = np.array([Path(p).parts[0] == "test" for p in decoded.paths], dtype=bool)
    else:
        test = _held_out(folder, decoded)
    keep = test if split == "test" else ~test
    return decoded.pixels[keep], decoded.labels[keep], decoded.classes


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


def _subfolders(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def _names(names: list[str], most: int = 5) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most
                                      else "")


def class_names(folder: Path) -> tuple[str, ...]:
    """The class folders' names, sorted; at least two, the same in ``train/`` and ``test/``."""
    train_root, test_root = split_roots(folder)
    names = _subfolders(train_root)
    if not names:
        loose = any(p.suffix.lower() in IMAGE_SUFFIXES for p in train_root.iterdir())
        what = "holds images but no class folders" if loose else "holds no class folders"
        raise FolderError(f"{train_root} {what}; it needs {_LAYOUT}.")
    if len(names) == 1:
        raise FolderError(f"{train_root} has one class folder ({names[0]}); a classifier needs "
                          "two or more: add a subfolder of images for each class.")
    if test_root is not None and _subfolders(test_root) != names:
        raise FolderError(f"{test_root} has class folders {_names(_subfolders(test_root))} but "
                          f"{train_root} has {_names(names)}; give both the same class folders.")
    return tuple(names)


def scan(folder: Path) -> Listing:
    """Every file under the class folders, as image files (with labels) and other files."""
    classes = class_names(folder)
    files, others = [], []
    for root in filter(None, split_roots(folder)):
        for label, name in enumerate(classes):
            for path in sorted((root / name).rglob("*")):
                if not path.is_file() or path.name.startswith("."):  # .DS_Store and the like
                    continue
                rel = path.relative_to(folder).as_posix()
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    files.append((rel, label))
                else:
                    others.append(rel)
    stamps = tuple((s.st_mtime_ns, s.st_size) for s in (os.stat(folder / f) for f, _ in files))
    return Listing(str(folder), classes, tuple(files), stamps, tuple(others))


def _on_white(image: Image.Image) -> Image.Image:
    """The image as RGB, its transparent pixels painted white (the usual background of icons)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")


def read_image(path: Path, size: int) -> tuple[np.ndarray, int] | None:
    """One image centre-cropped and resized to (size, size, 3) uint8 RGB, and its short side.

    None when the file cannot be decoded (not an image, truncated, or too large to trust).
    """
    try:
        with Image.open(path) as image:
            side = min(image.size)
            image.draft("RGB", (size, size))  # a large JPEG decodes straight at a smaller scale
            rgb = _on_white(image)
            w, h = rgb.size
            s = min(w, h)
            box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
            square = rgb.resize((size, size), Image.Resampling.BILINEAR, box=box)
            return np.asarray(square), side
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


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


def split_file(folder: str | Path) -> Path:
    """Where a folder's test split is saved: the cache, under the folder's name and a hash."""
    folder = Path(folder).expanduser().resolve()
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return cache_root() / "splits" / f"{folder.name}-{digest}.json"


def _held_out(folder: Path, decoded: Decoded) -> np.ndarray:
    """Which images are test images: the saved split if there is one, else a new one, saved."""
    path = split_file(folder)
    test = _read_split(path, folder, decoded.classes)
    if test is None:
        test = _draw_split(decoded)
        _write_split(path, folder, decoded.classes, test)
    return np.array([p in test for p in decoded.paths], dtype=bool)


def _draw_split(decoded: Decoded) -> set[str]:
    """A stratified TEST_SHARE of each class (at least one image, never the last one)."""
    generator = make_generator(SPLIT_SEED)
    test: set[str] = set()
    for label in range(len(decoded.classes)):
        members = np.flatnonzero(decoded.labels == label)
        n_test = min(len(members) - 1, max(1, round(len(members) * TEST_SHARE)))
        order = draw(torch.randperm, len(members), generator=generator, device="cpu")
        chosen = order[:n_test].numpy()
        test.update(decoded.paths[i] for i in members[chosen])
    return test


def _read_split(path: Path, folder: Path, classes: tuple[str, ...]) -> set[str] | None:
    """The saved test files, or None if none are saved; a split for other classes is refused."""
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        test, saved_classes = set(saved["test"]), tuple(saved["classes"])
    except (ValueError, KeyError, TypeError):
        raise FolderError(f"The saved test split {path} is damaged; delete it to draw a new "
                          "one.") from None
    if saved_classes != classes:
        raise FolderError(f"The classes of {folder} changed since its test split was saved in "
                          f"{path}; delete that file to draw a new split (earlier results used "
                          "the old one).")
    return test


def _write_split(path: Path, folder: Path, classes: tuple[str, ...], test: set[str]) -> None:
    """Save the split atomically (a worker reading it never sees half a file)."""
    record = {"folder": str(folder), "test_share": TEST_SHARE, "seed": SPLIT_SEED,
              "classes": list(classes), "test": sorted(test)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise FolderError(f"The test split cannot be saved to {path} ({error.strerror}); set "
                          f"{CACHE_ENV} to a folder you can write.") from None
