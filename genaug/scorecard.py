"""Notebook 06's table of measures, one row per generator, in one call.

Notebook 06 derives each measure step by step on the experiment's cVAE and cGAN, trained on a
labelled budget. These functions follow its protocol exactly (the same budget, real halves,
sample sets, seeds and thresholds), so that notebook 08, which teaches diffusion, can add the
diffusion model's row to the same table without deriving it again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from genaug.config import cache_dir, pick
from genaug.data import ImageDataset, stratified_indices
from genaug.experiment import VAL_SEED, ExperimentConfig, train_generator
from genaug.metrics import (
    class_accuracy,
    extract_features,
    frechet_distance,
    nearest_neighbours,
    precision_recall,
    tstr_accuracy,
)
from genaug.models.classifier import SmallCNN
from genaug.synthetic import labelled_batch

COLUMNS = ("FD (lower)", "precision", "recall", "class acc", "TSTR acc", "near-copies")
NEAR = 0.05  # a near-copy is closer to a training image than 95% of real test images are


def labelled_budget(train: ImageDataset, config: ExperimentConfig, per_class: int,
                    seed: int) -> ImageDataset:
    """The experiment's labelled budget: ``per_class`` images of every class, drawn after its
    validation images are set aside, as each of its jobs draws them."""
    val_idx = stratified_indices(train.labels, config.val_per_class, VAL_SEED)
    return train.subset(stratified_indices(train.labels, per_class, seed, exclude=val_idx))


def budget_generator(kind: str, labelled: ImageDataset, recipe: ExperimentConfig,
                     seed: int) -> tuple[nn.Module, bool]:
    """``kind`` trained on ``labelled`` with ``recipe`` as the experiment trains it, or loaded
    where notebook 06 or 08 saved it; returns the model and whether its training diverged."""
    per_class = len(labelled) // labelled.n_classes
    name = f"{kind}-{labelled.name}-b{per_class}-s{seed}-{recipe.generator_steps}.pt"
    return train_generator(kind, labelled, recipe, seed, cache_dir() / "06-generators" / name)


@dataclass(frozen=True)
class Bench:
    """The real side of notebook 06's table, fixed once so that every generator meets the same
    sets."""

    judge: SmallCNN
    real_a: torch.Tensor  # (N, F): the judge's features of real half A, the reference
    real_b: ImageDataset  # real half B: a "real generator", and the size of each sample set
    tstr_test: ImageDataset  # the real test images a TSTR classifier is scored on
    training: ImageDataset  # the labelled images the generators learned from
    copy_distance: float  # nearer a training image than this: a near-copy
    real_near: float  # the share of real test images that near: NEAR, up to ties
    n_synthetic: int  # the pool a TSTR classifier trains on
    tstr_steps: int
    seed: int


def make_bench(test: ImageDataset, training: ImageDataset, judge: SmallCNN, n_synthetic: int,
               seed: int) -> Bench:
    """Notebook 06's real sets in this mode: halves A and B of the test images (seeds 1 and 2),
    the TSTR test images (seed 3) and the near-copy distance to ``training``."""
    smallest = int(test.class_counts().min())
    per_class = min(pick(full=smallest, quick=200), smallest)
    idx_a = stratified_indices(test.labels, per_class // 2, seed=1)
    idx_b = stratified_indices(test.labels, per_class // 2, seed=2, exclude=idx_a)
    real_dist, _ = nearest_neighbours(test.images, training.images)
    threshold = torch.quantile(real_dist, NEAR)
    return Bench(judge, extract_features(judge, test.subset(idx_a).images), test.subset(idx_b),
                 test.subset(stratified_indices(test.labels, per_class, seed=3)), training,
                 float(threshold), float((real_dist < threshold).float().mean()), n_synthetic,
                 pick(full=1000, quick=100), seed)


def generator_row(model: nn.Module, bench: Bench, near_copies: bool = True) -> dict[str, float]:
    """Notebook 06's measures of one conditional generator. ``near_copies=False`` leaves the
    memorisation check out (NaN) for a model that did not learn from ``bench.training``."""
    k = bench.real_b.n_classes
    images, labels = labelled_batch(model, counts=[len(bench.real_b) // k] * k,
                                    seed=bench.seed + 1)
    pool = ImageDataset(*labelled_batch(model, n=bench.n_synthetic, seed=bench.seed),
                        bench.real_b.classes, bench.real_b.name)
    near = math.nan
    if near_copies:
        distances, _ = nearest_neighbours(images, bench.training.images)
        near = float((distances < bench.copy_distance).float().mean())
    return _row(bench, images, labels, pool, near)


def real_row(bench: Bench, train: ImageDataset) -> dict[str, float]:
    """The row a perfect generator would reach: real half B, a TSTR classifier trained on as
    many real training images as a pool holds, and real test images' near-copy share."""
    same_size = train.subset(stratified_indices(
        train.labels, bench.n_synthetic // train.n_classes, bench.seed + 1))
    return _row(bench, bench.real_b.images, bench.real_b.labels, same_size, bench.real_near)


def _row(bench: Bench, images: torch.Tensor, labels: torch.Tensor, pool: ImageDataset,
         near: float) -> dict[str, float]:
    """The table's columns for one sample set and the pool a TSTR classifier learns from."""
    fake = extract_features(bench.judge, images)
    precision, recall = precision_recall(bench.real_a, fake, k=3)
    return {"FD (lower)": frechet_distance(bench.real_a, fake), "precision": precision,
            "recall": recall, "class acc": class_accuracy(bench.judge, images, labels),
            "TSTR acc": tstr_accuracy(pool, bench.tstr_test, bench.tstr_steps, seed=bench.seed),
            "near-copies": near}
