"""Training one classifier per method side by side, as one stacked model, on paired batches.

A :class:`Recipe` says where one method's batches come from; :func:`train_stack` trains one
classifier per recipe in a single ``SmallCNN`` stack. The methods of one seed start from the same
weights and see the same real images, so their differences are paired.

Generated images enter a batch of B real draws in one of two ways (``Recipe.mixing``), a share
r of the batch the classifier sees in both: ``replace`` keeps the first B - round(r * B) real
images and fills the rest with generated ones, so a generator arm sees fewer real images than
``none`` in the same steps; ``add`` keeps all B real images and appends round(r * B / (1 - r))
generated ones (B = 64, r = 0.25: 64 real + 21 generated), so every arm sees exactly the real
images ``none`` sees, in the same order, and takes more images per step. A stack's models
must share a batch size, so recipes of different sizes train as separate stacks, side by side in
time rather than in one module, from the same initial weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from genaug.augment import AugmentConfig, augment
from genaug.data import ImageDataset
from genaug.device import draw, make_generator
from genaug.experiment.settings import ExperimentConfig
from genaug.models.classifier import ClassifierConfig, SmallCNN
from genaug.models.stacked import copy_models
from genaug.train import evaluate, fit_classifier


@dataclass
class Recipe:
    """One method's batches: real images from ``data`` (drawn by ``weights``), a ``ratio`` share
    of images from ``synthetic`` (replacing real ones, or added to them: ``mixing``), then
    the classical augmentation ``augment`` names (e.g. ``genaug.augment.config_for``'s), if any."""

    method: str
    data: ImageDataset
    weights: torch.Tensor | None = None  # sampling weight per image; None: uniform
    synthetic: tuple[torch.Tensor, torch.Tensor] | None = None
    ratio: float = 0.0
    augment: AugmentConfig | None = None
    mixing: str = "replace"  # or "add" (see the module's docstring)

    def batch_size(self, real: int) -> int:
        """The images this recipe's model sees per step when ``real`` are drawn."""
        added = self.mixing == "add" and self.synthetic is not None
        return real + (generated_count(self.ratio, real, self.mixing) if added else 0)


def generated_count(ratio: float, batch_size: int, mixing: str) -> int:
    """Generated images in a batch of ``batch_size`` real draws: the ``ratio`` share of what
    the classifier sees, in place of real images (replace) or beside all of them (add)."""
    if mixing == "replace":
        return round(ratio * batch_size)
    if mixing == "add":
        return round(ratio * batch_size / (1 - ratio))
    raise ValueError(f"Unknown mixing {mixing!r}; choose replace or add.")


def _sampling_cdf(recipe: Recipe) -> torch.Tensor:
    """The cumulative sampling distribution over a recipe's real images."""
    w = recipe.weights if recipe.weights is not None else torch.ones(len(recipe.data))
    return (w.double().cumsum(0) / w.sum()).float().cpu()


def _mix(recipe: Recipe, idx: torch.Tensor, batch_size: int, gen: torch.Generator
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """A recipe's real images at ``idx`` with its generated ones after them: the last ``ratio``
    share replaced (replace), or appended to all ``batch_size`` real images (add)."""
    x, y = recipe.data.images[idx], recipe.data.labels[idx]
    n_syn = (generated_count(recipe.ratio, batch_size, recipe.mixing)
             if recipe.synthetic is not None else 0)
    if n_syn:
        pool_x, pool_y = recipe.synthetic
        j = draw(torch.randint, len(pool_y), (n_syn,), generator=gen, device=x.device)
        kept = batch_size if recipe.mixing == "add" else batch_size - n_syn
        x = torch.cat([x[:kept], pool_x[j]])
        y = torch.cat([y[:kept], pool_y[j]])
    return x, y


def stacked_batches(recipes: Sequence[Recipe], batch_size: int, seed: int
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches for a stack of models: images (M, B, C, H, W) and labels (M, B).

    One set of ``batch_size`` uniform draws per step is shared by all recipes and mapped through
    each recipe's sampling distribution, so recipes over the same data see the same real images:
    the comparison between methods is paired. B is ``batch_size``, plus the generated images in
    add mode (every recipe of one stack must come to the same B: see :func:`train_stack`).
    The models that share a classical recipe are augmented together, one recipe after another.
    """
    device = recipes[0].data.device
    shared = make_generator(seed)
    own = [make_generator(seed + 1 + i) for i in range(len(recipes))]
    aug_gen = make_generator(seed + len(recipes) + 1)
    cdfs = [_sampling_cdf(r) for r in recipes]
    augmented: dict[AugmentConfig, list[int]] = {}  # each recipe's models
    for i, r in enumerate(recipes):
        if r.augment is not None:
            augmented.setdefault(r.augment, []).append(i)
    while True:
        u = draw(torch.rand, batch_size, generator=shared, device="cpu")  # cdfs live there
        pairs = [_mix(r, torch.searchsorted(cdf, u).clamp(max=len(cdf) - 1).to(device),
                      batch_size, gen) for r, cdf, gen in zip(recipes, cdfs, own, strict=True)]
        x = torch.stack([p[0] for p in pairs])  # (M, B, C, H, W)
        y = torch.stack([p[1] for p in pairs])  # (M, B)
        for aug, members in augmented.items():
            picked = x[members]  # (A, B, C, H, W)
            x[members] = augment(picked.flatten(0, 1), aug_gen, aug).view_as(picked)
        yield x, y


def _new_stack(data: ImageDataset, config: ExperimentConfig, n_models: int) -> SmallCNN:
    return SmallCNN(ClassifierConfig(n_classes=data.n_classes, width=config.classifier_width,
                                     channels=data.channels, n_models=n_models)).to(data.device)


def _fit_stack(stack: SmallCNN, recipes: Sequence[Recipe], config: ExperimentConfig,
               seed: int) -> None:
    """Train ``stack`` (one model per recipe) on the recipes' paired batches."""
    batches = stacked_batches(recipes, config.batch_size, seed)
    if len(recipes) == 1:  # a stack of one is a plain model: it takes no model axis
        batches = ((x[0], y[0]) for x, y in batches)
    steps = config.classifier_steps_for(len(recipes[0].data))
    fit_classifier(stack, batches, steps, seed=seed, desc="classifiers")


def train_stack(recipes: Sequence[Recipe], config: ExperimentConfig, seed: int) -> SmallCNN:
    """Train one classifier per recipe, side by side, from identical initial weights.

    Recipes whose batches differ in size (add mode) train as one stack per size, each model
    starting from the same weights, and return as one stack in the recipes' order.
    """
    torch.manual_seed(seed)
    stack = _new_stack(recipes[0].data, config, len(recipes))
    stack.share_initial_weights()
    sizes = [r.batch_size(config.batch_size) for r in recipes]
    if len(set(sizes)) == 1:
        _fit_stack(stack, recipes, config, seed)
        return stack
    for size in dict.fromkeys(sizes):
        members = [i for i, s in enumerate(sizes) if s == size]
        part = _new_stack(recipes[0].data, config, len(members))
        copy_models(stack, len(recipes), part, len(members), [(0, j) for j in range(len(members))])
        _fit_stack(part, [recipes[i] for i in members], config, seed)
        copy_models(part, len(members), stack, len(recipes), list(enumerate(members)))
    return stack


def score_each(stack: SmallCNN, data: ImageDataset) -> dict[str, list]:
    """``evaluate`` with one entry per model of the stack, a stack of one included."""
    scores = evaluate(stack, data)
    return scores if stack.config.n_models > 1 else {k: [v] for k, v in scores.items()}
