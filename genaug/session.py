"""The notebooks' one setup call, and the environment report behind ``python -m genaug doctor``."""

from __future__ import annotations

import platform
import sys

import matplotlib
import matplotlib.pyplot as plt
import torch

from genaug.config import QUICK_ENV, is_quick, mode
from genaug.data import DATASETS, find_dataset
from genaug.device import describe, get_device, seed_everything


def setup(seed: int = 0, device: str | None = None) -> torch.device:
    """Seed everything, choose the device, set plot defaults, and say what was found.

    Every notebook's first cell calls this, so the setup is one line rather than pasted code.
    """
    seed_everything(seed)
    chosen = get_device(device)
    plt.rcParams.update({"figure.dpi": 80, "figure.autolayout": True, "image.cmap": "gray"})
    from genaug import __version__

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
        ("matplotlib", matplotlib.__version__),
        ("device", describe(device)),
        ("mode", mode()),
    ]
    for name in DATASETS:
        found = find_dataset(name)
        rows.append((f"data: {name}", str(found) if found else "not found"))
    return rows
