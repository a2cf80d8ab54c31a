"""Labelled synthetic data from any conditional generator: the bridge to augmentation.

The conditional VAE and the conditional GAN both offer ``sample(n, labels, generator)``, so one
function turns either into an (images, labels) batch on the device, ready to be mixed into a
classifier's training batches; the experiment can swap one generator for the other.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from genaug.device import deterministic, draw, make_generator


@torch.no_grad()
@deterministic()  # any model's sample(), not only genaug's, repeats on a GPU
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
    generator = make_generator(seed)
    labels = labels[draw(torch.randperm, len(labels), generator=generator, device="cpu")]
    device = next(model.parameters()).device
    images = [model.sample(len(part), labels=part.to(device), generator=generator)
              for part in labels.split(chunk)]
    empty = torch.empty(0, model.config.channels, model.config.image_size, model.config.image_size)
    return (torch.cat(images).float() if images else empty.to(device)), labels.to(device)


@torch.no_grad()
@deterministic()
def latent_variations(
    vae: nn.Module, images: torch.Tensor, labels: torch.Tensor, n: int, *,
    temperature: float = 1.0, interpolation: float = 0.5, seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` label-preserving variations of labelled images, made in an unconditional VAE's
    latent space: each keeps the label of the image(s) it came from.

    A share ``1 - interpolation`` decodes a latent drawn near one image's posterior,
    z ~ N(mu, (temperature * sigma)^2); the rest decode a random point on the line between the
    posterior means of two images of the same class. The VAE needs no labels, so it can be
    trained on every unlabelled image while the labels come from the budget alone.
    """
    if vae.config.n_classes:
        raise ValueError("latent_variations needs an unconditional VAE (n_classes=0).")
    gen = make_generator(seed)
    device = next(vae.parameters()).device
    mu, logvar = vae.encode(images.to(device))
    first = draw(torch.randint, len(labels), (n,), generator=gen, device=device)
    z = mu[first] + temperature * torch.exp(0.5 * logvar[first]) * draw(
        torch.randn, n, mu.shape[1], generator=gen, device=device)
    mixed = draw(torch.rand, n, generator=gen, device=device) < interpolation
    partner = _same_class_partner(labels.to(device), first, gen)
    t = draw(torch.rand, n, 1, generator=gen, device=device)
    z = torch.where(mixed.unsqueeze(1), (1 - t) * mu[first] + t * mu[partner], z)
    return torch.sigmoid(vae.decode(z)).float(), labels.to(device)[first]


def _same_class_partner(labels: torch.Tensor, first: torch.Tensor, gen: torch.Generator
                        ) -> torch.Tensor:
    """For each index in ``first``, a random index of an image with the same label."""
    order = torch.argsort(labels, stable=True)  # images grouped by class
    counts = torch.bincount(labels)
    starts = torch.cumsum(counts, 0) - counts
    cls = labels[first]
    offset = (draw(torch.rand, len(first), generator=gen, device=labels.device)
              * counts[cls]).long()
    return order[starts[cls] + offset.clamp(max=counts[cls] - 1)]
