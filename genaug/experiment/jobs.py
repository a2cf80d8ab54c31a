"""The experiment's jobs: one (budget, seed) cell of the grid, or one seed of the imbalance study.

A job draws its labelled subset, builds each arm's pool of extra images from what the arm's
setting may see (``arms``), and trains one classifier per method side by side as a stack
(``stacks``): the methods of one seed start from the same weights and see the same real
batches, so their differences are paired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from genaug.augment import DEFAULT_RECIPE, config_for
from genaug.data import ImageDataset, imbalanced_subset, stratified_indices
from genaug.device import get_device
from genaug.experiment.arms import Pool, PoolMaker, arm_data
from genaug.experiment.data_record import check_same_data
from genaug.experiment.generators import train_generator
from genaug.experiment.quality import make_judge, pool_quality
from genaug.experiment.settings import (
    CLASSICAL,
    GENERATORS,
    IMBALANCE_METHODS,
    MIXINGS,
    VAL_SEED,
    ExperimentConfig,
    arm_label,
    parse_method,
)
from genaug.experiment.stacks import Recipe, score_each, train_stack
from genaug.synthetic import labelled_batch

RUNS_CSV, SWEEP_CSV, IMBALANCE_CSV = "runs.csv", "ratio_sweep.csv", "imbalance.csv"


def recipe_for(method: str, data: ImageDataset, pools: dict[str, Pool],
               ratios: dict[str, float], thresholds: dict[str, float] | None = None,
               classical: str = DEFAULT_RECIPE) -> Recipe:
    """The Recipe for a method name such as 'none', 'classical', 'cgan+classical' or 'cgan@add'
    (``ratios`` and ``thresholds`` by arm, ``classical`` the recipe of classical augmentation);
    a pool a threshold leaves empty gives real images only."""
    parsed = parse_method(method)
    pool = pools.get(parsed.source)
    if pool is not None:
        pool = pool.kept((thresholds or {}).get(parsed.source))
    synthetic = (pool.images, pool.labels) if pool is not None and len(pool.labels) else None
    augment = config_for(data.name, data.channels, classical) if parsed.classical else None
    return Recipe(method, data, synthetic=synthetic, ratio=ratios.get(parsed.source, 0.0),
                  augment=augment, mixing=parsed.mixing)


def splits(config: ExperimentConfig, device: torch.device):
    """The training split, its validation part (held out once), the test split, val's indices."""
    train, test = config.load("train", device), config.load("test", device)
    val_idx = stratified_indices(train.labels, config.val_per_class, VAL_SEED)
    return train, train.subset(val_idx), test, val_idx


@dataclass(frozen=True)
class Candidate:
    """One row of a stack: a method (named with its mixing mode, e.g. 'cgan@add') with its
    generated share and confidence threshold, and its classical recipe where it augments."""

    method: str
    ratio: float = 0.0
    threshold: float | None = None
    recipe: str | None = None

    @property
    def source(self) -> str | None:
        """The arm whose pool feeds this row (None for real images only)."""
        return parse_method(self.method).source

    @property
    def arm(self) -> str | None:
        """The key its choices are kept under: the source in its mixing mode ('cgan@add')."""
        parsed = parse_method(self.method)
        return parsed.source and arm_label(parsed.source, parsed.mixing)


