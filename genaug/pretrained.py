"""The course's full-recipe models, trained once and shipped in ``pretrained/``: ``load(name)``.

Every generated image the notebooks train in quick mode comes from a model a CPU can fit in a
minute; these show what the same method does when it has learned. Each file has a record
beside it (``<name>.json``: recipe, steps, wall time, hardware, torch version, SHA-256 and
measured quality), the weights are checked against that hash before they are read, and
``python -m genaug pretrain NAME`` retrains any of them from scratch with the same recipe, so
nothing shipped is a black box. Training and measuring live in :mod:`genaug.pretraining`.

A pretrained generator saw every training label: the experiment's fair arms never use one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from genaug.checkpoint import CheckpointMismatchError, restore_model
from genaug.models.classifier import ClassifierConfig, SmallCNN
from genaug.models.diffusion import Diffusion, DiffusionConfig
from genaug.models.gan import GAN, GANConfig
from genaug.models.vae import VAE, VAEConfig

PRETRAINED_ENV = "GENAUG_PRETRAINED"  # another folder of shipped models (default: the repo's)
MODELS = {"vae": (VAE, VAEConfig), "gan": (GAN, GANConfig),
          "diffusion": (Diffusion, DiffusionConfig), "classifier": (SmallCNN, ClassifierConfig)}


@dataclass(frozen=True)
class Recipe:
    """How one shipped model is trained: the notebook's full-mode settings, written once."""

    notebook: str  # where the recipe is taught
    family: str  # a key of MODELS
    config: dict[str, Any]  # the model config's fields (image size and classes come from data)
    steps: int
    fit: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the fit_* loop
    data: str = "fashion_mnist"  # or "shapes": notebook 10's offline colour folder
    seed: int = 0


_CVAE = {"latent_dim": 16, "width": 32, "hidden": 256}
_CGAN = {"arch": "dcgan", "latent_dim": 64, "width": 64, "loss": "hinge", "ema_decay": 0.995}
_CGAN_FIT = {"batch_size": 128, "lr_g": 5e-4, "lr_d": 1.5e-3}  # TTUR: D three times faster
_EXPERIMENT_FIT = {"batch_size": 128}  # the experiment's full preset (notebook 10 uses it)

RECIPES: dict[str, Recipe] = {
    "judge": Recipe("06", "classifier", {"width": 32}, 6000,
                    {"batch_size": 256, "augment": "classical"}, seed=1234),
    "vae": Recipe("02", "vae", _CVAE, 3000, {"batch_size": 512, "lr": 3e-3}),
    "cvae": Recipe("03", "vae", {**_CVAE, "beta": 3.0, "conditional": True}, 8000,
                   {"batch_size": 512, "lr": 3e-3}),
    "gan": Recipe("04", "gan", {"arch": "mlp", "latent_dim": 64, "width": 64}, 3000,
                  {"batch_size": 128, "lr_g": 1e-3, "lr_d": 1e-3}),
    "dcgan": Recipe("04", "gan", {"arch": "dcgan", "latent_dim": 64, "width": 64}, 3000,
                    {"batch_size": 128, "lr_g": 2e-4, "lr_d": 2e-4}),
    "cgan": Recipe("05", "gan", {**_CGAN, "conditional": True}, 5000, _CGAN_FIT),
    "diffusion": Recipe("08", "diffusion", {"width": 64, "sample_steps": 20, "guidance": 2.0,
                                            "conditional": True}, 6000,
                        {"batch_size": 128, "lr": 2e-3}),
    "colour-cvae": Recipe("10", "vae", {"latent_dim": 16, "width": 32, "conditional": True},
                          2000, {**_EXPERIMENT_FIT, "lr": 2e-3}, data="shapes"),
    "colour-cgan": Recipe("10", "gan", {**_CGAN, "conditional": True}, 2000,
                          {**_EXPERIMENT_FIT, "lr_g": 5e-4, "lr_d": 1.5e-3}, data="shapes"),
    "colour-diffusion": Recipe("10", "diffusion", {"width": 64, "sample_steps": 20,
                                                   "guidance": 2.0, "conditional": True}, 2000,
                               {**_EXPERIMENT_FIT, "lr": 2e-3}, data="shapes"),
}


