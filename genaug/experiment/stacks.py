"""Training one classifier per method side by side, as one stacked model, on paired batches.

A :class:`Recipe` says where one method's batches come from; :func:`train_stack` trains one
classifier per recipe in a single ``SmallCNN`` stack. The methods of one seed start from the same
weights and see the same real images, so their differences are paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from genaug.augment import AugmentConfig, augment, config_for
from genaug.data import ImageDataset
from genaug.device import draw, make_generator
from genaug.experiment.settings import ExperimentConfig
from genaug.models.classifier import ClassifierConfig, SmallCNN
from genaug.train import evaluate, fit_classifier


@dataclass
class Recipe:
    """One method's batches: real images from ``data`` (drawn by ``weights``), a ``ratio`` share
    replaced by images from ``synthetic``, then classical augmentation if ``augment``."""

    method: str
    data: ImageDataset
    weights: torch.Tensor | None = None  # sampling weight per image; None: uniform
    synthetic: tuple[torch.Tensor, torch.Tensor] | None = None
    ratio: float = 0.0
    augment: bool = False


def _sampling_cdf(recipe: Recipe) -> torch.Tensor:
    """The cumulative sampling distribution over a recipe's real images."""
    w = recipe.weights if recipe.weights is not None else torch.ones(len(recipe.data))
    return (w.double().cumsum(0) / w.sum()).float().cpu()


def _mix(recipe: Recipe, idx: torch.Tensor, batch_size: int, gen: torch.Generator
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """A recipe's real images at ``idx``, the last ``ratio`` share replaced by generated ones."""
    x, y = recipe.data.images[idx], recipe.data.labels[idx]
    n_syn = round(recipe.ratio * batch_size) if recipe.synthetic is not None else 0
    if n_syn:
        pool_x, pool_y = recipe.synthetic
        j = draw(torch.randint, len(pool_y), (n_syn,), generator=gen, device=x.device)
        x = torch.cat([x[: batch_size - n_syn], pool_x[j]])
        y = torch.cat([y[: batch_size - n_syn], pool_y[j]])
    return x, y


def stacked_batches(recipes: Sequence[Recipe], batch_size: int, seed: int,
                    aug: AugmentConfig) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches for a stack of models: images (M, B, C, H, W) and labels (M, B).

    One set of uniform draws per step is shared by all recipes and mapped through each
    recipe's sampling distribution, so recipes over the same data see the same real images:
    the comparison between methods is paired.
    """
    device = recipes[0].data.device
    shared = make_generator(seed)
    own = [make_generator(seed + 1 + i) for i in range(len(recipes))]
    aug_gen = make_generator(seed + len(recipes) + 1)
    cdfs = [_sampling_cdf(r) for r in recipes]
    augmented = [i for i, r in enumerate(recipes) if r.augment]
    while True:
        u = draw(torch.rand, batch_size, generator=shared, device="cpu")  # cdfs live there
        pairs = [_mix(r, torch.searchsorted(cdf, u).clamp(max=len(cdf) - 1).to(device),
                      batch_size, gen) for r, cdf, gen in zip(recipes, cdfs, own, strict=True)]
        x = torch.stack([p[0] for p in pairs])  # (M, B, C, H, W)
        y = torch.stack([p[1] for p in pairs])  # (M, B)
        if augmented:
            picked = x[augmented]  # (A, B, C, H, W)
            x[augmented] = augment(picked.flatten(0, 1), aug_gen, aug).view_as(picked)
        yield x, y


def train_stack(recipes: Sequence[Recipe], config: ExperimentConfig, seed: int) -> SmallCNN:
    """Train one classifier per recipe, side by side, from identical initial weights."""
    data = recipes[0].data
    torch.manual_seed(seed)
    stack = SmallCNN(ClassifierConfig(n_classes=data.n_classes, width=config.classifier_width,
                                      channels=data.channels, n_models=len(recipes))
                     ).to(data.device)
    stack.share_initial_weights()
    augment = config_for(config.dataset, data.channels)  # colour jitter for colour images
    batches = stacked_batches(recipes, config.batch_size, seed, augment)
    if len(recipes) == 1:  # a stack of one is a plain model: it takes no model axis
        batches = ((x[0], y[0]) for x, y in batches)
    fit_classifier(stack, batches, config.classifier_steps, seed=seed, desc="classifiers")
    return stack


def score_each(stack: SmallCNN, data: ImageDataset) -> dict[str, list]:
    """``evaluate`` with one entry per model of the stack, a stack of one included."""
    scores = evaluate(stack, data)
    return scores if stack.config.n_models > 1 else {k: [v] for k, v in scores.items()}
