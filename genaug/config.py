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

# The repository's address: the one place it is written (the notebooks' first cells are
# generated from it by scripts/sync_setup_cells.py, and a test fails when they drift).
REPO_URL = "https://github.com/genaug-course/genaug"


def is_quick() -> bool:
    """True when quick mode (small data, few steps) is switched on by ``GENAUG_QUICK``."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def set_quick(on: bool = True) -> None:
    """Switch quick mode on or off for this process (and the processes it starts)."""
    os.environ[QUICK_ENV] = "1" if on else "0"


def mode() -> str:
    """The current mode's name, ``"quick"`` or ``"full"``: used in printouts and cache paths."""
    return "quick" if is_quick() else "full"


def pick(full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise: the one place sizes switch."""
    return quick if is_quick() else full


def cache_dir() -> Path:
    """Folder for checkpoints and results of expensive cells, separate per mode.

    ``GENAUG_CACHE`` overrides the default ``~/.cache/genaug``; quick and full runs never share
    a checkpoint, so a quick test run cannot hand a notebook a half-trained full-mode model.
    """
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "genaug")
    path = root / mode()
    path.mkdir(parents=True, exist_ok=True)
    return path
