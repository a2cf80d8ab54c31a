"""Checks for exercise 01: classical augmentation on the device, batched and seeded."""

from __future__ import annotations

from typing import Callable

import torch

from genaug.checks.common import _expect, _gen, _ok, _passed, _run, _seeded, _tensor


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
