"""Several independent classifiers in one module, so a GPU trains a stack in one model's time.

``SmallCNN`` with ``n_models = M > 1`` keeps M models side by side: its convolutions are grouped
(``groups=M``, one slice of channels per model) and its last layer is a :class:`GroupedLinear`.
Every tensor is laid out model-major, (M * ..., ...), so model m's weights are its m-th slice.
This module holds what only a stack needs; ``classifier.py`` reads as the plain CNN.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class GroupedLinear(nn.Module):
    """``n_models`` linear layers applied at once: (M, B, F) -> (M, B, K)."""

    def __init__(self, in_features: int, out_features: int, n_models: int) -> None:
        super().__init__()
        bound = in_features ** -0.5  # nn.Linear's default initialisation range
        weight = torch.empty(n_models, in_features, out_features).uniform_(-bound, bound)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.empty(n_models, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each model's features (M, B, F) through its own weights: logits (M, B, K)."""
        return torch.baddbmm(self.bias, x, self.weight)  # bias + x @ weight, model by model


def models_to_channels(x: torch.Tensor) -> torch.Tensor:
    """(M, B, C, H, W) -> (B, M*C, H, W): each model's images become its own channel group."""
    return x.transpose(0, 1).flatten(1, 2)


def channels_to_models(h: torch.Tensor, n_models: int) -> torch.Tensor:
    """(B, M*F) -> (M, B, F): each model's features back on a leading model axis."""
    return h.view(h.shape[0], n_models, -1).transpose(0, 1)


def stacked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The sum of each model's mean cross-entropy for logits (M, B, K) and targets (B,) or (M, B).

    A sum, not a mean: every model then gets exactly the gradient it would get if trained alone.
    """
    n_models, batch, n_classes = logits.shape
    if targets.shape != (n_models, batch) and targets.shape != (batch,):
        raise ValueError(f"targets must have shape ({batch},) or ({n_models}, {batch}), "
                         f"got {tuple(targets.shape)}.")
    targets = targets.expand(n_models, batch)
    flat_logits = logits.reshape(n_models * batch, n_classes).float()  # (M*B, K)
    return F.cross_entropy(flat_logits, targets.reshape(n_models * batch)) * n_models


@torch.no_grad()
def copy_first_model(module: nn.Module, n_models: int) -> nn.Module:
    """Copy model 0's weights and buffers into every model of a stack, so they start identical."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.ndim > 0:  # every tensor is laid out model-major: (M * ..., ...)
            slices = tensor.unflatten(0, (n_models, -1))  # a view, whatever the memory format
            slices[1:] = slices[0]
    return module


@torch.no_grad()
def copy_models(source: nn.Module, n_source: int, target: nn.Module, n_target: int,
                pairs: list[tuple[int, int]]) -> nn.Module:
    """Copy model i of the ``source`` stack into model j of the ``target`` stack for each
    (i, j) in ``pairs``: how models trained in separate stacks rejoin one."""
    tensors = zip(list(source.parameters()) + list(source.buffers()),
                  list(target.parameters()) + list(target.buffers()), strict=True)
    for src, dst in tensors:
        if dst.ndim > 0:  # model-major, as in copy_first_model; a counter (ndim 0) is shared
            src_slices = src.unflatten(0, (n_source, -1))
            dst_slices = dst.unflatten(0, (n_target, -1))
            for i, j in pairs:
                dst_slices[j] = src_slices[i]
    return target
