"""Evaluation mode for the length of a block: the one place a model is switched there and back."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch.nn as nn


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Run the block in eval mode (batch norm uses running statistics, dropout is off), then
    restore the mode the model had, so a sample or a score never changes how it trains."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
