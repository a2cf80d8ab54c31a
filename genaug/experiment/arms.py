"""Where each arm's extra training images come from, built only from what its setting may see.

Setting "labelled": the budget's images and labels, nothing else (cvae, cgan, cdiff, and their
``filtered-`` twins, which keep a sample only when a classifier trained on the budget agrees
with its label). Setting "labelled + unlabelled": also the training split's other images,
without their labels (a VAE's latent variations of labelled images, conditional generators
fine-tuned from unlabelled pretraining, and pseudo-labelling, the baseline a generative arm
must beat there). Reference: ``oracle-`` generators trained on every labelled training image,
a line showing what a well-fed generator's samples buy, not a fair method.

:class:`ArmData` hands each arm its inputs; the unlabelled images come as a bare tensor, so no
arm of setting 2 can read a label outside the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from genaug.data import ImageDataset
from genaug.device import draw, make_generator
from genaug.evaluation import predict
from genaug.experiment.generators import train_generator
from genaug.experiment.settings import ExperimentConfig
from genaug.experiment.stacks import Recipe, train_stack
from genaug.synthetic import labelled_batch, latent_variations


@dataclass(frozen=True)
class Pool:
    """An arm's extra labelled images; ``confidence``: a budget classifier's probability of each
    image's label, which a threshold filters on (None for arms that are not filtered)."""

    images: torch.Tensor
    labels: torch.Tensor
    confidence: torch.Tensor | None = None

    def kept(self, threshold: float | None) -> Pool:
        """The images whose confidence reaches ``threshold`` (all of them without one)."""
        if threshold is None or self.confidence is None:
            return self
        keep = self.confidence >= threshold
        return Pool(self.images[keep], self.labels[keep], self.confidence[keep])


@dataclass(frozen=True)
class ArmData:
    """What one job's arms may read."""

    labelled: ImageDataset  # the budget, with its labels: every arm
    unlabelled: torch.Tensor  # training images outside validation, no labels: setting 2
    train: ImageDataset  # the whole training split: oracle arms only, through ``everything``
    outside_val: torch.Tensor  # positions of its images outside the validation split

    @property
    def everything(self) -> ImageDataset:
        """Every labelled training image outside validation: what an oracle arm trains on."""
        return self.train.subset(self.outside_val)


def arm_data(train: ImageDataset, val_idx: torch.Tensor, budget_idx: torch.Tensor,
             config: ExperimentConfig, seed: int) -> ArmData:
    """Split the training data into what each setting may see; the unlabelled draw depends on
    the seed only, so every budget of a seed shares its pretrained models."""
    outside_val = torch.ones(len(train), dtype=torch.bool)
    outside_val[val_idx.cpu()] = False
    outside = outside_val.nonzero().squeeze(1)
    pool, n = outside, config.n_unlabelled
    if n is not None and n < len(pool):
        order = draw(torch.randperm, len(pool), generator=make_generator(seed), device=pool.device)
        pool = pool[order[:n]].sort().values
    return ArmData(train.subset(budget_idx), train.images[pool.to(train.device)], train, outside)


@dataclass
class PoolMaker:
    """Builds the pools of one (budget, seed) job, training what each needs once."""

    config: ExperimentConfig
    folder: Path  # generator checkpoints go to folder / "generators"
    budget: int
    seed: int
    data: ArmData
    diverged: dict[str, bool] = field(default_factory=dict)
    _made: dict = field(default_factory=dict)  # pools, pretrained models and the teacher

    def pool(self, source: str) -> Pool:
        """The pool of one arm (an entry of ``SOURCES``)."""
        if source not in self._made:
            self._made[source] = self._build(source)
        return self._made[source]

    def _build(self, source: str) -> Pool:
        kind = source.rsplit("-", 1)[-1]
        if source.startswith("filtered-"):
            return self._judged(self.pool(kind))
        if source == "pseudo-label":
            return self._pseudo_labelled()
        if source == "latent-vae":
            images, labels = latent_variations(
                self._pretrained("cvae"), self.data.labelled.images, self.data.labelled.labels,
                self.config.n_synthetic, temperature=self.config.latent_temperature,
                interpolation=self.config.latent_interpolation, seed=self.seed)
            return Pool(images, labels)
        if source.startswith("oracle-"):
            return self._sampled(source, kind, self.data.everything, f"oracle-{kind}")
        start = self._pretrained(kind) if source.startswith("finetuned-") else None
        return self._sampled(source, kind, self.data.labelled, source, start)

    def _sampled(self, source: str, kind: str, data: ImageDataset, name: str,
                 start_from: nn.Module | None = None) -> Pool:
        """Train a conditional generator on ``data`` and draw its labelled pool."""
        per_budget = "" if name.startswith("oracle-") else f"-b{self.budget}"
        path = self.folder / "generators" / f"{name}{per_budget}-s{self.seed}.pt"
        model, self.diverged[source] = train_generator(kind, data, self.config, self.seed, path,
                                                       start_from=start_from)
        return Pool(*labelled_batch(model, n=self.config.n_synthetic, seed=self.seed))

    def _pretrained(self, kind: str) -> nn.Module:
        """An unconditional twin of ``kind`` trained on the unlabelled images (once a seed)."""
        key = f"pretrained-{kind}"
        if key not in self._made:
            data = self.data.labelled
            images = ImageDataset(self.data.unlabelled,  # placeholder labels, never read:
                                  torch.zeros(len(self.data.unlabelled), dtype=torch.long,
                                              device=data.device), data.classes, data.name)
            path = self.folder / "generators" / f"{key}-s{self.seed}.pt"
            self._made[key], _ = train_generator(kind, images, self.config, self.seed, path,
                                                 conditional=False)
        return self._made[key]

    def _teacher(self) -> nn.Module:
        """A classifier trained on the budget alone: what filtering and pseudo-labels ask."""
        if "teacher" not in self._made:
            self._made["teacher"] = train_stack([Recipe("teacher", self.data.labelled)],
                                                self.config, self.seed)
        return self._made["teacher"]

    def _judged(self, pool: Pool) -> Pool:
        """``pool`` with the teacher's probability of each image's intended label."""
        probs = predict(self._teacher(), pool.images).softmax(-1)
        return Pool(pool.images, pool.labels, probs.gather(1, pool.labels[:, None]).squeeze(1))

    def _pseudo_labelled(self) -> Pool:
        """The unlabelled images, each with the teacher's label and its confidence in it."""
        confidence, labels = predict(self._teacher(), self.data.unlabelled).softmax(-1).max(-1)
        return Pool(self.data.unlabelled, labels, confidence)
