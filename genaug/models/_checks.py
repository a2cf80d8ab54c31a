"""Input checks shared by the generative models: wrong shapes and labels fail with a fix named."""

from __future__ import annotations

import torch


def check_images(x: torch.Tensor, channels: int, size: int, model: str) -> None:
    """Images must be a batch (N, C, H, W) of the size the model was built for."""
    if x.ndim != 4 or tuple(x.shape[1:]) != (channels, size, size):
        raise ValueError(
            f"{model} was built for images of shape (N, {channels}, {size}, {size}), got "
            f"{tuple(x.shape)}. Build it with image_size={x.shape[-1] if x.ndim else '?'} for "
            "these images, or add a batch axis with x.unsqueeze(0)."
        )


def check_labels(
    labels: torch.Tensor | int | None, n_classes: int, n: int, device: torch.device, model: str
) -> torch.Tensor | None:
    """Labels are required exactly when the model is conditional; returns them as int64 (n,)."""
    if n_classes == 0:
        if labels is not None:
            raise ValueError(
                f"This {model} is unconditional (n_classes=0) and takes no labels; drop them, "
                "or build a conditional model with n_classes set."
            )
        return None
    if labels is None:
        raise ValueError(
            f"This {model} is conditional (n_classes={n_classes}): pass labels, e.g. "
            f"labels=torch.arange({n}) % {n_classes}."
        )
    labels = torch.as_tensor(labels)  # checked where it lives: CPU labels make no GPU wait
    if labels.ndim == 0:  # one class for the whole batch
        labels = labels.expand(n)
    if labels.shape != (n,) or labels.dtype.is_floating_point:
        raise ValueError(f"labels must be {n} integers, got shape {tuple(labels.shape)} "
                         f"and dtype {labels.dtype}.")
    low, high = torch.stack(torch.aminmax(labels)).tolist()  # one wait for a GPU, not two
    if low < 0 or high >= n_classes:
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, got values from {low} to {high}.")
    return labels.to(device).long()


def check_size(size: int, model: str) -> None:
    """Both stride-2 stages halve the image, so its side must be a multiple of 4 (8, 28, 32...)."""
    if size % 4 != 0 or size < 8:
        raise ValueError(f"{model} needs an image side that is a multiple of 4 and at least 8, "
                         f"got {size}; pad or resize the images.")
