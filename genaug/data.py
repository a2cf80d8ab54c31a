"""Datasets as tensors: load them once, keep them on the device, batch them without Python loops.

Images are float tensors in [0, 1] of shape (N, C, H, W), grey (C=1) or colour (C=3):
``fashion_mnist`` (the course's main dataset, 28x28), ``mnist`` (28x28), ``digits``
(scikit-learn's bundled 8x8 handwritten digits: always available, no download, the fastest),
``cifar10`` (32x32 colour photos, where downloads are allowed: see ``genaug.cifar``) and
``folder``, your own labelled images (``root=PATH``, resized to ``size``: see ``genaug.folder``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from genaug.augment import AugmentConfig
from genaug.augment import augment as augment_batch
from genaug.cifar import CIFAR_CLASSES, find_cifar10, read_cifar10
from genaug.device import draw, make_generator
from genaug.folder import DEFAULT_SIZE, FolderError, load_folder  # noqa: F401  (FolderError too)
from genaug.idx import (  # noqa: F401  (lookup names notebooks and tests import from here)
    DATA_ENV,
    DEBIAN_DIRS,
    TORCHVISION_NAMES,
    DatasetNotFoundError,
    candidate_dirs,
    find_idx_folder,
    has_all_files,
    read_split,
    torchvision_root,
)

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
DIGIT_CLASSES = tuple(str(i) for i in range(10))
DATASETS = ("fashion_mnist", "mnist", "digits", "cifar10")  # the named ones
FOLDER = "folder"  # your own images: load_dataset(FOLDER, root=PATH)

DIGITS_TEST_FRACTION = 0.2  # scikit-learn's digits has no official test split; we hold out 20%


@dataclass(frozen=True)
class ImageDataset:
    """Images and labels kept together, with the class names that make plots readable."""

    images: torch.Tensor  # (N, C, H, W) float32 in [0, 1], C = 1 (grey) or 3 (RGB)
    labels: torch.Tensor  # (N,) int64 in [0, n_classes)
    classes: tuple[str, ...]
    name: str

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[1] not in (1, 3):
            raise ValueError(
                f"images must have shape (N, C, H, W) with C = 1 or 3, got "
                f"{tuple(self.images.shape)}; add a grey channel axis with images.unsqueeze(1)."
            )
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},) to match the images, "
                f"got {tuple(self.labels.shape)}."
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        """1 for grey images, 3 for colour: what the models are built with."""
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> ImageDataset:
        """The same dataset on another device (a no-op when it is already there)."""
        return ImageDataset(self.images.to(device), self.labels.to(device), self.classes, self.name)

    def subset(self, index: torch.Tensor) -> ImageDataset:
        """The images at ``index`` (a tensor of positions), as a new dataset."""
        index = index.to(self.images.device)
        return ImageDataset(self.images[index], self.labels[index], self.classes, self.name)

    def class_counts(self) -> torch.Tensor:
        """How many images each class has, shape (n_classes,)."""
        return torch.bincount(self.labels, minlength=self.n_classes)


def load_dataset(
    name: str,
    split: str = "train",
    root: str | Path | None = None,
    download: bool | None = None,
    device: torch.device | str | None = None,
    size: int | None = None,
) -> ImageDataset:
    """Load a dataset split as tensors, from disk only unless a download is allowed.

    For Fashion-MNIST and MNIST the IDX files are looked for, in order, in ``root``, in
    torchvision's layout under ``GENAUG_DATA`` (default ``~/.cache/genaug/data``), e.g.
    ``<GENAUG_DATA>/FashionMNIST/raw``, and in Debian's
    ``/usr/share/datasets/fashion-mnist``; only then, if ``download`` is true (default: only on
    Colab or with ``GENAUG_DOWNLOAD=1``), torchvision downloads them (CIFAR-10 alike). For
    ``"folder"``, ``root`` is the folder and ``size`` the side images are resized to (32).
    """
    if name not in DATASETS + (FOLDER,):
        raise ValueError(f"Unknown dataset {name!r}; choose one of "
                         f"{', '.join(DATASETS + (FOLDER,))}.")
    if split not in ("train", "test"):
        raise ValueError(f"Unknown split {split!r}; choose 'train' or 'test'.")
    if size is not None and name != FOLDER:
        raise ValueError(f"size applies to the folder dataset only; {name} has one size.")
    images, labels, classes = _uint8_arrays(name, split, root, download, size)
    dataset = ImageDataset(
        torch.from_numpy(images).float().div_(255.0),  # (N, C, H, W)
        torch.from_numpy(labels).long(),
        classes,
        name,
    )
    return dataset.to(device) if device is not None else dataset


def _uint8_arrays(name: str, split: str, root, download: bool | None, size: int | None
                  ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """A split's images (N, C, H, W) as uint8, its labels and its class names."""
    if name == FOLDER:
        return load_folder(root, split, size or DEFAULT_SIZE)
    if name == "cifar10":
        return (*read_cifar10(split, root, download), CIFAR_CLASSES)
    if name == "digits":
        images, labels = _digits_arrays(split)
        return images[:, None], labels, DIGIT_CLASSES  # (N, H, W) -> (N, 1, H, W)
    classes = FASHION_CLASSES if name == "fashion_mnist" else DIGIT_CLASSES
    folder = find_idx_folder(name, split, root, download)
    images, labels = read_split(name, split, folder, len(classes))
    return images[:, None], labels, classes


