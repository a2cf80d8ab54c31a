"""What a training loop does besides the step: progress, logged means, failure checks, resuming.

Each piece is a small named helper, so that the loops in :mod:`genaug.train` show the step
itself in a few lines and a fixed order, as nanoGPT's loop does, with the bookkeeping one call
away: :class:`LossLog` (progress bar, running means, NaN check), :class:`DivergenceWatch` (a GAN
whose discriminator has won) and :class:`RunState` (save now and then, resume after a crash).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from genaug.checkpoint import load_checkpoint, model_state, restore_model, save_checkpoint
from genaug.config import PROGRESS_ENV, env_flag
from genaug.history import History


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite: training stopped instead of silently producing garbage."""


class TrainingDivergedError(RuntimeError):
    """A GAN's discriminator won outright: G gets no useful gradient, so training stopped."""


def progress_bar(total: int, desc: str, initial: int = 0) -> tqdm:
    """A tqdm bar (a widget in Jupyter, text in a terminal) unless GENAUG_PROGRESS=0."""
    hidden = not env_flag(PROGRESS_ENV, True)
    return tqdm(total=total, initial=initial, desc=desc, disable=hidden, dynamic_ncols=True)


def check_finite(value: float, name: str, step: int) -> float:
    """Raise :class:`NonFiniteLossError` with advice if ``value`` is NaN or infinite."""
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"The {name} became {value} by step {step}, so training stopped. Usual causes: a "
            "learning rate too high (try 3x lower), inputs outside [0, 1] or holding NaN, or a "
            "log of zero in a hand-written loss."
        )
    return value


def due(step: int, every: int, last: int) -> bool:
    """True at the last step and at every ``every``-th step after step 0 (none if every is 0)."""
    return step == last or (every > 0 and step > 0 and step % every == 0)


class LossLog:
    """A loop's progress bar and its losses' running means, logged every ``every`` steps.

    The sums stay on the device, so a step never waits for ``.item()``; only a logging step
    reads them, checks the ones named in ``checked`` (key -> name in the message) are finite,
    and writes every mean to the History and the bar.
    """

    def __init__(self, history: History, steps: int, start: int, every: int, desc: str,
                 **checked: str) -> None:
        self.history, self.steps, self.every, self.checked = history, steps, every, checked
        self.bar = progress_bar(steps, desc, initial=start)
        self.total, self.count = None, 0

    def __enter__(self) -> LossLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.bar.close()

    def add(self, step: int, **values: torch.Tensor) -> dict[str, float] | None:
        """Add step ``step``'s values; after every ``every``-th step and the last, log their
        means since the previous log and return them (None on the other steps)."""
        summed = torch.stack(list(values.values())).detach()
        self.total = summed if self.total is None else self.total + summed
        self.count += 1
        means = None
        if (step + 1) % self.every == 0 or step + 1 == self.steps:
            means = dict(zip(values, (self.total / self.count).tolist(), strict=True))
            self.total, self.count = None, 0
            for key, name in self.checked.items():
                check_finite(means[key], name, step + 1)
            self.history.log(step + 1, **means)
            self.bar.set_postfix({key: f"{value:.4g}" for key, value in means.items()})
        self.bar.update()
        return means


def smallest_d_loss(smoothing: float) -> float:
    """D's least possible loss: 0, or with label smoothing s the entropy of the soft target."""
    if smoothing <= 0:
        return 0.0
    return -(smoothing * math.log(smoothing) + (1 - smoothing) * math.log(1 - smoothing))


class DivergenceWatch:
    """Stops a GAN whose D has won: its logged loss within 0.01 of its least possible value
    for ``patience`` logs in a row means D rejects every fake and G learns nothing."""

    def __init__(self, smoothing: float, patience: int, log_every: int) -> None:
        self.floor, self.patience, self.log_every = smallest_d_loss(smoothing), patience, log_every
        self.wins = 0  # logs in a row at the floor

    def check(self, d_loss: float, step: int) -> None:
        """Count a log at the floor (or start counting again); raise, with advice, once D won."""
        self.wins = self.wins + 1 if d_loss - self.floor < 0.01 else 0
        if self.wins >= self.patience:
            raise TrainingDivergedError(
                f"The discriminator's loss stayed within 0.01 of its minimum ({self.floor:.3g}) "
                f"for {self.wins * self.log_every} steps (until step {step}): D rejects every "
                "generated image, so G gets no useful gradient. Try spectral_norm=True, "
                "label_smoothing=0.1, the hinge loss, or a lower lr_d."
            )


class RunState:
    """A run's full state (models, optimisers, step, history) saved now and then, and resumed.

    With ``path=None`` it does nothing. On Colab, pointing it at Google Drive turns a lost
    session into a few lost minutes: the next call of the same ``fit_*`` carries on from the
    last save (the batches it then draws differ, so numbers match an unbroken run only roughly).
    """

    def __init__(self, path: str | Path | None, every: int, **parts) -> None:
        self.path = Path(path) if path is not None else None
        self.every, self.parts = every, parts
        self.history = History()

    def resume(self) -> tuple[History, int]:
        """The History to log to and the step to start from: the saved ones, else new and 0."""
        if self.path is None or not self.path.is_file():
            return self.history, 0
        device = next(self.parts["model"].parameters()).device
        state = load_checkpoint(self.path, map_location=device)
        for name, part in self.parts.items():
            if isinstance(part, nn.Module):
                restore_model(part, state[name])
            else:
                part.load_state_dict(state[name])
        self.history = History.from_dict(state["history"])
        print(f"Resumed from {self.path} at step {state['step']}.")
        return self.history, int(state["step"])

    def save(self, step: int, final: bool = False) -> None:
        """Save every ``every`` steps, and at the ``final`` step whatever its number."""
        if self.path is None or not (final or (step > 0 and step % self.every == 0)):
            return
        state = {name: model_state(part) if isinstance(part, nn.Module) else part.state_dict()
                 for name, part in self.parts.items()}
        save_checkpoint(self.path, {**state, "step": step, "history": self.history.to_dict()})
