"""Training a shipped model from its recipe, resumably, and writing its weights and record.

``python -m genaug pretrain NAME`` calls :func:`pretrain`: it trains ``NAME``'s recipe (see
:data:`genaug.pretrained.RECIPES`) with the course's own ``fit_*`` loop, saving its whole state
every few hundred steps so a stopped run carries on where it was; then it stores the weights in
float16, reloads them as a learner would and measures that copy with notebook 06's measures.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import date
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from genaug.augment import config_for
from genaug.checkpoint import model_state, save_checkpoint
from genaug.config import cache_root
from genaug.data import FOLDER, ImageDataset, load_dataset
from genaug.device import describe, get_device
from genaug.evaluation import evaluate
from genaug.metrics import class_accuracy, reference_classifier, sample_quality
from genaug.pretrained import build, folder, load, recipe_of, sha256
from genaug.toyfolder import make_shapes_folder
from genaug.train import fit_classifier, fit_gan, fit_vae
from genaug.train_diffusion import fit_diffusion

SHAPES_PER_CLASS = 500  # notebook 10's full-mode folder
QUALITY_SAMPLES = 2000  # samples scored per generator (200 per class for ten classes)
FIT = {"vae": fit_vae, "gan": fit_gan, "diffusion": fit_diffusion, "classifier": fit_classifier}


def training_data(name: str, device: torch.device) -> tuple[ImageDataset, ImageDataset]:
    """The recipe's (train, test) splits: Fashion-MNIST, or notebook 10's shapes folder."""
    recipe = recipe_of(name)
    if recipe.data == "shapes":
        return tuple(load_dataset(FOLDER, split, root=shapes_folder(), device=device)
                     for split in ("train", "test"))
    return tuple(load_dataset(recipe.data, split, device=device) for split in ("train", "test"))


def shapes_folder() -> Path:
    """Notebook 10's offline colour folder at its full-mode size, drawn once into the cache."""
    return make_shapes_folder(cache_root() / "shapes", per_class=SHAPES_PER_CLASS)


def fit(name: str, model: nn.Module, train: ImageDataset, state: Path) -> None:
    """Train ``model`` by ``name``'s recipe; ``state`` holds the resumable run."""
    recipe = recipe_of(name)
    options = dict(recipe.fit)
    if options.get("augment") == "classical":
        options["augment"] = config_for(train.name, train.channels)
    FIT[recipe.family](model, train, recipe.steps, seed=recipe.seed, checkpoint=state,
                       checkpoint_every=250, desc=name, **options)


def judge_for(name: str, device: torch.device) -> nn.Module | None:
    """The judge of a generator's samples: the shipped judge for Fashion-MNIST models, the
    shapes folder's reference classifier (as notebook 10 builds it) for the colour ones; None
    for the judge itself."""
    if name == "judge":
        return None
    if recipe_of(name).data == "shapes":
        return reference_classifier(FOLDER, device, root=shapes_folder())
    return load("judge", device)


def quality(name: str, model: nn.Module, test: ImageDataset,
            judge: nn.Module | None) -> dict[str, float]:
    """The record's measures: the judge's test accuracy, or a generator's sample quality."""
    if name == "judge":
        return {"test accuracy": round(evaluate(model, test)["accuracy"], 4)}
    return sample_quality(model, test, judge, QUALITY_SAMPLES) if judge is not None else {}


def ship(name: str, model: nn.Module, train: ImageDataset, seconds: float,
         out: Path) -> dict[str, Any]:
    """Write ``out/<name>.pt`` (float16 weights) and the record of how it was made; the record."""
    state = model_state(model)
    state["model"] = {k: v.half() if v.is_floating_point() else v
                      for k, v in state["model"].items()}
    state["shape"] = {"image_size": train.image_size, "channels": train.channels,
                      "n_classes": train.n_classes}
    weights = save_checkpoint(out / f"{name}.pt", state)
    recipe = recipe_of(name)
    facts: dict[str, Any] = {
        "name": name, "notebook": recipe.notebook, "model_class": type(model).__name__,
        "config": state["config"], "recipe": {"steps": recipe.steps, "seed": recipe.seed,
                                              "data": recipe.data, **recipe.fit},
        "trained_on": f"{train.name}: {len(train)} images of {train.channels}x"
                      f"{train.image_size}x{train.image_size}",
        "wall_seconds": round(seconds, 1), "hardware": hardware(model),
        "torch": torch.__version__, "date": date.today().isoformat(),
        "dtype": "float16", "sha256": sha256(weights),
    }
    (out / f"{name}.json").write_text(json.dumps(facts, indent=1) + "\n")
    return facts


def hardware(model: nn.Module) -> str:
    """The device the model trained on, with the processor's name where it was a CPU."""
    device = next(model.parameters()).device
    if device.type != "cpu":
        return describe(device)
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in
             (cpuinfo.read_text().splitlines() if cpuinfo.is_file() else [])
             if line.startswith("model name")]
    return f"{describe(device)}, {names[0] if names else platform.machine()}"


def pretrain(name: str, device: torch.device | None = None, out: Path | None = None) -> dict:
    """Train ``name`` from scratch (resuming a stopped run), ship it, measure it; its record."""
    device = device or get_device()
    out = out or folder()
    train, test = training_data(name, device)
    torch.manual_seed(recipe_of(name).seed)
    model = build(name, train.image_size, train.channels, train.n_classes).to(device)
    state = cache_root() / "pretrain" / f"{name}-state.pt"
    clock = _Clock(state)
    fit(name, model, train, state)
    facts = ship(name, model, train, clock.total(), out)
    shipped = load(name, device, root=out)  # the copy just written, as a learner reads it
    judge = judge_for(name, device)
    facts["quality"] = quality(name, shipped, test, judge)
    if recipe_of(name).data == "shapes":  # a judge trained here, not shipped: say how good it is
        facts["quality"]["judge on real test images"] = round(
            class_accuracy(judge, test.images, test.labels), 4)
    (out / f"{name}.json").write_text(json.dumps(facts, indent=1) + "\n")
    return facts


class _Clock:
    """Training time over every part of a resumed run. A stopped part counts up to the last
    state it saved (the file's modification time); the sum is kept beside the state."""

    def __init__(self, state: Path) -> None:
        self.log = state.with_suffix(".time.json")
        spent = json.loads(self.log.read_text()) if self.log.is_file() else {}
        self.seconds = spent.get("seconds", 0.0)
        if "part_started" in spent and state.is_file():
            self.seconds += max(0.0, state.stat().st_mtime - spent["part_started"])
        self.started = time.time()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_text(json.dumps({"seconds": self.seconds, "part_started": self.started}))

    def total(self) -> float:
        """Seconds of every part so far, this one included."""
        return self.seconds + time.time() - self.started

