"""Checks for exercise 01: classical augmentation on the device, batched and seeded;
stretch: mixup, which blends labels as well as images."""

from __future__ import annotations

from typing import Callable

import torch

from genaug.checks.common import (
    _expect,
    _fmt,
    _gen,
    _ok,
    _passed,
    _run,
    _seeded,
    _tensor,
    _tuple,
)


def check_random_flip(fn: Callable) -> None:
    """``fn(x, generator, p)``: mirror each image left-right with probability p, batched."""
    with _seeded():
        x = torch.rand(400, 1, 8, 8)
        keep = x.clone()
        out = _tensor(_run(fn, x, _gen(0), p=0.5), fn, x.shape)
        _expect(torch.equal(x, keep), "your function changed its input in place; return a new "
                "tensor instead (torch.where builds one).")
        _ok("shape kept, input left untouched")
        same = (out == x).flatten(1).all(1)
        mirrored = (out == x.flip(-1)).flatten(1).all(1)
        bad = torch.nonzero(~(same | mirrored)).flatten()
        if len(bad):
            i = int(bad[0])
            _expect(not torch.equal(out[i], x[i].flip(-2)), f"image {i} is mirrored top to "
                    "bottom: flip the width axis, the last one (x.flip(-1)).")
            _expect(False, f"image {i} is neither the input nor its left-right mirror: each "
                    "output image must be x[i] or x[i].flip(-1), chosen by torch.where.")
        _ok("every image is either unchanged or its left-right mirror")
        for p, low, high in ((0.5, 0.38, 0.62), (0.0, 0, 0), (1.0, 1, 1), (0.2, 0.12, 0.28)):
            share = _flip_share(fn, x, p, seed=1)
            _expect(not (p == 0.5 and share in (0.0, 1.0)), f"with p=0.5 {share:.0%} of the "
                    "images were flipped: draw one random number per image, shape (N,), not "
                    "one for the whole batch.")
            _expect(low <= share <= high, f"with p={p:g} you flipped {share:.0%} of the images, "
                    f"expected {low:.0%}-{high:.0%}: flip where the uniform draw is < p.")
        _ok("p=0 flips nothing, p=1 flips all, p=0.2 and p=0.5 flip about that share")
        _expect_repeatable(fn, x, dict(p=0.5))
    _passed("a random horizontal flip per image, repeatable by seed.")


def _flip_share(fn: Callable, x: torch.Tensor, p: float, seed: int) -> float:
    """The share of images that ``fn`` mirrored with probability ``p``."""
    out = _run(fn, x, _gen(seed), p=p)
    flipped = (out == x.flip(-1)).flatten(1).all(1) & ~(out == x).flatten(1).all(1)
    return float(flipped.float().mean())


def _expect_repeatable(fn: Callable, x: torch.Tensor, kwargs: dict) -> None:
    """Equal seeds give equal outputs, different seeds different ones (randomness per seed)."""
    a, b, c = (_run(fn, x, _gen(s), **kwargs) for s in (7, 7, 8))
    _expect(torch.equal(a, b), "two generators with the same seed gave different results: "
            "draw every random number from the generator you are given "
            "(torch.rand(..., generator=generator)), not from torch's global one.")
    _expect(not torch.equal(a, c), "two different seeds gave the same result: use the "
            "generator for the random draws.")
    _ok("the same seed repeats the result, another seed changes it")


def check_square_erase(fn: Callable) -> None:
    """``fn(x, generator, size, p)``: zero a size x size square, fully inside, per image."""
    with _seeded():
        n, s, size = 600, 8, 3
        ones = torch.ones(n, 1, s, s)
        out = _tensor(_run(fn, ones, _gen(0), size=size, p=1.0), fn, ones.shape)
        _expect(torch.equal(ones, torch.ones_like(ones)), "your function changed its input in "
                "place; return a new tensor (masked_fill or torch.where build one).")
        _expect(bool(((out == 0) | (out == 1)).all()), "some pixels became neither 0 nor "
                "their old value: set the pixels inside the square to 0 and keep the rest.")
        _expect_one_square(out.squeeze(1) == 0, size)
        x = torch.rand(n, 1, s, s) + 0.1
        _expect_erase_share(fn, x, size)
        _expect_repeatable(fn, x, dict(size=size, p=0.5))
    _passed("random erasing of a square per image, batched and repeatable by seed.")


def _expect_one_square(zeros: torch.Tensor, size: int) -> None:
    """``zeros`` (N, H, W), the erased pixels with p=1: one square per image, placed anywhere."""
    n, s = zeros.shape[0], zeros.shape[-1]
    counts = zeros.flatten(1).sum(1)
    _expect(bool(counts.any()), "with p=1 no image was erased: erase where the uniform "
            "draw is < p.")
    i = int(torch.argmax((counts != size * size).int()))
    _expect(int(counts[i]) == size * size, f"image {i} has {int(counts[i])} erased pixels "
            f"with p=1, expected size*size = {size * size}: the square must lie fully "
            "inside the image.")
    rows, cols = zeros.any(2), zeros.any(1)  # (N, H) and (N, W): lines holding zeros
    _expect(bool((rows.sum(1) == size).all() & (cols.sum(1) == size).all()),
            f"the erased pixels do not form a {size}x{size} square in every image.")
    _ok(f"with p=1 every image loses exactly one {size}x{size} square, inside the image")
    top, left = rows.float().argmax(1), cols.float().argmax(1)
    corners = set(zip(top.tolist(), left.tolist(), strict=True))
    _expect(len(corners) > 10, f"the squares sit in only {len(corners)} place(s): draw a "
            "top and a left position for every image, shape (N,).")
    _expect(int(top.max()) == s - size and int(left.max()) == s - size,
            f"the square never touched the bottom or right edge in {n} images: positions "
            f"go from 0 to H - size inclusive (torch.randint's upper bound is exclusive, "
            "so use H - size + 1).")
    _expect(int(top.min()) == 0 and int(left.min()) == 0, "the square never touched the "
            "top or left edge: positions start at 0.")
    _ok("square positions vary per image and reach every edge")