@dataclass(frozen=True)
class BudgetJob:
    """One (budget, seed) cell: each arm's pool, then one classifier per method.

    With ``sweep`` the stack holds each arm at every candidate ratio (and threshold, for the
    filtered arms and pseudo-labels) in every mixing mode, classical at every candidate recipe,
    plus 'none', and the rows' validation accuracy chooses; otherwise one model per method and
    mixing mode, with this budget's chosen ``ratios`` and ``thresholds`` (by arm: 'cgan',
    'cgan@add') and ``recipes`` (under 'classical', for every method that augments).
    """

    config: ExperimentConfig
    budget: int
    seed: int
    folder: Path
    ratios: dict[str, float] = field(default_factory=dict)
    sweep: bool = False
    thresholds: dict[str, float] = field(default_factory=dict)
    recipes: dict[str, str] = field(default_factory=dict)
    key_fields = ("budget", "seed")  # what identifies its rows in the CSV

    @property
    def table(self) -> str:
        """The CSV file its rows go to."""
        return SWEEP_CSV if self.sweep else RUNS_CSV

    @property
    def label(self) -> str:
        """The job in a progress line: ``'budget 10, seed 0'``."""
        return f"budget {self.budget}, seed {self.seed}{' (sweep)' if self.sweep else ''}"

    def candidates(self) -> list[Candidate]:
        """The stack's rows: every method, or in a sweep every arm at every setting tried."""
        cfg = self.config
        if not self.sweep:
            named = [arm_label(m, mode) for m in cfg.methods  # real images only: no mode
                     for mode in (cfg.mixings() if parse_method(m).source else MIXINGS[:1])]
            recipe = self.recipes.get(CLASSICAL, cfg.classical_recipes[0])
            rows = [Candidate(m) for m in named]
            return [Candidate(c.method, self.ratios.get(c.arm, 0.0), self.thresholds.get(c.arm),
                              recipe if parse_method(c.method).classical else None)
                    for c in rows]
        return [Candidate("none")] + [Candidate(arm, o.ratio or 0.0, o.threshold, o.recipe)
                                      for key, options in cfg.candidates().items()
                                      if len(options) > 1 for arm in cfg.arm_labels(key)
                                      for o in options]

    def run(self) -> list[dict]:
        check_same_data(self.config, self.folder)
        train, val, test, val_idx = splits(self.config, get_device())
        budget_idx = stratified_indices(train.labels, self.budget, self.seed, exclude=val_idx)
        maker = PoolMaker(self.config, self.folder, self.budget, self.seed,
                          arm_data(train, val_idx, budget_idx, self.config, self.seed))
        start = time.perf_counter()
        pools = {s: maker.pool(s) for s in self.config.sources()}
        gen_seconds = time.perf_counter() - start
        rows = self.candidates()
        recipes = [recipe_for(c.method, maker.data.labelled, pools, {c.source: c.ratio},
                              {c.source: c.threshold}, c.recipe or DEFAULT_RECIPE)
                   for c in rows]
        start = time.perf_counter()
        stack = train_stack(recipes, self.config, self.seed)
        clf_seconds = time.perf_counter() - start
        val_scores = score_each(stack, val)
        test_scores = {} if self.sweep else score_each(stack, test)  # a sweep only chooses
        quality = self.pool_quality(rows, recipes, test)
        return [{
            "dataset": self.config.dataset, "budget": self.budget, "seed": self.seed,
            "method": c.method, "setting": parse_method(c.method).setting,
            "mixing": parse_method(c.method).mixing if c.source else "", "ratio": c.ratio,
            "threshold": "" if c.threshold is None else c.threshold,
            "classical_recipe": c.recipe or "",
            "pool_size": 0 if recipe.synthetic is None else len(recipe.synthetic[1]),
            "val_accuracy": val_scores["accuracy"][i],
            **{f"test_{k}": test_scores[k][i] for k in ("accuracy", "balanced_accuracy")
               if k in test_scores},
            **quality[i],
            "generator_diverged": maker.diverged.get(c.source, False),
            "generator_seconds": round(gen_seconds, 2),
            "classifier_steps": self.config.classifier_steps_for(len(maker.data.labelled)),
            "classifier_seconds": round(clf_seconds, 2),
        } for i, (c, recipe) in enumerate(zip(rows, recipes, strict=True))]


    def pool_quality(self, rows: list[Candidate], recipes: list[Recipe], test: ImageDataset
                     ) -> list[dict]:
        """Each row's pool scored by the reference classifier, once per distinct pool (an arm
        and its '+classical' twin share one); empty where not measured."""
        if self.sweep or not self.config.measure_pools:
            return [{} for _ in recipes]
        judge, scored = make_judge(self.config, test), {}
        for c, r in zip(rows, recipes, strict=True):
            if r.synthetic is not None and (c.source, c.threshold) not in scored:
                scored[c.source, c.threshold] = pool_quality(*r.synthetic, judge)
        return [scored.get((c.source, c.threshold), {}) for c in rows]


@dataclass(frozen=True)
class ImbalanceJob:
    """One seed of the imbalance study: minority classes cut, then several ways to cope."""

    config: ExperimentConfig
    seed: int
    folder: Path
    key_fields = ("seed",)
    table = IMBALANCE_CSV

    @property
    def label(self) -> str:
        """The job in a progress line: ``'imbalance study, seed 0'``."""
        return f"imbalance study, seed {self.seed}"

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
        # no validation choice here: classical is the hand-chosen recipe, as in the notebooks
        augment = config_for(data.name, data.channels) if method == CLASSICAL else None
        return Recipe(method, data, augment=augment)

    def run(self) -> list[dict]:
        cfg = self.config
        check_same_data(cfg, self.folder)
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
            "classifier_steps": cfg.classifier_steps_for(len(data)),
        } for i, r in enumerate(recipes)]
