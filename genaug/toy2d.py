"""A 2-D toy for GANs: a ring of Gaussians, where matching a distribution and dropping a mode
are visible at a glance (notebook 04 opens with it, as d2l's GAN chapter does).

Each mode is a small Gaussian blob on a circle. A sample "hits" a mode when it lies within a few
standard deviations of that mode's centre; a mode is "covered" when it holds a fair share of the
samples (a tenth of its share under the data), which is how the 2-D GAN literature counts modes.
"""

from __future__ import annotations

import math

import torch

from genaug.device import draw


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The (modes, 2) centres of the Gaussians, evenly spaced on a circle."""
    angles = torch.arange(modes) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def ring_of_gaussians(n: int, generator: torch.Generator, modes: int = 8, radius: float = 2.0,
                      std: float = 0.05) -> torch.Tensor:
    """n points (n, 2) drawn evenly from the ring's modes, each blurred by ``std``."""
    which = draw(torch.randint, modes, (n,), generator=generator, device="cpu")
    noise = std * draw(torch.randn, n, 2, generator=generator, device="cpu")
    return ring_centres(modes, radius)[which] + noise


def nearest_mode(points: torch.Tensor, centres: torch.Tensor, std: float = 0.05,
                 within: float = 3.0) -> torch.Tensor:
    """Each point's mode index, or -1 where no centre is within ``within`` standard deviations."""
    distance, index = torch.cdist(points.float().cpu(), centres).min(dim=1)
    return torch.where(distance <= within * std, index, torch.full_like(index, -1))


def mode_coverage(points: torch.Tensor, centres: torch.Tensor, std: float = 0.05,
                  within: float = 3.0) -> dict[str, float | int]:
    """How a sample set covers the ring: the modes holding at least a tenth of their fair share,
    and the share of points that lie near any mode (high quality) at all."""
    index = nearest_mode(points, centres, std, within)
    hits = torch.bincount(index[index >= 0], minlength=len(centres)).float()
    fair = len(points) / len(centres)
    return {"modes covered": int((hits >= 0.1 * fair).sum()),
            "near a mode": float((index >= 0).float().mean())}
