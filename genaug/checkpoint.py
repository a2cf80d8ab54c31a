"""Checkpoints that survive crashes and never run code: atomic writes, ``weights_only`` loads.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (the model's config
is stored as a dict beside its weights), so ``torch.load(weights_only=True)`` can read it
without unpickling arbitrary objects, and a config mismatch is caught with a clear message.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn

from genaug.config import cache_dir
from genaug.history import History


class CheckpointMismatchError(ValueError):
    """A checkpoint was written for a different model than the one it is loaded into."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a crash mid-save leaves the old file intact.

    The bytes go to a temporary file in the same folder, are flushed to disk, and only then
    renamed over the target (``os.replace`` is atomic on one file system).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no arbitrary code can run on load)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}; train the model first or fix the path.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # a truncated or foreign file: say which, not a pickle trace
        raise CheckpointMismatchError(
            f"{path} is not a readable genaug checkpoint ({type(error).__name__}: {error}). "
            "Delete it and train again."
        ) from None


def model_state(model: nn.Module) -> dict[str, Any]:
    """What a model's checkpoint holds: its class name, config (as a dict) and weights."""
    return {
        "model_class": type(model).__name__,
        "config": dataclasses.asdict(model.config),
        "model": model.state_dict(),
    }


def restore_model(model: nn.Module, state: dict[str, Any]) -> nn.Module:
    """Load a checkpoint's weights into ``model`` after checking it is the same kind of model."""
    saved_class, saved_config = state.get("model_class"), state.get("config", {})
    if saved_class != type(model).__name__:
        raise CheckpointMismatchError(
            f"The checkpoint holds a {saved_class}, not a {type(model).__name__}; "
            "build the model the checkpoint was saved from."
        )
    config = dataclasses.asdict(model.config)
    diffs = [f"{k}: checkpoint {saved_config.get(k)!r}, model {v!r}"
             for k, v in config.items() if _plain(saved_config.get(k)) != _plain(v)]
    if diffs:
        raise CheckpointMismatchError(
            "The checkpoint was saved from a model with another config (" + "; ".join(diffs)
            + "). Build the model with the checkpoint's config, or train a new one."
        )
    model.load_state_dict(state["model"])
    return model


def _plain(value: Any) -> Any:
    """Tuples and lists compare equal: a config round trip may turn one into the other."""
    return list(value) if isinstance(value, tuple) else value


def save_model(model: nn.Module, path: str | Path, **extra: Any) -> Path:
    """Save a model (config, weights and any ``extra`` values such as a history)."""
    return save_checkpoint(path, {**model_state(model), **extra})


def load_model(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load weights from ``path`` into ``model``; returns the checkpoint's other entries."""
    state = load_checkpoint(path, map_location=next(model.parameters()).device)
    restore_model(model, state)
    return {k: v for k, v in state.items() if k not in ("model_class", "config", "model")}


def shown_path(path: Path) -> str:
    """``path`` as a learner reads it: under the home folder as ``~/...``, whoever runs it."""
    try:
        return str(Path("~") / Path(path).resolve().relative_to(Path.home().resolve()))
    except ValueError:  # outside the home folder
        return str(path)


def cached(
    name: str, model: nn.Module, train: Callable[[nn.Module], History], folder: Path | None = None
) -> History:
    """Load ``name``'s checkpoint into ``model`` if one exists for the same config, else train.

    ``train(model)`` trains in place and returns its History, which is saved beside the
    weights and returned either way. This is the pattern for every expensive notebook cell:
    the second run, or a restarted Colab session, skips the training.
    """
    path = (folder or cache_dir()) / f"{name}.pt"
    if path.is_file():
        try:
            history = History.from_dict(load_model(model, path)["history"])
            print(f"Loaded {name} from {shown_path(path)} (delete the file to train again).")
            return history
        except (CheckpointMismatchError, KeyError) as error:
            print(f"Retraining {name}: the cached checkpoint does not fit ({error})")
    history = train(model)
    save_model(model, path, history=history.to_dict())
    return history