class PretrainedError(ValueError):
    """A shipped model is missing, tampered with or truncated: one line names it and the fix."""


def folder() -> Path:
    """Where shipped models live: ``GENAUG_PRETRAINED`` or the repository's ``pretrained/``."""
    return Path(os.environ.get(PRETRAINED_ENV) or Path(__file__).resolve().parents[1]
                / "pretrained")


def build(name: str, image_size: int, channels: int, n_classes: int) -> nn.Module:
    """An untrained model of ``name``'s recipe for images of this size, channels and classes."""
    recipe = recipe_of(name)
    model_class, config_class = MODELS[recipe.family]
    fields = {k: v for k, v in recipe.config.items() if k != "conditional"}
    conditional = recipe.config.get("conditional") or recipe.family == "classifier"
    sized = {"channels": channels, "n_classes": n_classes if conditional else 0}
    if recipe.family != "classifier":
        sized["image_size"] = image_size
    return model_class(config_class(**fields, **sized))


def recipe_of(name: str) -> Recipe:
    """``name``'s recipe, or an error listing the names there are."""
    if name not in RECIPES:
        raise PretrainedError(f"No pretrained model is called {name!r}; choose one of "
                              f"{', '.join(RECIPES)}.")
    return RECIPES[name]


def record(name: str, root: Path | None = None) -> dict[str, Any]:
    """The record shipped beside ``name``'s weights (recipe, hash, hardware, quality)."""
    path = (root or folder()) / f"{name}.json"
    recipe_of(name)
    if not path.is_file():
        raise PretrainedError(f"{path} is missing: train it with `python -m genaug pretrain "
                              f"{name}` (or pull the repository's pretrained/ folder).")
    return json.loads(path.read_text())


def summary(name: str) -> str:
    """One line from ``name``'s record: its recipe, how long it trained, on what, its hash."""
    facts = record(name)
    minutes = facts["wall_seconds"] / 60
    return (f"{name}: notebook {facts['notebook']}'s full recipe, {facts['recipe']['steps']:,} "
            f"steps on {facts['trained_on']}; {minutes:.0f} min on {facts['hardware']}, torch "
            f"{facts['torch']}, {facts['date']}; sha256 {facts['sha256'][:12]}... (retrain: "
            f"python -m genaug pretrain {name})")


def available() -> list[str]:
    """The names whose weights and record are both shipped."""
    return [n for n in RECIPES if (folder() / f"{n}.pt").is_file()
            and (folder() / f"{n}.json").is_file()]


def sha256(path: Path) -> str:
    """The file's SHA-256 in hex: what a record promises its weights hash to."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(name: str, device: torch.device | str = "cpu", root: Path | None = None) -> nn.Module:
    """``name``'s shipped model, hash-checked, in eval mode on ``device`` (float32).

    Generators keep their ``sample(n, labels, generator)``; the judge is a SmallCNN.
    """
    facts = record(name, root)
    path = (root or folder()) / f"{name}.pt"
    retrain = f"retrain it with `python -m genaug pretrain {name}`"
    if not path.is_file() or sha256(path) != facts.get("sha256"):
        raise PretrainedError(f"{path} is missing or does not match the SHA-256 in its record "
                              f"(tampered with or truncated); {retrain}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        shape = state["shape"]
        model = build(name, shape["image_size"], shape["channels"], shape["n_classes"])
        state["model"] = {k: v.float() if v.is_floating_point() else v
                          for k, v in state["model"].items()}
        restore_model(model, state)
    except (CheckpointMismatchError, KeyError, RuntimeError) as error:
        raise PretrainedError(f"{path} does not fit the recipe of {name!r} ({error}); "
                              f"{retrain}.") from None
    return model.to(device).eval()
