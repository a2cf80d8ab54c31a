"""CIFAR-10, the article's cars among ten classes of 32x32 colour photos, where it can be had.

Read through torchvision's ``CIFAR10``, which checks every file's MD5 before it unpickles it,
from ``root`` or torchvision's root (``$GENAUG_DATA``); downloaded only where downloads are
allowed (on Colab, with ``GENAUG_DOWNLOAD=1`` or ``download=True``). Tests never download.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from genaug.config import DOWNLOAD_ENV
from genaug.idx import DatasetNotFoundError, download_allowed, torchvision_root

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck")
BASE_FOLDER = "cifar-10-batches-py"  # what torchvision's download unpacks


def find_cifar10(root: str | Path | None = None) -> Path | None:
    """The folder holding ``cifar-10-batches-py``, looked for in ``root`` then torchvision's."""
    candidates = [Path(root).expanduser()] if root is not None else []
    candidates.append(torchvision_root())
    return next((c for c in candidates if (c / BASE_FOLDER / "batches.meta").is_file()), None)


def read_cifar10(split: str, root: str | Path | None = None, download: bool | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One split's images (N, 3, 32, 32) uint8 and labels (N,), downloading only if allowed."""
    folder = find_cifar10(root)
    if folder is None and download_allowed(download):
        return _load(str(torchvision_root()), split == "train", True)
    if folder is None:
        looked = f"{root} and {torchvision_root()}" if root is not None else torchvision_root()
        raise DatasetNotFoundError(
            f"cifar10 ({split} split) was not found in {looked}; allow the download with "
            f"{DOWNLOAD_ENV}=1 or load_dataset('cifar10', download=True), or put torchvision's "
            f"{BASE_FOLDER} folder in $GENAUG_DATA.")
    return _load(str(folder), split == "train", False)


@functools.lru_cache(maxsize=2)
def _load(folder: str, train: bool, download: bool) -> tuple[np.ndarray, np.ndarray]:
    import torchvision  # imported here: only CIFAR-10 needs it

    dataset = torchvision.datasets.CIFAR10(folder, train=train, download=download)
    images = np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2))  # (N, H, W, C) -> NCHW
    return images, np.asarray(dataset.targets, dtype=np.int64)
