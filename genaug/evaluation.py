"""Scoring a trained model on a dataset: a classifier's logits and accuracies, a VAE's test ELBO.

Scores are computed in evaluation mode and in batches, and leave the model in the mode it was
in, so a loop can score its model every few steps and carry on training.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from genaug.data import ImageDataset
from genaug.device import autocast
from genaug.models.modes import evaluating
from genaug.models.vae import VAE


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits for ``images`` in eval mode: (N, K), or (M, N, K) for a stack of M models."""
    device = next(model.parameters()).device
    n_models = getattr(model.config, "n_models", 1)
    out = []
    with evaluating(model):
        for start in range(0, images.shape[0], batch_size):
            x = images[start: start + batch_size].to(device)  # (B, C, H, W)
            if n_models > 1:
                x = x.unsqueeze(0).expand(n_models, *x.shape)  # (M, B, C, H, W): same images
            with autocast(device):
                logits, _ = model(x)
            out.append(logits.float())
    return torch.cat(out, dim=-2)


def evaluate(model: nn.Module, data: ImageDataset) -> dict:
    """Accuracy, recall of every class and balanced accuracy (the mean of those recalls).

    For one model the values are floats (and a list for the recalls); for a stack, each
    value has one entry per model.
    """
    logits = predict(model, data.images)
    logits = logits if logits.ndim == 3 else logits.unsqueeze(0)  # (M, N, K)
    labels = data.labels.to(logits.device)
    correct = (logits.argmax(-1) == labels).float()  # (M, N)
    counts = torch.bincount(labels, minlength=data.n_classes).clamp(min=1)
    hits = torch.stack([torch.bincount(labels, weights=row, minlength=data.n_classes)
                        for row in correct])  # (M, K): correct answers per class
    recall = hits / counts  # (M, K)
    result = {
        "accuracy": correct.mean(1),
        "recall": recall,
        "balanced_accuracy": recall.mean(1),
    }
    single = logits.shape[0] == 1 and getattr(model.config, "n_models", 1) == 1
    return {name: (value[0] if single else value).tolist() for name, value in result.items()}


@torch.no_grad()
def evaluate_vae(vae: VAE, data: ImageDataset, batch_size: int = 1000) -> dict[str, float]:
    """Mean negative ELBO (with beta=1, the true bound), reconstruction and KL per image."""
    device = next(vae.parameters()).device
    conditional = vae.config.n_classes > 0
    totals = torch.zeros(2, device=device)
    for start in range(0, len(data), batch_size):
        x = data.images[start: start + batch_size].to(device)
        y = data.labels[start: start + batch_size].to(device) if conditional else None
        terms = vae.loss(x, y)
        totals += torch.stack([terms["recon"], terms["kl"]]) * x.shape[0]
    recon, kl = (totals / len(data)).tolist()
    return {"loss": recon + kl, "recon": recon, "kl": kl}
