"""The quality of each arm's pool, measured beside the gain it bought.

A gain (or its absence) means more next to the images that caused it: the experiment can
record, for the pool each classifier actually drew from, notebook 06's measures: the share the
reference classifier gives their intended label, and the squared Frechet distance, precision
and recall against real test images in that classifier's feature space.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import torch

from genaug.data import ImageDataset, stratified_indices
from genaug.device import draw, make_generator
from genaug.experiment.settings import ExperimentConfig
from genaug.metrics import (
    class_accuracy,
    extract_features,
    frechet_distance,
    precision_recall,
    reference_classifier,
)
from genaug.models.classifier import SmallCNN

QUALITY_PER_CLASS = 100  # real test images per class, and about as many pool images per class


@dataclass(frozen=True)
class Judge:
    """The reference classifier and the features of the real images pools are compared with."""

    classifier: SmallCNN
    real_features: torch.Tensor


def make_judge(config: ExperimentConfig, test: ImageDataset) -> Judge:
    """The course's reference classifier (trained once, cached) and real test features."""
    with contextlib.redirect_stdout(io.StringIO()):  # its "Loaded ..." line, once a job
        classifier = reference_classifier(config.dataset, test.device, config.data_root,
                                          config.image_size)
    per_class = min(QUALITY_PER_CLASS, int(test.class_counts().min()))
    real = test.subset(stratified_indices(test.labels, per_class, seed=0))
    return Judge(classifier, extract_features(classifier, real.images))


def pool_quality(images: torch.Tensor, labels: torch.Tensor, judge: Judge) -> dict[str, float]:
    """Class accuracy, Frechet distance, precision and recall of (a sample of) one pool."""
    n = min(len(labels), QUALITY_PER_CLASS * judge.classifier.config.n_classes)
    pick = draw(torch.randperm, len(labels), generator=make_generator(0), device=labels.device)[:n]
    images, labels = images[pick.to(images.device)], labels[pick]
    fake = extract_features(judge.classifier, images)
    precision, recall = precision_recall(judge.real_features, fake)
    return {"pool_class_accuracy": class_accuracy(judge.classifier, images, labels),
            "pool_frechet": frechet_distance(judge.real_features, fake),
            "pool_precision": precision, "pool_recall": recall}
