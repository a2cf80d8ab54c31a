"""Judging generated images with numbers rather than eyes.

There are no downloadable Inception weights here, so the features come from a classifier
trained on the real training set of the same dataset (:func:`reference_classifier`). On those
features: the Frechet distance (how far the two feature distributions are), precision and
recall (fidelity and diversity, apart), class accuracy (does a sample look like its label?),
train-on-synthetic-test-on-real accuracy, and nearest training neighbours (memorisation).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from genaug import pretrained
from genaug.augment import config_for
from genaug.checkpoint import cached
from genaug.config import pick
from genaug.data import FOLDER, ImageDataset, load_dataset
from genaug.device import get_device, make_generator
from genaug.models.classifier import ClassifierConfig, SmallCNN
from genaug.models.modes import evaluating
from genaug.train import fit_classifier, predict


def reference_classifier(dataset: str, device: torch.device | None = None,
                         root: str | Path | None = None, size: int | None = None) -> SmallCNN:
    """A classifier trained on the whole real training set: the judge of generated images.

    For Fashion-MNIST it is the course's shipped judge (``genaug.pretrained.load("judge")``, the
    full recipe below, about 90% on real test images) in both modes; for other data it is
    trained once and cached (see :func:`genaug.checkpoint.cached`); every later notebook
    that asks for the same dataset gets the same model back in seconds. ``root`` and ``size``
    name a folder of your own images, as in :func:`genaug.data.load_dataset`.
    """
    device = device or get_device()
    if dataset == "fashion_mnist" and "judge" in pretrained.available():
        return pretrained.load("judge", device)  # the full recipe below, trained once
    train = load_dataset(dataset, "train", root=root, device=device, size=size)
    steps = pick(full=6000, quick=300)
    model = SmallCNN(ClassifierConfig(n_classes=train.n_classes, width=pick(32, 16),
                                      channels=train.channels)).to(device)
    augment = config_for(dataset, train.channels)
    cached(_reference_name(train, steps), model,
           lambda m: fit_classifier(m, train, steps, batch_size=256, augment=augment,
                                    seed=1234, desc="reference classifier"))
    return model.eval()


def _reference_name(train: ImageDataset, steps: int) -> str:
    """The cache name of a reference classifier; a folder's holds a digest of its images, so
    a changed folder gets a new judge rather than a stale one."""
    if train.name != FOLDER:
        return f"reference-classifier-{train.name}-{steps}"
    pixels = train.images.mul(255).round().to(torch.uint8).cpu().numpy().tobytes()
    digest = hashlib.sha256(pixels + train.labels.cpu().numpy().tobytes()).hexdigest()[:12]
    return f"reference-classifier-folder-{digest}-{steps}"


@torch.no_grad()
def extract_features(classifier: SmallCNN, images: torch.Tensor,
                     batch_size: int = 1000) -> torch.Tensor:
    """The classifier's penultimate features (N, F) for images in [0, 1]."""
    device = next(classifier.parameters()).device
    with evaluating(classifier):
        feats = [classifier.features(images[i: i + batch_size].to(device)).float()
                 for i in range(0, images.shape[0], batch_size)]
    return torch.cat(feats)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """The squared Frechet distance d^2 between Gaussians fitted to feature sets (N, F), (M, F).

    d^2 = ||mu_r - mu_f||^2 + tr(C_r + C_f - 2 (C_r C_f)^(1/2)): what FID reports (Heusel et
    al., 2017), although the name leaves out "squared".
    The matrix square root's trace is computed as the sum of square roots of the eigenvalues
    of C_r^(1/2) C_f C_r^(1/2), a symmetric matrix, which is stable in float64.
    """
    _check_features(real, fake)
    real, fake = real.double(), fake.double()
    mu_r, mu_f = real.mean(0), fake.mean(0)
    cov_r, cov_f = torch.cov(real.T), torch.cov(fake.T)
    vals, vecs = torch.linalg.eigh(cov_r)
    root_r = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.T
    trace_sqrt = torch.linalg.eigvalsh(root_r @ cov_f @ root_r).clamp(min=0).sqrt().sum()
    value = (mu_r - mu_f).pow(2).sum() + cov_r.trace() + cov_f.trace() - 2 * trace_sqrt
    return float(value.clamp(min=0))


def _check_features(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"Expected two feature sets (N, F) and (M, F), got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}; pass features, not images.")
    if min(a.shape[0], b.shape[0]) < 2:
        raise ValueError("Each feature set needs at least 2 rows to estimate a covariance.")


