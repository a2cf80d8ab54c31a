"""What every exercise check shares: the two verdicts, a guarded call, and small comparisons."""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator

import torch


class CheckFailed(AssertionError):
    """A self-check found a mistake; the message says what is wrong and what to look at."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the verdict alone."""
        return [f"{type(self).__name__}: {self}"]


class NotDoneYet(CheckFailed, NotImplementedError):
    """The function checked is still the exercise's stub."""


def _your(fn: Callable) -> str:
    """'your <name>' for messages, or 'your function' when ``fn`` has no name (a partial)."""
    return f"your {getattr(fn, '__name__', 'function')}"


def _run(fn: Callable, *args, **kwargs):
    """Call the learner's function; turn a stub or a crash into a message in words."""
    try:
        return fn(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError as error:
        raise NotDoneYet(
            f"not done yet: {_your(fn)} still raises NotImplementedError ({error}). Replace the "
            "`raise` line with your code, run that cell, then run this check again."
        ) from None
    except Exception as error:
        shapes = ", ".join(str(tuple(a.shape)) for a in args if isinstance(a, torch.Tensor))
        raise CheckFailed(
            f"{_your(fn)} raised {type(error).__name__}: {error}"
            + (f" (it was given tensors of shape {shapes})" if shapes else "")
        ) from None


def _expect(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def _ok(message: str) -> None:
    """Report one thing the learner got right."""
    print(f"\u2713 {message}")


def _passed(summary: str) -> None:
    """The last line of a check that found nothing wrong."""
    print(f"All checks passed: {summary}")


def _tensor(value, fn: Callable, shape: tuple | None = None) -> torch.Tensor:
    """The learner's return value as a tensor, failing in words if it is not one of ``shape``."""
    _expect(isinstance(value, torch.Tensor),
            f"{_your(fn)} returned a {type(value).__name__}; return a torch.Tensor.")
    if shape is not None:
        _expect(tuple(value.shape) == tuple(shape),
                f"{_your(fn)} returned shape {tuple(value.shape)}, expected {tuple(shape)}.")
    return value


def _number(value, fn: Callable) -> float:
    """A Python float from a number or a one-element tensor."""
    if isinstance(value, torch.Tensor):
        _expect(value.numel() == 1, f"{_your(fn)} returned a tensor of shape "
                f"{tuple(value.shape)}; return one number (average over the batch: .mean()).")
        return float(value.detach())
    _expect(isinstance(value, (int, float)),
            f"{_your(fn)} returned a {type(value).__name__}; return a number.")
    return float(value)


def _tuple(value, fn: Callable, size: int, what: str) -> tuple:
    """The learner's return value as a tuple of ``size`` items (``what`` names them)."""
    _expect(isinstance(value, tuple) and len(value) == size, f"{_your(fn)} should return {what}.")
    return value


def _close(a: float, b: float, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """``a`` is finite and within tolerance of ``b`` (a NaN from the learner never passes)."""
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _fmt(t: torch.Tensor) -> str:
    """A short tensor for a message: [1.23, 4.56, ...] at three significant digits."""
    return "[" + ", ".join(f"{v:.3g}" for v in t.flatten().tolist()) + "]"


@contextlib.contextmanager
def _seeded(seed: int = 0) -> Iterator[None]:
    """Fixed random numbers inside a check, without disturbing the notebook's own stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _gen(seed: int) -> torch.Generator:
    """A fresh CPU generator with ``seed``, to hand to the learner's function."""
    return torch.Generator().manual_seed(seed)
