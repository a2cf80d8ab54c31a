"""Each sample-quality metric against a case whose answer is known in advance."""

import types

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn as nn

from genaug.data import load_dataset
from genaug.metrics import (
    class_accuracy,
    extract_features,
    frechet_distance,
    mean_pairwise_distance,
    nearest_neighbours,
    precision_recall,
    reference_classifier,
)


def exact_gaussian(n: int, mean: torch.Tensor, std: torch.Tensor, seed: int) -> torch.Tensor:
    """n points (n, F) whose sample mean is exactly ``mean`` and sample covariance diag(std^2).

    Whitening a random draw with its own sample statistics removes the sampling error, so the
    Frechet distance between two such sets equals the closed form to rounding.
    """
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, len(mean), generator=gen, dtype=torch.float64)
    z = z - z.mean(0)
    chol = torch.linalg.cholesky(torch.cov(z.T))
    z = torch.linalg.solve_triangular(chol, z.T, upper=False).T  # sample covariance: identity
    return mean.double() + z * std.double()


def test_frechet_distance_of_identical_sets_is_zero():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(x, x + 1.0) == pytest.approx(8.0, rel=1e-6)  # ||shift||^2 = 8 * 1^2


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    mu1, s1 = torch.tensor([0.0, 1.0, -2.0, 0.5]), torch.tensor([1.0, 2.0, 0.5, 1.0])
    mu2, s2 = torch.tensor([1.0, 1.0, 0.0, 0.5]), torch.tensor([1.0, 1.0, 1.5, 3.0])
    a, b = exact_gaussian(400, mu1, s1, seed=1), exact_gaussian(300, mu2, s2, seed=2)
    # For diagonal covariances tr(C1 + C2 - 2 (C1 C2)^(1/2)) = sum((s1 - s2)^2).
    expected = float((mu1 - mu2).pow(2).sum() + (s1 - s2).pow(2).sum())  # 1+0+4+0 + 0+1+1+4
    assert expected == pytest.approx(11.0)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-6)  # symmetric


def test_frechet_distance_matches_scipy_for_full_covariances():
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(600, 5, generator=gen, dtype=torch.float64) @ torch.randn(5, 5, generator=gen,
                                                                               dtype=torch.float64)
    b = torch.randn(700, 5, generator=gen, dtype=torch.float64) @ torch.randn(5, 5, generator=gen,
                                                                               dtype=torch.float64)
    b = b + 0.3
    ca, cb = np.cov(a.numpy().T), np.cov(b.numpy().T)  # covariances that do not commute
    root = scipy.linalg.sqrtm(ca @ cb).real
    expected = float(((a.mean(0) - b.mean(0)) ** 2).sum()) + np.trace(ca + cb - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def _clusters(n: int, centre: float, seed: int, dim: int = 4) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=gen) + centre


def test_precision_and_recall_of_identical_sets_are_one():
    x = _clusters(200, 0.0, seed=0)
    assert precision_recall(x, x) == (1.0, 1.0)


def test_far_apart_sets_have_zero_precision_and_recall():
    real, fake = _clusters(200, 0.0, seed=0), _clusters(200, 100.0, seed=1)
    assert precision_recall(real, fake) == (0.0, 0.0)


def test_samples_from_one_of_two_modes_have_high_precision_and_half_recall():
    real = torch.cat([_clusters(300, 0.0, seed=0), _clusters(300, 50.0, seed=1)])
    fake = _clusters(300, 0.0, seed=2)  # fresh draws from the first mode only: mode collapse
    precision, recall = precision_recall(real, fake)
    assert precision > 0.9, f"every sample looks real, so precision should be high: {precision}"
    assert 0.4 < recall <= 0.5, f"only one of two equal modes is covered: recall {recall}"


def test_metrics_refuse_images_mismatched_features_and_too_few_points():
    images, feats = torch.rand(10, 1, 8, 8), torch.rand(10, 16)
    with pytest.raises(ValueError, match="pass features, not images"):
        frechet_distance(images, images)
    with pytest.raises(ValueError, match=r"\(10, 16\) and \(10, 8\)"):
        precision_recall(feats, torch.rand(10, 8))
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(feats, feats[:1])
    with pytest.raises(ValueError, match="more than k=3 points"):
        precision_recall(feats, feats[:3])
    with pytest.raises(ValueError, match="same shape"):
        nearest_neighbours(torch.rand(4, 1, 8, 8), torch.rand(4, 1, 28, 28))
    with pytest.raises(ValueError, match="at least 2 images"):
        mean_pairwise_distance(torch.rand(1, 1, 8, 8))


def test_nearest_neighbours_finds_exact_copies_across_chunks():
    refs = torch.rand(50, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    order = torch.randperm(50, generator=torch.Generator().manual_seed(1))[:20]
    dist, index = nearest_neighbours(refs[order], refs, chunk=7)  # 3 chunks, the last short
    assert torch.equal(index, order)
    assert torch.all(dist == 0), f"copies should be at distance 0, got up to {dist.max()}"
    shifted, _ = nearest_neighbours(refs[order] + 0.01, refs)  # every pixel 0.01 away
    assert shifted.tolist() == pytest.approx([0.01 * 8] * 20, rel=1e-4)  # sqrt(64 * 0.01^2)


def test_mean_pairwise_distance_is_zero_for_copies_and_exact_for_two_images():
    assert mean_pairwise_distance(torch.ones(5, 1, 8, 8)) == pytest.approx(0.0, abs=1e-4)
    two = torch.stack([torch.zeros(1, 8, 8), torch.ones(1, 8, 8)])
    assert mean_pairwise_distance(two) == pytest.approx(8.0, rel=1e-5)  # sqrt(64 * 1^2)


class PixelClassifier(nn.Module):
    """A hand-made classifier: the logits are the first row of pixels, so the brightest
    pixel of row 0 is the predicted class."""

    def __init__(self) -> None:
        super().__init__()
        self.config = types.SimpleNamespace(n_models=1)
        self.anchor = nn.Parameter(torch.zeros(()))  # predict() reads the device from it

    def forward(self, x):
        return x[:, 0, 0, :] + self.anchor, None  # (B, 8): one logit per class


def test_class_accuracy_counts_the_images_given_their_intended_label():
    labels = torch.arange(10) % 8
    images = torch.zeros(10, 1, 8, 8)
    images[torch.arange(10), 0, 0, labels] = 1.0  # each image lights up its own class
    wanted = labels.clone()
    wanted[:3] = (wanted[:3] + 1) % 8  # three images carry the wrong intended label
    assert class_accuracy(PixelClassifier(), images, labels) == 1.0
    assert class_accuracy(PixelClassifier(), images, wanted) == pytest.approx(0.7)


def test_reference_classifier_fits_digits_and_is_cached():
    first = reference_classifier("digits", torch.device("cpu"))
    train = load_dataset("digits", "train")
    test = load_dataset("digits", "test")
    assert class_accuracy(first, train.images, train.labels) > 0.95
    assert class_accuracy(first, test.images, test.labels) > 0.9
    second = reference_classifier("digits", torch.device("cpu"))  # loads the checkpoint
    assert second is not first and not second.training
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(),
                             strict=True):
        assert torch.equal(a, b), f"{name} differs: the second call should load, not retrain"
    features = extract_features(first, test.images[:30])
    assert features.shape == (30, 4 * first.config.width)
