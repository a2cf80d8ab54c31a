"""The experiment's jobs: one (budget, seed) cell of the grid, or one seed of the imbalance study.

A job draws its labelled subset, trains the generators on that subset only, and trains one
classifier per method side by side as a stack (see ``SmallCNN``): the methods of one seed start
from the same weights and see the same real batches, so their differences are paired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import torch

from genaug.augment import AugmentConfig, augment, config_for
from genaug.data import ImageDataset, imbalanced_subset, load_dataset, stratified_indices
from genaug.device import get_device, make_generator
from genaug.experiment.generators import train_generator
from genaug.experiment.settings import (
    GENERATORS,
    IMBALANCE_METHODS,
    VAL_SEED,
    ExperimentConfig,
    parse_method,
)
from genaug.models.classifier import ClassifierConfig, SmallCNN
from genaug.synthetic import labelled_batch
from genaug.train import evaluate, fit_classifier

RUNS_CSV, SWEEP_CSV, IMBALANCE_CSV = "runs.csv", "ratio_sweep.csv", "imbalance.csv"


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
        j = torch.randint(len(pool_y), (n_syn,), generator=gen).to(x.device)
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
        u = torch.rand(batch_size, generator=shared)
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
    n_models=len(recipes))).to(data.device)
    stack.share_initial_weights()
    batches = stacked_batches(recipes, config.batch_size, seed, config_for(config.dataset))
    if len(recipes) == 1:  # a stack of one is a plain model: it takes no model axis
        batches = ((x[0], y[0]) for x, y in batches)
    fit_classifier(stack, batches, config.classifier_steps, seed=seed, desc="classifiers")
    return stack


def score_each(stack: SmallCNN, data: ImageDataset) -> dict[str, list]:
    """``evaluate`` with one entry per model of the stack, a stack of one included."""
    scores = evaluate(stack, data)
    return scores if stack.config.n_models > 1 else {k: [v] for k, v in scores.items()}


def recipe_for(method: str, data: ImageDataset, pools: dict, ratios: dict[str, float]) -> Recipe:
    """The Recipe for a method name such as 'none', 'classical' or 'cgan+classical'."""
    parsed = parse_method(method)
    return Recipe(method, data, synthetic=pools.get(parsed.generator),
                  ratio=ratios.get(parsed.generator, 0.0), augment=parsed.classical)


def splits(config: ExperimentConfig, device: torch.device):
    """The training split, its validation part (held out once), the test split, val's indices."""
    train = load_dataset(config.dataset, "train", device=device)
    test = load_dataset(config.dataset, "test", device=device)
    val_idx = stratified_indices(train.labels, config.val_per_class, VAL_SEED)
    return train, train.subset(val_idx), test, val_idx


def _generator_pools(generators: Sequence[str], labelled: ImageDataset, job) -> tuple[dict, dict]:
    """Train each generator on ``labelled`` and draw its pool of labelled images."""
    pools, diverged = {}, {}
    for g in generators:
        path = job.folder / "generators" / f"{g}-b{job.budget}-s{job.seed}.pt"
        model, diverged[g] = train_generator(g, labelled, job.config, job.seed, path)
        pools[g] = labelled_batch(model, n=job.config.n_synthetic, seed=job.seed)
    return pools, diverged


@dataclass(frozen=True)
class BudgetJob:
    """One (budget, seed) cell: generators on the budget, then one classifier per method.

    With ``sweep`` the stack holds each generator at every candidate ratio (plus 'none') and
    the rows' validation accuracy chooses the ratio; otherwise one model per method.
    """

    config: ExperimentConfig
    budget: int
    seed: int
    folder: Path
    ratios: dict[str, float] = field(default_factory=dict)
    sweep: bool = False
    key_fields = ("budget", "seed")  # what identifies its rows in the CSV

    @property
    def table(self) -> str:
        """The CSV file its rows go to."""
        return SWEEP_CSV if self.sweep else RUNS_CSV

    def recipes(self, labelled: ImageDataset, pools: dict) -> list[Recipe]:
        if self.sweep:
            return [recipe_for("none", labelled, pools, {})] + [
                recipe_for(g, labelled, pools, {g: r})
                for g in self.config.generators() for r in self.config.ratios]
        return [recipe_for(m, labelled, pools, self.ratios) for m in self.config.methods]

    def run(self) -> list[dict]:
        train, val, test, val_idx = splits(self.config, get_device())
        labelled = train.subset(stratified_indices(train.labels, self.budget, self.seed,
    exclude=val_idx))
        start = time.perf_counter()
        needed = self.config.generators()
        pools, diverged = _generator_pools(needed, labelled, self)
        gen_seconds = time.perf_counter() - start
        recipes = self.recipes(labelled, pools)
        start = time.perf_counter()
        stack = train_stack(recipes, self.config, self.seed)
        clf_seconds = time.perf_counter() - start
        val_scores = score_each(stack, val)
        test_scores = {} if self.sweep else score_each(stack, test)  # a sweep only chooses
        return [{
            "dataset": self.config.dataset, "budget": self.budget, "seed": self.seed,
            "method": r.method, "ratio": r.ratio, "val_accuracy": val_scores["accuracy"][i],
            **{f"test_{k}": test_scores[k][i] for k in ("accuracy", "balanced_accuracy")
               if k in test_scores},
            "generator_diverged": diverged.get(parse_method(r.method).generator, False),
            "generator_seconds": round(gen_seconds, 2),
            "classifier_seconds": round(clf_seconds, 2),
        } for i, r in enumerate(recipes)]


@dataclass(frozen=True)
class ImbalanceJob:
    """One seed of the imbalance study: minority classes cut, then several ways to cope."""

    config: ExperimentConfig
    seed: int
    folder: Path
    key_fields = ("seed",)
    table = IMBALANCE_CSV

    def recipe(self, method: str, data: ImageDataset) -> Recipe:
        counts = data.class_counts().cpu()
        if method in GENERATORS:  # fill every class up to the largest with generated images
            path = self.folder / "generators" / f"{method}-imbalance-s{self.seed}.pt"
            model, _ = train_generator(method, data, self.config, self.seed, path)
            images, labels = labelled_batch(model, counts=(counts.max() - counts).tolist(),
    seed=self.seed)
            return Recipe(method, ImageDataset(torch.cat([data.images, images]),
    torch.cat([data.labels, labels]),
    data.classes, data.name))
        if method == "oversample":  # draw every class equally often
            return Recipe(method, data, weights=1.0 / counts[data.labels.cpu()].float())
        return Recipe(method, data, augment=method == "classical")

    def run(self) -> list[dict]:
        cfg = self.config
        train, _, test, val_idx = splits(cfg, get_device())
        balanced = train.subset(stratified_indices(train.labels, cfg.imbalance_per_class,
    self.seed, exclude=val_idx))
        data = imbalanced_subset(balanced, cfg.imbalance_minority, cfg.imbalance_fraction,
    self.seed)
        recipes = [self.recipe(m, data) for m in IMBALANCE_METHODS]
        scores = score_each(train_stack(recipes, cfg, self.seed), test)
        minority = list(cfg.imbalance_minority)
        return [{
            "dataset": cfg.dataset, "seed": self.seed, "method": r.method,
            "test_accuracy": scores["accuracy"][i],
            "balanced_accuracy": scores["balanced_accuracy"][i],
            "minority_recall": sum(scores["recall"][i][c] for c in minority) / len(minority),
        } for i, r in enumerate(recipes)]
