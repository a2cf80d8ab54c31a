"""Labelled synthetic data from any conditional generator: the bridge to augmentation.

The conditional VAE and the conditional GAN both offer ``sample(n, labels, generator)``, so one
function turns either into an (images, labels) batch on the device, ready to be mixed into a
classifier's training batches; the experiment can swap one generator for the other.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn


@torch.no_grad()
def labelled_batch(
    model: nn.Module,
    n: int | None = None,
    counts: Sequence[int] | None = None,
    seed: int = 0,
    chunk: int = 1000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate labelled images: ``n`` spread evenly over the classes, or ``counts[c]`` of class c.

    Returns images (N, C, H, W) in [0, 1] and int64 labels (N,), both on the model's device,
    in shuffled order. ``seed`` fixes the noise, so the same call gives the same batch.
    """
    n_classes = getattr(model.config, "n_classes", 0)
    if n_classes == 0:
        raise ValueError("labelled_batch needs a conditional model: build it with n_classes > 0.")
    if (n is None) == (counts is None):
        raise ValueError("Give exactly one of n (an even class mix) or counts (images per class).")
    if counts is not None:
        if len(counts) != n_classes or min(counts) < 0:
            raise ValueError(f"counts needs {n_classes} non-negative numbers, got {list(counts)}.")
        labels = torch.repeat_interleave(torch.arange(n_classes), torch.as_tensor(counts))
    else:
        labels = torch.arange(n) % n_classes
    generator = torch.Generator().manual_seed(seed)
    labels = labels[torch.randperm(len(labels), generator=generator)]
    device = next(model.parameters()).device
    images = [model.sample(len(part), labels=part.to(device), generator=generator)
              for part in labels.split(chunk)]
    empty = torch.empty(0, model.config.channels, model.config.image_size, model.config.image_size)
    return (torch.cat(images).float() if images else empty.to(device)), labels.to(device)