def _kth_neighbour_radius(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row (the row itself excluded)."""
    return torch.cat([torch.cdist(x[i: i + chunk], x).topk(k + 1, largest=False).values[:, -1]
                      for i in range(0, x.shape[0], chunk)])


def _inside_any_ball(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                     chunk: int = 2048) -> torch.Tensor:
    """Share of ``points`` that fall inside at least one ball (centre, radius)."""
    inside = [(torch.cdist(points[i: i + chunk], centres) <= radii).any(1)
              for i in range(0, points.shape[0], chunk)]
    return torch.cat(inside).float().mean()


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al., 2019) on feature sets.

    Each set's manifold is the union of balls reaching every point's k-th nearest neighbour.
    Precision is the share of fake points inside the real manifold (fidelity); recall is the
    share of real points inside the fake manifold (diversity: are all real modes covered?).
    """
    _check_features(real, fake)
    if min(real.shape[0], fake.shape[0]) <= k:
        raise ValueError(f"Each set needs more than k={k} points for k-nearest-neighbour radii.")
    real, fake = real.float(), fake.float()
    precision = _inside_any_ball(fake, real, _kth_neighbour_radius(real, k))
    recall = _inside_any_ball(real, fake, _kth_neighbour_radius(fake, k))
    return float(precision), float(recall)


@torch.no_grad()
def mean_pairwise_distance(images: torch.Tensor, chunk: int = 1024) -> float:
    """Mean L2 distance between two different images of a batch: 0 when all are identical.

    A cheap diversity check: a collapsed generator scores far below a batch of real images.
    """
    flat = images.flatten(1).float()  # (N, C*H*W)
    n = flat.shape[0]
    if n < 2:
        raise ValueError(f"Need at least 2 images to compare, got {n}.")
    total = sum(float(torch.cdist(flat[i: i + chunk], flat).sum()) for i in range(0, n, chunk))
    return total / (n * (n - 1))  # the n zero distances of an image to itself add nothing


def class_accuracy(classifier: SmallCNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images the classifier assigns to their intended label."""
    predicted = predict(classifier, images).argmax(-1)
    return float((predicted == labels.to(predicted.device)).float().mean())


def tstr_accuracy(synthetic: ImageDataset, test: ImageDataset, steps: int, seed: int = 0,
                  width: int = 16) -> float:
    """Train on synthetic, test on real: a fresh classifier learns from generated data only,
    then is scored on real test images. High only if the samples carry each class's features."""
    torch.manual_seed(seed)  # before the model: its initial weights are part of the seed
    model = SmallCNN(ClassifierConfig(n_classes=test.n_classes, width=width,
                                      channels=test.channels)).to(synthetic.device)
    fit_classifier(model, synthetic, steps, seed=seed, desc="train on synthetic")
    return class_accuracy(model, test.images, test.labels)


@torch.no_grad()
def nearest_neighbours(queries: torch.Tensor, references: torch.Tensor, chunk: int = 1024
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query image, the pixel-space (L2) distance to its nearest reference and its index.

    Compared with the same distances for real test images, it shows whether a generator
    copies its training images (memorisation) instead of making new ones.
    """
    if queries.shape[1:] != references.shape[1:]:
        raise ValueError(f"Queries {tuple(queries.shape)} and references {tuple(references.shape)} "
                         "need the same shape per image; compare images of one dataset.")
    refs = references.flatten(1).float()
    dists, index = [], []
    for i in range(0, queries.shape[0], chunk):
        q = queries[i: i + chunk].flatten(1).float().to(refs.device)  # (n, C*H*W)
        best = torch.cdist(q, refs).min(dim=1).indices
        # cdist's fast matrix-product form is off by ~1e-3; recompute the winners exactly, so
        # that a copied training image shows as distance 0.
        dists.append((q - refs[best]).norm(dim=1))
        index.append(best)
    return torch.cat(dists), torch.cat(index)


@torch.no_grad()
def sample_quality(model: torch.nn.Module, test: ImageDataset, judge: SmallCNN, n: int = 2000,
                   seed: int = 7) -> dict[str, float]:
    """Notebook 06's measures of ``n`` samples, as every "quick beside pretrained" table shows
    them: Frechet distance, precision and recall against real test images on the judge's
    features, and the judge's class accuracy (conditional models) or the largest share of one
    class among the samples with the classes holding 2% or more (unconditional ones: collapse).
    """
    n = min(n, len(test))
    conditional = model.config.n_classes > 0
    labels = torch.arange(n, device=test.device) % test.n_classes
    images = model.sample(n, labels=labels if conditional else None,
                          generator=make_generator(seed)).float()
    real, fake = extract_features(judge, test.images[:n]), extract_features(judge, images)
    precision, recall = precision_recall(real, fake)
    scores = {"Frechet distance": frechet_distance(real, fake), "precision": precision,
              "recall": recall}
    if conditional:
        scores["class accuracy"] = class_accuracy(judge, images, labels)
    else:
        shares = torch.bincount(predict(judge, images).argmax(-1), minlength=test.n_classes) / n
        scores["largest class share"] = float(shares.max())
        scores["classes covered"] = int((shares >= 0.02).sum())
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}
