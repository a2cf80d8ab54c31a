"""A small CNN classifier for 1-channel images of any size from 8x8 up.

It is the course's downstream model: the one whose test accuracy tells whether augmentation
helped. With ``n_models > 1`` the same module holds several independent classifiers side by
side (grouped convolutions, one weight slice per model), so a GPU trains a whole column of an
experiment in the time one tiny model would take; ``models/stacked.py`` holds what only such a
stack needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from genaug.models.stacked import (
    GroupedLinear,
    channels_to_models,
    copy_first_model,
    models_to_channels,
    stacked_cross_entropy,
)


@dataclass(frozen=True)
class ClassifierConfig:
    """Every knob of the classifier in one frozen place: change one with dataclasses.replace."""

    n_classes: int = 10
    channels: int = 1  # image channels
    width: int = 32  # channels of the first block; each later block doubles it
    dropout: float = 0.2  # before the last layer, against overfitting tiny labelled sets
    n_models: int = 1  # independent classifiers held in one module (see models/stacked.py)


def conv_block(c_in: int, c_out: int, n_models: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU; ``groups=n_models`` keeps a stack's models apart."""
    return nn.Sequential(
        nn.Conv2d(c_in * n_models, c_out * n_models, 3, padding=1, groups=n_models, bias=False),
        nn.BatchNorm2d(c_out * n_models),  # per channel, hence per model too
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Three conv blocks (two 2x2 poolings), global average pooling, dropout, a linear layer."""

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else ClassifierConfig()
        self.config = config
        self.body = nn.Sequential(  # (B, C, H, W) -> (B, 4 * width, 1, 1)
            conv_block(config.channels, config.width, config.n_models), nn.MaxPool2d(2),
            conv_block(config.width, 2 * config.width, config.n_models), nn.MaxPool2d(2),
            conv_block(2 * config.width, 4 * config.width, config.n_models),
            nn.AdaptiveAvgPool2d(1),
        )
        self.dropout = nn.Dropout(config.dropout)
        # one nn.Linear's worth of weights per model (a stack's models each get their own)
        self.head = GroupedLinear(4 * config.width, config.n_classes, config.n_models)
        # channels-last weights make oneDNN's convolutions, batch norm and pooling 1.5-2x faster
        # on a CPU for a stack (benchmarks/README.md) and suit a GPU's tensor cores too
        self.to(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, (B, F) for one model or (M, B, F) for a stack."""
        n_models = self.config.n_models
        x = self._check_input(x)
        if n_models > 1:
            x = models_to_channels(x)  # (M, B, C, H, W) -> (B, M*C, H, W)
        h = channels_to_models(self.body(x).flatten(1), n_models)  # (B, M*F) -> (M, B, F)
        return h if n_models > 1 else h[0]

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, K), or (M, B, K) for a stack; and the cross-entropy if targets are given."""
        h = self.features(x)
        h = h if h.ndim == 3 else h.unsqueeze(0)  # (M, B, F)
        logits = self.head(self.dropout(h))  # (M, B, K)
        loss = stacked_cross_entropy(logits, targets) if targets is not None else None
        return (logits if self.config.n_models > 1 else logits[0]), loss

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W), or (M, B, C, H, W) for a stack, at least 8x8."""
        config = self.config
        stacked = config.n_models > 1
        want = f"({config.n_models}, B, C, H, W)" if stacked else "(B, C, H, W)"
        if (x.ndim != (5 if stacked else 4) or x.shape[-3] != config.channels
                or (stacked and x.shape[0] != config.n_models)):
            raise ValueError(
                f"SmallCNN expects images of shape {want} with C={config.channels}, got "
                f"{tuple(x.shape)}. A single image needs a batch axis: x.unsqueeze(0)."
            )
        if min(x.shape[-2:]) < 8:
            raise ValueError(f"Images must be at least 8x8 pixels, got {tuple(x.shape[-2:])}.")
        return x

    def share_initial_weights(self) -> SmallCNN:
        """Copy model 0's weights into every model of the stack, so they start identical.

        In the experiment the models of a stack are the methods being compared: starting them
        from the same weights (and feeding them the same real batches) makes the comparison
        paired, so the differences come from the method rather than from luck.
        """
        copy_first_model(self, self.config.n_models)
        return self
