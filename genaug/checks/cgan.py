"""Checks for exercise 05: conditioning a GAN, by a one-hot input and a projection output;
stretch: truncated noise."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from genaug.checks.common import _expect, _fmt, _gen, _ok, _passed, _run, _seeded, _tensor


def _projection_case() -> tuple:
    """h (2, 2), labels, a linear layer and an embedding with hand-set weights."""
    h = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    linear = nn.Linear(2, 1)
    embed = nn.Embedding(3, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -1.0]]))
        linear.bias.fill_(0.5)
        embed.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]))
    return h, torch.tensor([0, 2]), linear, embed


def check_projection(fn: Callable) -> None:
    """``fn(h, labels, linear, embed)``: linear(h) + <embed(y), h>, one logit per image."""
    h, labels, linear, embed = _projection_case()
    out = _tensor(_run(fn, h, labels, linear, embed), fn)
    _expect(tuple(out.shape) != (2, 1), "your logits have shape (B, 1): squeeze the last axis "
            "(.squeeze(1)) so that there is one logit per image, shape (B,).")
    _expect(tuple(out.shape) != (2, 2), "you got a (B, B) matrix: multiply embed(labels) and h "
            "element by element and sum over the features (dim=1), not a matrix product.")
    _tensor(out, fn, (2,))
    _ok("one logit per image")
    got = out.detach()
    _expect(not torch.allclose(got, torch.tensor([-0.5, -0.5])), "your logits ignore the "
            "labels: add the projection term (embed(labels) * h).sum(dim=1).")
    _expect(not torch.allclose(got, torch.tensor([1.0, 14.0])), "the unconditional term is "
            "missing: add linear(h).squeeze(1) to the projection term.")
    _expect(torch.allclose(got, torch.tensor([0.5, 13.5])), f"for h=[[1, 2], [3, 4]], labels "
            f"[0, 2] you got {_fmt(got)}, expected [0.5, 13.5] = linear(h) + "
            "(embed(labels) * h).sum(1): (1 - 2 + 0.5) + 1 and (3 - 4 + 0.5) + 14.")
    _ok("matches linear(h) + <embed(y), h> on hand-computed numbers")
    other = _run(fn, h, torch.tensor([1, 1]), linear, embed).detach()
    _expect(torch.allclose(other, torch.tensor([1.5, 3.5])), f"with labels [1, 1] you got "
            f"{_fmt(other)}, expected [1.5, 3.5]: look the embedding up with the labels given.")
    _ok("changing the labels changes the logits as it should")
    _passed("the projection discriminator's output (Miyato & Koyama, 2018).")


def check_one_hot_input(fn: Callable) -> None:
    """``fn(z, labels, n_classes)``: [z, one_hot(labels)] as G's input, shape (B, D + K)."""
    z, labels, k = torch.randn(4, 3), torch.tensor([0, 2, 2, 1]), 5
    out = _tensor(_run(fn, z, labels, k), fn)
    _expect(tuple(out.shape) != (4, 6), "your input is 3 + 3 wide: F.one_hot(labels) without "
            "num_classes sizes it by the largest label in this batch; pass n_classes.")
    _tensor(out, fn, (4, 3 + k))
    _expect(out.dtype == z.dtype, f"your input has dtype {out.dtype}: cast the one-hot part "
            "to z's dtype (.to(z.dtype)) so that a linear layer can read it.")
    _ok(f"shape (B, latent_dim + n_classes) = (4, {3 + k}), dtype {z.dtype}")
    _expect(not torch.equal(out[:, k:], z), "the one-hot label comes first: put z first, then "
            "the label (torch.cat([z, one_hot], dim=1)), as genaug's Generator reads it.")
    _expect(torch.equal(out[:, :3], z), "the first latent_dim columns must be z itself.")
    _expect(torch.equal(out[:, 3:], F.one_hot(labels, k).to(z.dtype)), "the last n_classes "
            "columns must be the one-hot labels: a 1 in column latent_dim + label.")
    _ok("z first, then a one-hot row per label")
    _passed("label conditioning by concatenation.")


def _truncated_std(t: float) -> float:
    """The standard deviation of N(0, 1) truncated to [-t, t]."""
    density, inside = math.exp(-t * t / 2) / math.sqrt(2 * math.pi), math.erf(t / math.sqrt(2))
    return math.sqrt(1 - 2 * t * density / inside)


def check_truncated_noise(fn: Callable) -> None:
    """``fn(n, latent_dim, threshold, generator)``: N(0, I) noise with every |z_i| <= threshold."""
    with _seeded():
        z = _tensor(_run(fn, 4000, 8, 1.0, _gen(0)), fn, (4000, 8))
        _expect(z.is_floating_point(), f"your noise has dtype {z.dtype}: draw floats.")
        _ok("one code per row, latent_dim columns")
        largest = float(z.abs().max())
        _expect(largest <= 1.0, f"a value of size {largest:.3g} passed the threshold 1: some "
                "values drawn again landed outside too; keep drawing until none is left.")
        edge = float((z.abs() > 1 - 1e-6).float().mean())
        _expect(edge < 0.01, f"{edge:.0%} of your values sit exactly on the threshold: clamping "
                "moves every large value to the edge, which N(0, 1) never does; draw those "
                "values again instead.")
        _ok("every value lies within the threshold, none piled up on its edge")
        std, centre = float(z.std()), float((z.abs() < 0.5).float().mean())
        want_std = _truncated_std(1.0)
        _expect(abs(centre - 0.5) > 0.03, f"{centre:.0%} of your values lie within 0.5 of 0, "
                "as for a uniform draw: keep the normal's bell shape, most values near 0.")
        _expect(abs(std - want_std) < 0.02, f"your values spread by {std:.3f}; a normal cut at "
                f"+-1 spreads by {want_std:.3f}: draw from N(0, 1) and redraw the values "
                "outside, rather than rescaling the draw.")
        loose = float(_tensor(_run(fn, 4000, 8, 4.0, _gen(1)), fn, (4000, 8)).std())
        _expect(abs(loose - 1) < 0.03, f"with the threshold at 4 your noise spreads by "
                f"{loose:.3f}: so loose a cut should leave N(0, 1) almost untouched (1.00).")
        _ok(f"the shape of a cut normal: spread {std:.3f} at +-1, {loose:.3f} at +-4")
        a, b, c = (_run(fn, 50, 8, 1.0, _gen(s)) for s in (7, 7, 8))
        _expect(torch.equal(a, b) and not torch.equal(a, c), "the same seed must give the same "
                "noise and another seed other noise: draw every value, redraws included, "
                "from the generator you are given.")
        _ok("the same seed repeats the noise, another seed changes it")
    _passed("truncated noise: fidelity bought with diversity, at a threshold you choose.")