def _expect_erase_share(fn: Callable, x: torch.Tensor, size: int) -> None:
    """p=0 erases nothing, p=0.5 about half of the images, and pixels outside stay as they were."""
    out = _run(fn, x, _gen(1), size=size, p=0.5)
    kept = (out == x).flatten(1).all(1)
    _expect(torch.equal(_run(fn, x, _gen(1), size=size, p=0.0), x),
            "with p=0 some images changed: erase only where the uniform draw is < p.")
    _expect(bool(((out == x) | (out == 0)).all()), "pixels outside the square changed: "
            "keep x where the mask is False.")
    share = 1 - float(kept.float().mean())
    _expect(0.42 <= share <= 0.58, f"with p=0.5 you erased {share:.0%} of the images: "
            "one uniform draw per image, erase where it is < p.")
    _ok("p=0 erases nothing, p=0.5 about half; other pixels keep their values")


def check_mixup(fn: Callable) -> None:
    """``fn(x, labels, n_classes, generator)``: each image blended with a partner, labels alike."""
    with _seeded():
        n, k = 64, 5
        x = torch.eye(n).view(n, 1, 8, 8)  # image i lights pixel i alone: mixes can be read back
        labels = torch.arange(n) % k
        keep = x.clone()
        out = _tuple(_run(fn, x, labels, k, _gen(0)), fn, 2, "a pair (mixed images, soft labels)")
        images, soft = _tensor(out[0], fn, x.shape), _tensor(out[1], fn, (n, k))
        _expect(torch.equal(x, keep), "your function changed its input in place; return new "
                "tensors instead.")
        _ok(f"images {tuple(x.shape)} and soft labels (N, K) = ({n}, {k})")
        weights = images.detach().flatten(1).double()  # (N, N): how much of image i is in mix j
        _expect_pairs(weights)
        _expect_soft_labels(weights, soft.detach().double(), labels, k)
        a, b, c = (_run(fn, x, labels, k, _gen(s))[0] for s in (7, 7, 8))
        _expect(torch.equal(a, b) and not torch.equal(a, c), "the same seed must repeat the "
                "mix and another seed change it: draw the partners and the weights from the "
                "generator you are given.")
        _ok("the same seed repeats the mix, another seed changes it")
    _passed("mixup: every image blended with a partner, and its label with the same weight.")


def _expect_pairs(weights: torch.Tensor) -> None:
    """Each mixed image is a weighted average of itself and one partner, weights per image."""
    _expect(bool(torch.allclose(weights.sum(1), torch.ones(len(weights), dtype=weights.dtype),
                                atol=1e-5)), "the weights of a mix do not add up to 1: a "
            "mixed image is an average of two images, lam of one and 1 - lam of the other.")
    _expect(bool(((weights > 1e-6).sum(1) <= 2).all()), "a mixed image blends more than two "
            "images: give each image one partner.")
    own = weights.diagonal()
    _expect(bool((own > 1e-6).all()), "a mixed image holds nothing of the image in its place: "
            "blend image j with its partner; do not replace it.")
    mixed = own < 1 - 1e-6  # rows whose partner is another image
    _expect(int(mixed.sum()) > len(weights) // 2, "most images were not mixed with another "
            "one: draw the partners as a random permutation of the batch.")
    _expect(float(own[mixed].std()) > 0.1, f"every image got the same weight "
            f"({float(own[mixed].mean()):.2f}): draw one weight per image, so that some mixes "
            "are nearly one image and others half and half.")
    _ok("each image is blended with one partner, with its own weight")


def _expect_soft_labels(weights: torch.Tensor, soft: torch.Tensor, labels: torch.Tensor,
                        k: int) -> None:
    """The soft label of a mix holds each class with the weight its image has in the mix."""
    one_hot = torch.nn.functional.one_hot(labels, k).double()
    _expect(not torch.allclose(soft, one_hot), "your labels are the original one-hot labels: "
            "an image that is 30% of another one should say so in its label too.")
    _expect(bool(torch.allclose(soft.sum(1), torch.ones(len(soft), dtype=soft.dtype),
                                atol=1e-5)), "a soft label does not sum to 1: its class shares "
            "are the two images' weights.")
    own = weights.diagonal()
    others = weights - torch.diag(own)  # (N, N): the partner's weight alone, off the diagonal
    swap = torch.diag(others.sum(1)) + (others > 1e-6) * own[:, None]  # lam <-> 1 - lam
    swapped = torch.where((others.sum(1) > 1e-6)[:, None], swap, weights)
    _expect(not torch.allclose(soft, swapped @ one_hot, atol=1e-5), "the label weights are "
            "swapped: the image that makes up lam of the mix gives lam of the label, not "
            "1 - lam.")
    want = weights @ one_hot
    j = int(torch.argmax((soft - want).abs().sum(1)))
    _expect(bool(torch.allclose(soft, want, atol=1e-5)), f"the soft label of image {j} does "
            f"not match what it is made of (expected {_fmt(want[j])}, got {_fmt(soft[j])}): "
            "mix each label with the same partner and the same weight as its image.")
    _ok("each soft label holds the two classes with the weights of the two images")
