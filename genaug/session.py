"""The notebooks' one setup call, and the environment report behind ``python -m genaug doctor``.

Matplotlib is loaded inside :func:`setup` only, so that importing genaug (to train a model in a
script, on a server) never pays for, or depends on, the plotting stack.
"""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

import torch

from genaug import __version__
from genaug.config import QUICK_ENV, is_quick, mode
from genaug.data import DATASETS, find_dataset
from genaug.device import describe, get_device, keep_freed_cpu_memory, seed_everything


def setup(seed: int = 0, device: str | None = None) -> torch.device:
    """Seed everything, choose the device, set plot defaults, and say what was found.

    Every notebook's first cell calls this, so the setup is one line rather than pasted code.
    """
    from genaug.plots import use_course_style  # the one place setup needs matplotlib

    seed_everything(seed)
    keep_freed_cpu_memory()  # a third less training time on a CPU
    chosen = get_device(device)
    use_course_style()
    note = f" ({QUICK_ENV}=1: small data, few steps)" if is_quick() else ""
    print(f"genaug {__version__} | torch {torch.__version__} | device: {describe(chosen)} | "
          f"mode: {mode()}{note} | seed: {seed}")
    if "google.colab" in sys.modules and chosen.type == "cpu":
        print("No GPU found: in Colab choose Runtime > Change runtime type > GPU, then rerun.")
    return chosen


def environment_report() -> list[tuple[str, str]]:
    """(what, finding) pairs: versions, the device, and where each dataset was found."""
    device = get_device()
    rows = [
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        ("matplotlib", _installed_version("matplotlib")),
        ("device", describe(device)),
        ("mode", mode()),
    ]
    for name in DATASETS:
        found = find_dataset(name)
        rows.append((f"data: {name}", str(found) if found else "not found"))
    return rows


def _installed_version(package: str) -> str:
    """A package's installed version, read without importing it (or 'not installed')."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
