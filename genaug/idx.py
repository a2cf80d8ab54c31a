"""The MNIST family's IDX files: where to find them, how to read them, and how to trust them.

The four files of a dataset (train and test images and labels) must come from one folder, and
their *decompressed* content must match the checksums below. Checksums of the ``.gz`` files
would not do: Debian's package compresses the same bytes differently from the official
downloads (torchvision's MD5s do not match it). The content checksums were recorded from
Debian's ``dataset-fashion-mnist`` and agree with public records of the official archives; the
MNIST ones come from those public records. A mismatch means a damaged file or another dataset
(Fashion-MNIST and MNIST share file names); ``GENAUG_VERIFY_DATA=0`` accepts files that are
meant to differ.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import sys
import zlib
from pathlib import Path

import numpy as np

from genaug.config import DOWNLOAD_ENV, VERIFY_ENV, env_flag

DATA_ENV = "GENAUG_DATA"  # torchvision's root folder for downloads and lookups
DEBIAN_DIRS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
TORCHVISION_NAMES = {"fashion_mnist": "FashionMNIST", "mnist": "MNIST"}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CONTENT_SHA256 = {  # SHA-256 of each decompressed file
    "fashion_mnist": {
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    "mnist": {
        "train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
}


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are in none of the places looked at (the message lists them)."""


class DataFileError(ValueError):
    """An IDX file that is damaged, truncated, or belongs to another dataset."""


def idx_path(folder: Path, stem: str) -> Path | None:
    """The file ``stem`` or ``stem.gz`` in ``folder``, or None."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def has_all_files(folder: Path) -> bool:
    """True when ``folder`` holds all four files: a dataset never mixes two places."""
    return all(idx_path(folder, stem) is not None for stems in IDX_FILES.values()
               for stem in stems)


def _raw_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it is a ``.gz``; a broken stream names the file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataFileError(f"{path} is not a complete gzip file ({error}); replace it with a "
                            "fresh copy.") from None


def _check_content(name: str, stem: str, path: Path, data: bytes) -> None:
    """Compare the content's checksum with the recorded one, unless GENAUG_VERIFY_DATA=0."""
    if not env_flag(VERIFY_ENV, True):
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest == CONTENT_SHA256[name][stem]:
        return
    other = next((n for n, sums in CONTENT_SHA256.items() if sums.get(stem) == digest), None)
    what = f"is {other}'s file, not {name}'s" if other else "is damaged or another dataset"
    raise DataFileError(f"{path} {what} (its content checksum differs); replace it, or set "
                        f"{VERIFY_ENV}=0 to accept a file that is meant to differ.")


@functools.lru_cache(maxsize=8)
def read_idx(name: str, stem: str, path: Path) -> np.ndarray:
    """Parse one IDX file, checked: a 4-byte magic, the sizes, then unsigned bytes."""
    data = _raw_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataFileError(f"{path} is not an unsigned-byte IDX file; replace it.")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise DataFileError(f"{path} is truncated or corrupt ({len(data)} bytes); replace it.")
    _check_content(name, stem, path, data)
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape).copy()  # writable


def read_split(name: str, split: str, folder: Path, n_classes: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """One split's images (N, H, W) and labels (N,) from ``folder``, checked to fit together."""
    image_stem, label_stem = IDX_FILES[split]
    images = read_idx(name, image_stem, idx_path(folder, image_stem))
    label_path = idx_path(folder, label_stem)
    labels = read_idx(name, label_stem, label_path)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise DataFileError(f"The IDX files in {folder} do not fit together (images "
                            f"{images.shape}, labels {labels.shape}); replace them.")
    if labels.size and int(labels.max()) >= n_classes:
        raise DataFileError(f"{label_path} holds label {int(labels.max())}, but {name} has "
                            f"classes 0..{n_classes - 1}; replace the file.")
    return images, labels


def torchvision_root() -> Path:
    return Path(os.environ.get(DATA_ENV) or Path.home() / ".cache" / "genaug" / "data")


def candidate_dirs(name: str, root: str | Path | None) -> list[Path]:
    """Every folder that may hold ``name``'s IDX files, in lookup order.

    In torchvision's root only the dataset's own subfolder counts: MNIST and Fashion-MNIST use
    the same file names, so files lying loose there could belong to either.
    """
    folder = TORCHVISION_NAMES[name]
    dirs = []
    if root is not None:
        given = Path(root).expanduser()
        dirs += [given, given / folder / "raw", given / "raw"]
    dirs.append(torchvision_root() / folder / "raw")
    if name in DEBIAN_DIRS:
        dirs.append(DEBIAN_DIRS[name])
    return dirs


def download_allowed(download: bool | None) -> bool:
    """``download`` if given, else ``GENAUG_DOWNLOAD``, else only on Colab."""
    if download is not None:
        return download
    return bool(env_flag(DOWNLOAD_ENV, "google.colab" in sys.modules))  # Colab downloads


def find_idx_folder(name: str, split: str, root, download: bool | None) -> Path:
    """The first folder holding all four of ``name``'s files, downloading them if allowed."""
    candidates = candidate_dirs(name, root)
    for folder in candidates:
        if has_all_files(folder):  # all four files from one place, never a mix
            return folder
    if download_allowed(download):
        import torchvision  # imported here: only a download needs it

        dataset_cls = getattr(torchvision.datasets, TORCHVISION_NAMES[name])
        dataset_cls(str(torchvision_root()), train=split == "train", download=True)
        return torchvision_root() / TORCHVISION_NAMES[name] / "raw"
    looked = "\n".join(f"  - {d}" for d in candidates)
    debian = (
        "  2. Debian/Ubuntu, offline: sudo apt-get install dataset-fashion-mnist\n"
        if name in DEBIAN_DIRS else ""
    )
    raise DatasetNotFoundError(
        f"{name} ({split} split) was not found. Looked for its IDX files in:\n{looked}\n"
        "Ways to get it:\n"
        f"  1. Online: load_dataset({name!r}, download=True), or set {DOWNLOAD_ENV}=1.\n"
        f"{debian}"
        "  3. Copy the four IDX files (train-images-idx3-ubyte.gz, ...) into a folder and pass\n"
        f"     root='that/folder', or put them in $GENAUG_DATA/{TORCHVISION_NAMES[name]}/raw.\n"
        "Or use load_dataset('digits'): it ships with scikit-learn and needs no download."
    )
