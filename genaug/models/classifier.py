"""A small CNN classifier for 1-channel images of any size from 8x8 up.

It is the course's downstream model: the one whose test accuracy tells whether augmentation
helped. With ``n_models > 1`` the same module holds several independent classifiers side by
side (grouped convolutions, one weight slice per model), so a GPU trains a whole column of an
experiment in the time one tiny model would take.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ClassifierConfig:
    n_classes: int = 10
    channels: int = 1  # image channels
    width: int = 32  # channels of the first block; each later block doubles it
    dropout: float = 0.2  # before the last layer, against overfitting tiny labelled sets
    n_models: int = 1  # independent classifiers held in one module (see the module docstring)


def conv_block(c_in: int, c_out: int, n_models: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU; ``groups=n_models`` keeps the models apart."""
    return nn.Sequential(
        nn.Conv2d(c_in * n_models, c_out * n_models, 3, padding=1, groups=n_models, bias=False),
        nn.BatchNorm2d(c_out * n_models),  # per channel, hence per model too
        nn.ReLU(inplace=True),
    )


class GroupedLinear(nn.Module):
    """``n_models`` linear layers applied at once: (M, B, F) -> (M, B, K)."""

    def __init__(self, in_features: int, out_features: int, n_models: int) -> None:
        super().__init__()
        bound = in_features ** -0.5  # nn.Linear's default initialisation range
        self.weight = nn.Parameter(torch.empty(n_models, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_models, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class SmallCNN(nn.Module):
    """Three conv blocks (two 2x2 poolings), global average pooling, dropout, a linear layer."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()) -> None:
        super().__init__()
        self.config = config
        c, w, m = config.channels, config.width, config.n_models
        self.body = nn.Sequential(
            conv_block(c, w, m), nn.MaxPool2d(2),
            conv_block(w, 2 * w, m), nn.MaxPool2d(2),
            conv_block(2 * w, 4 * w, m), nn.AdaptiveAvgPool2d(1),
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = GroupedLinear(4 * w, config.n_classes, m)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, (B, F) for one model or (M, B, F) for a stack."""
        m = self.config.n_models
        x = self._check_input(x)
        if m > 1:  # (M, B, C, H, W) -> (B, M*C, H, W): each model's channels side by side
            x = x.transpose(0, 1).flatten(1, 2)
        h = self.body(x).flatten(1)  # (B, M*F)
        h = h.view(h.shape[0], m, -1).transpose(0, 1)  # (M, B, F)
        return h if m > 1 else h[0]

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, K), or (M, B, K) for a stack; and the cross-entropy if targets are given.

        A stack's loss is the sum of each model's mean loss, so every model gets exactly the
        gradient it would get if trained alone.
        """
        h = self.features(x)
        h = h if h.ndim == 3 else h.unsqueeze(0)  # (M, B, F)
        logits = self.head(self.dropout(h))  # (M, B, K)
        loss = None
        if targets is not None:
            m, b, k = logits.shape
            if targets.shape != (m, b) and targets.shape != (b,):
                raise ValueError(f"targets must have shape ({b},) or ({m}, {b}), got {tuple(targets.shape)}.")
            targets = targets.expand(m, b)
            loss = F.cross_entropy(logits.reshape(m * b, k).float(), targets.reshape(m * b)) * m
        return (logits if self.config.n_models > 1 else logits[0]), loss

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        want = "(B, C, H, W)" if cfg.n_models == 1 else f"({cfg.n_models}, B, C, H, W)"
        ndim = 4 if cfg.n_models == 1 else 5
        if x.ndim != ndim or x.shape[-3] != cfg.channels or (ndim == 5 and x.shape[0] != cfg.n_models):
            raise ValueError(
                f"SmallCNN expects images of shape {want} with C={cfg.channels}, got "
                f"{tuple(x.shape)}. A single image needs a batch axis: x.unsqueeze(0)."
            )
        if min(x.shape[-2:]) < 8:
            raise ValueError(f"Images must be at least 8x8 pixels, got {tuple(x.shape[-2:])}.")
        return x

    @torch.no_grad()
    def share_initial_weights(self) -> SmallCNN:
        """Copy model 0's weights into every model of the stack, so they start identical.

        In the experiment the models of a stack are the methods being compared: starting them
        from the same weights (and feeding them the same real batches) makes the comparison
        paired, so the differences come from the method rather than from luck.
        """
        m = self.config.n_models
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.ndim > 0:  # every tensor is laid out model-major: (M * ..., ...)
                slices = tensor.view(m, -1)
                slices[1:] = slices[0]
        return self
