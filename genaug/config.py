"""Quick vs full mode: one switch so the same notebook cells run small on a CPU and large on a GPU.

Tests and CI set ``GENAUG_QUICK=1``; a learner on a GPU leaves it unset. Every size in the course
(dataset subsets, epochs, steps) is read through :func:`pick`, so no cell needs an ``if``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

QUICK_ENV = "GENAUG_QUICK"
CACHE_ENV = "GENAUG_CACHE"
DOWNLOAD_ENV = "GENAUG_DOWNLOAD"  # "1" allows torchvision to download, "0" forbids it
PROGRESS_ENV = "GENAUG_PROGRESS"  # "0" hides progress bars (stored notebook outputs stay clean)
VERIFY_ENV = "GENAUG_VERIFY_DATA"  # "0" accepts IDX files whose content checksum differs
FLAGS = (QUICK_ENV, DOWNLOAD_ENV, PROGRESS_ENV, VERIFY_ENV)
_WORDS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}

# The repository's address: the one place it is written (the notebooks' first cells are
# generated from it by `python scripts/nbtools.py sync`, and a test fails when they drift).
REPO_URL = "https://github.com/genaug-course/genaug"


def env_flag(name: str, default: bool | None = None) -> bool | None:
    """The on/off value of environment variable ``name``, ``default`` when it is unset or empty.

    A value that is not understood is an error, not a silent "off": ``GENAUG_QUICK=perhaps``
    once meant full mode.
    """
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    if text not in _WORDS:
        raise ValueError(f"{name}={os.environ[name]!r} is not understood; set it to 1 (on) or "
                         "0 (off), or unset it.")
    return _WORDS[text]


def is_quick() -> bool:
    """True when quick mode (small data, few steps) is switched on by ``GENAUG_QUICK``."""
    return bool(env_flag(QUICK_ENV, False))


def set_quick(on: bool = True) -> None:
    """Switch quick mode on or off for this process (and the processes it starts)."""
    os.environ[QUICK_ENV] = "1" if on else "0"


def mode() -> str:
    """The current mode's name, ``"quick"`` or ``"full"``: used in printouts and cache paths."""
    return "quick" if is_quick() else "full"


def pick(full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise: the one place sizes switch."""
    return quick if is_quick() else full


def cache_root() -> Path:
    """The cache's top folder, shared by both modes: ``GENAUG_CACHE`` or ``~/.cache/genaug``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "genaug")


def cache_dir() -> Path:
    """Folder for checkpoints and results of expensive cells, separate per mode.

    ``GENAUG_CACHE`` overrides the default ``~/.cache/genaug``; quick and full runs never share
    a checkpoint, so a quick test run cannot hand a notebook a half-trained full-mode model.
    """
    given = os.environ.get(CACHE_ENV)
    root = cache_root()
    path = root / mode()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        where = f"{CACHE_ENV}={given!r}" if given else f"the default cache {root}"
        raise ValueError(f"{where} cannot hold a cache folder ({error.strerror}); set "
                         f"{CACHE_ENV} to a folder you can write to.") from None
    return path


def check_environment() -> None:
    """Fail at once, naming the variable, if a GENAUG_* setting is not understood."""
    for name in FLAGS:
        env_flag(name)
    if os.environ.get(CACHE_ENV):
        cache_dir()
