"""Checks for exercise 05: conditioning a GAN, by a one-hot input and a projection output."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from genaug.checks.common import _expect, _fmt, _ok, _passed, _run, _tensor


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
