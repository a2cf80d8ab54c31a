"""Checks for exercise 06: the Gaussian of a feature set and the Frechet distance;
stretch: the noise floor between two halves of one set."""

from __future__ import annotations

import math
from typing import Callable

import torch

from genaug.checks.common import (
    _close,
    _expect,
    _gen,
    _number,
    _ok,
    _passed,
    _run,
    _seeded,
    _tensor,
    _tuple,
    _your,
)
from genaug.metrics import frechet_distance


def _with_moments(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``x`` reshaped so that its sample mean and (unbiased) covariance are exactly these."""
    x = x.double() - x.double().mean(0)
    white = torch.linalg.cholesky(torch.linalg.inv(torch.cov(x.T)))  # whitening matrix
    return x @ white @ torch.linalg.cholesky(cov.double()).T + mean.double()


def check_feature_stats(fn: Callable) -> None:
    """``fn(features)`` for features (N, F): their mean (F,) and unbiased covariance (F, F)."""
    with _seeded():
        x = torch.randn(50, 3) @ torch.tensor([[1.0, 0.5, 0], [0, 1, 0.3], [0, 0, 2]]) + 4
        out = _tuple(_run(fn, x), fn, 2, "a pair (mean, covariance)")
        mean, cov = (_tensor(v, fn) for v in out)
        _expect(tuple(mean.shape) == (3,), f"your mean has shape {tuple(mean.shape)}: average "
                "over the images, dim=0, giving one value per feature (F,).")
        _expect(tuple(cov.shape) != (50, 50), "your covariance is (N, N), one row per image: "
                "torch.cov wants one row per variable, so pass features.T.")
        _expect(tuple(cov.shape) == (3, 3), f"your covariance has shape {tuple(cov.shape)}, "
                "expected (F, F).")
        _ok("a mean (F,) and a covariance (F, F)")
        _expect(torch.allclose(mean, x.mean(0), atol=1e-5), "your mean differs from the "
                "average of each feature over the images.")
        _ok("the mean is right")
        want = torch.cov(x.T)
        _expect(not torch.allclose(cov, x.T @ x / 49, rtol=1e-4), "your covariance is not "
                "centred: subtract the mean from the features before multiplying.")
        _expect(not torch.allclose(cov, want * 49 / 50, rtol=1e-4), "your covariance divides "
                "by N; the unbiased estimate divides by N - 1, as torch.cov does.")
        _expect(torch.allclose(cov, want, rtol=1e-4, atol=1e-5), "your covariance differs from "
                "the unbiased covariance of the features, one row and column per feature.")
        _ok("the covariance is the unbiased one (N - 1), as torch.cov gives")
    _passed("the Gaussian fitted to a feature set.")


def check_frechet(fn: Callable) -> None:
    """``fn(real, fake)`` for feature sets (N, F), (M, F): the Frechet distance, a number."""
    with _seeded():
        x = torch.randn(500, 4)
        _expect_zero_to_itself(fn, x)
        shift = torch.tensor([1.0, 2.0, 0.0, 0.0])
        _expect_mean_term(fn, x, shift)
        s_r, s_f = torch.tensor([1.0, 2.0, 0.5, 1.0]), torch.tensor([2.0, 1.0, 0.5, 3.0])
        real = _with_moments(torch.randn(800, 4), torch.zeros(4), torch.diag(s_r ** 2))
        fake = _with_moments(torch.randn(600, 4), shift, torch.diag(s_f ** 2))
        got, want = _number(_run(fn, real, fake), fn), 5.0 + float(((s_r - s_f) ** 2).sum())
        _expect(_close(got, want, rtol=1e-2), f"for two Gaussians with diagonal covariances "
                f"your distance is {got:.4g}, expected {want:.4g} = ||mu_r - mu_f||^2 + "
                "sum((sigma_r - sigma_f)^2).")
        _ok("the closed form for diagonal Gaussians, and sets of different sizes")
        _expect_matrix_root(fn)
        lowest = min(_number(_run(fn, torch.randn(30, 4), torch.randn(30, 4)), fn)
                     for _ in range(5))
        _expect(lowest >= -1e-6, f"your distance came out negative ({lowest:.3g}): clamp tiny "
                "negative eigenvalues (rounding) to 0 before the square root.")
        _ok("never negative")
    _passed("the Frechet distance between two feature sets.")


def _expect_zero_to_itself(fn: Callable, x: torch.Tensor) -> None:
    """A set is at distance 0 from itself: the cross term must cancel the two traces."""
    same = _number(_run(fn, x, x.clone()), fn)
    trace = float(torch.cov(x.T).trace())
    _expect(not _close(same, 2 * trace, rtol=1e-2), f"identical sets gave {same:.4g}, "
            f"twice the covariance's trace: the cross term -2 tr((C_r C_f)^(1/2)) is "
            "missing.")
    _expect(abs(same) < 1e-3, f"identical feature sets gave {same:.4g}; the distance of a "
            "set to itself must be 0: check the trace term, tr(C_r + C_f - 2 (C_r C_f)^(1/2)); "
            "for identical sets tr((C C)^(1/2)) = tr(C), which a matrix square root gives "
            "and a root taken element by element does not.")
    _ok("identical sets are at distance 0")


def _expect_mean_term(fn: Callable, x: torch.Tensor, shift: torch.Tensor) -> None:
    """Shifting a set by ``shift`` adds ||shift||^2 (here 5), not its root."""
    shifted = _number(_run(fn, x, x + shift), fn)
    _expect(not abs(shifted) < 1e-3, "sets that differ by a shift of their mean gave 0: "
            "add the mean term ||mu_r - mu_f||^2.")
    _expect(not _close(shifted, math.sqrt(5), rtol=1e-2), f"a shift by (1, 2, 0, 0) gave "
            f"{shifted:.4g} = sqrt(5): the mean term is the squared distance, 5.")
    _expect(_close(shifted, 5.0, rtol=1e-2), f"a shift of the mean by (1, 2, 0, 0) gave "
            f"{shifted:.4g}, expected ||shift||^2 = 5.")
    _ok("a shifted mean adds its squared distance")


def _expect_matrix_root(fn: Callable) -> None:
    """Correlated features need a matrix square root; the result is symmetric in its inputs."""
    mix = torch.tensor([[1.0, 0.8, 0, 0], [0, 1, -0.6, 0], [0.3, 0, 1, 0.5], [0, 0, 0, 1]])
    real, fake = torch.randn(400, 4) @ mix, torch.randn(300, 4) @ mix.T * 1.5 + 0.2
    got, want = _number(_run(fn, real, fake), fn), frechet_distance(real, fake)
    _expect(math.isfinite(got), f"for correlated features your distance is {got}: a "
            "matrix square root taken element by element meets negative entries; use the "
            "eigenvalues of C_r @ C_f (clamped at 0) for the trace of the root.")
    _expect(_close(got, want, rtol=1e-2), f"for correlated features your distance is "
            f"{got:.4g}, expected {want:.4g}: (C_r C_f)^(1/2) is a matrix square root, "
            "not the root of each entry; its trace is the sum of the square roots of the "
            "eigenvalues of C_r @ C_f.")
    _ok("correlated features: the matrix square root is right")
    back = _number(_run(fn, fake, real), fn)
    _expect(_close(back, got, rtol=1e-3), f"d(real, fake) = {got:.4g} but d(fake, real) = "
            f"{back:.4g}: a distance is symmetric.")
    _ok("symmetric: d(real, fake) = d(fake, real)")


class _Recorder:
    """A distance that records the two sets it is given, and returns genaug's distance."""

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.values: list[float] = []

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> float:
        self.calls.append((a.detach().clone(), b.detach().clone()))
        self.values.append(frechet_distance(a, b))
        return self.values[-1]


def check_noise_floor(fn: Callable) -> None:
    """``fn(features, distance, generator, repeats)``: the distance between two random halves
    of one set, once per repeat, as a list of numbers."""
    with _seeded():
        n = 60
        features = torch.cat([torch.arange(n, dtype=torch.float32)[:, None],  # column 0: row id
                              torch.randn(n, 3)], dim=1)
        record = _Recorder()
        out = _run(fn, features, record, _gen(0), 4)
        _expect(isinstance(out, (list, tuple)), f"{_your(fn)} returned a {type(out).__name__}; "
                "return a list with one distance per repeat.")
        _expect(len(record.calls) == 4, f"the distance was called {len(record.calls)} times for "
                "4 repeats: split the set and measure once per repeat.")
        values = [_number(v, fn) for v in out]
        _expect(values == record.values, "return the distances the distance function gave, one "
                "per repeat, in order.")
        _ok("one distance per repeat, as returned by the distance you were given")
        splits = [_expect_halves(a, b, n) for a, b in record.calls]
        _expect(splits[0] != frozenset(range(n // 2)), "your first half is the first rows in "
                "order: a set stored sorted (by class, by time) would split into unlike "
                "halves; shuffle before splitting.")
        _expect(len(set(splits)) == len(splits), "every repeat used the same split: draw a new "
                "random split each time, or the spread of the floor is zero by construction.")
        _ok("each repeat splits the set afresh, at random, into two disjoint halves")
        again = _Recorder()
        _run(fn, features, again, _gen(0), 4)
        other = _Recorder()
        _run(fn, features, other, _gen(1), 4)
        _expect(again.values == record.values and other.values != record.values, "the same "
                "seed must repeat the splits and another seed change them: draw them with the "
                "generator you are given.")
        _ok("the same seed repeats the splits, another seed changes them")
    _passed("the noise floor: how far apart two halves of the same set already are.")


def _expect_halves(a: torch.Tensor, b: torch.Tensor, n: int) -> frozenset:
    """``a`` and ``b`` are two disjoint halves of the rows; returns the ids in ``a``."""
    ids_a, ids_b = (set(x[:, 0].round().long().tolist()) for x in (a, b))
    _expect(len(a) == len(b) == n // 2, f"the distance compared sets of {len(a)} and {len(b)} "
            f"rows out of {n}: compare two halves, N // 2 rows each.")
    _expect(ids_a.isdisjoint(ids_b), f"{len(ids_a & ids_b)} rows are in both halves: take the "
            "two halves from one shuffled order, so that no image is in both.")
    _expect(len(ids_a) == len(a) and len(ids_b) == len(b), "a half holds the same row twice: "
            "split a shuffled order of the rows; do not draw rows with replacement.")
    return frozenset(ids_a)