def find_dataset(name: str, root: str | Path | None = None) -> Path | None:
    """The folder that holds ``name``'s IDX files, or None: what ``genaug doctor`` reports."""
    if name == "digits":
        return Path("scikit-learn")
    if name == "cifar10":
        return find_cifar10(root)
    return next((d for d in candidate_dirs(name, root) if has_all_files(d)), None)


def default_dataset() -> str:
    """Fashion-MNIST where its files are found, else the always-available digits."""
    return "fashion_mnist" if find_dataset("fashion_mnist") is not None else "digits"


@functools.lru_cache(maxsize=2)
def _digits_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as uint8 images, split 80/20 per class with a fixed seed."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    labels = bunch.target.astype(np.int64)
    test = torch.zeros(len(labels), dtype=torch.bool)
    generator = make_generator(0)
    for c in range(10):
        members = torch.from_numpy(np.flatnonzero(labels == c))
        n_test = round(len(members) * DIGITS_TEST_FRACTION)
        test[shuffled(members, generator)[:n_test]] = True
    keep = test.numpy() if split == "test" else ~test.numpy()
    return images[keep], labels[keep]


def shuffled(members: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``members`` in a random order drawn from ``generator`` (a seeded, repeatable shuffle)."""
    return members[draw(torch.randperm, len(members), generator=generator, device=members.device)]


def stratified_indices(
    labels: torch.Tensor, per_class: int, seed: int, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """Positions of ``per_class`` randomly chosen examples of every class, the same for a seed.

    Each class is shuffled once per seed and its first ``per_class`` members are taken, so a
    smaller budget is always contained in a larger one for the same seed. ``exclude`` holds
    positions that may not be chosen (a validation set, say).
    """
    labels = labels.cpu()
    allowed = torch.ones(len(labels), dtype=torch.bool)
    if exclude is not None:
        allowed[exclude.cpu()] = False
    generator = make_generator(seed)
    chosen = []
    for c in range(int(labels.max()) + 1):
        members = torch.nonzero((labels == c) & allowed).flatten()
        if per_class > len(members):
            raise ValueError(
                f"Asked for {per_class} images of class {c}, but only {len(members)} are "
                "available; lower per_class (or the size of the excluded set)."
            )
        chosen.append(shuffled(members, generator)[:per_class])
    return torch.cat(chosen).sort().values


def stratified_subset(dataset: ImageDataset, per_class: int, seed: int = 0) -> ImageDataset:
    """A labelled budget: ``per_class`` images of every class, chosen reproducibly by ``seed``."""
    return dataset.subset(stratified_indices(dataset.labels, per_class, seed))


def imbalanced_subset(
    dataset: ImageDataset, minority: Sequence[int], fraction: float, seed: int = 0
) -> ImageDataset:
    """Keep every class whole except the ``minority`` ones, cut to ``fraction`` of their images."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    bad = [c for c in minority if not 0 <= c < dataset.n_classes]
    if bad:
        raise ValueError(f"Classes {bad} do not exist; use ids in 0..{dataset.n_classes - 1}.")
    labels = dataset.labels.cpu()
    generator = make_generator(seed)
    keep = torch.ones(len(labels), dtype=torch.bool)
    for c in minority:
        members = torch.nonzero(labels == c).flatten()
        n_keep = max(1, round(len(members) * fraction))
        dropped = shuffled(members, generator)[n_keep:]
        keep[dropped] = False
    return dataset.subset(torch.nonzero(keep).flatten())


class DeviceLoader:
    """Shuffled mini-batches of tensors that already live on the device.

    A batch is one indexing operation, ``tensor[idx]`` with ``idx`` from ``randperm``: no
    per-sample Python, no worker processes, no copies from the CPU. It is what makes small
    models fast on a GPU, where a classic ``DataLoader`` would leave it waiting.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = True,
                 drop_last: bool = False, seed: int = 0) -> None:
        if not tensors:
            raise ValueError("DeviceLoader needs at least one tensor, e.g. "
                             "DeviceLoader(x, y, ...).")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            lengths = [t.shape[0] for t in tensors]
            raise ValueError(f"All tensors need the same length, got {lengths}.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if n == 0:
            raise ValueError("DeviceLoader got tensors of length 0; check the subset passed in.")
        if drop_last and batch_size > n:
            raise ValueError(
                f"{n} examples cannot fill a batch of {batch_size} with drop_last=True; "
                "lower the batch size."
            )
        self.tensors, self.batch_size = tensors, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.generator = make_generator(seed)

    def __len__(self) -> int:
        n = self.tensors[0].shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        """One epoch: every example exactly once (minus a short last batch with drop_last)."""
        n, device = self.tensors[0].shape[0], self.tensors[0].device
        order = (draw(torch.randperm, n, generator=self.generator, device=device) if self.shuffle
                 else torch.arange(n, device=device))
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start: start + self.batch_size]
            yield tuple(t[idx] for t in self.tensors)

    def forever(self) -> Iterator[tuple[torch.Tensor, ...]]:
        """Batches epoch after epoch, for loops that count steps rather than epochs."""
        while True:
            yield from self


def batches(
    data: ImageDataset, batch_size: int, seed: int, augment: AugmentConfig | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless shuffled (images, labels) batches, classically augmented if ``augment`` is set."""
    loader = DeviceLoader(data.images, data.labels, batch_size=batch_size, seed=seed)
    generator = make_generator(seed + 1)
    for x, y in loader.forever():
        yield (augment_batch(x, generator, augment) if augment is not None else x), y
