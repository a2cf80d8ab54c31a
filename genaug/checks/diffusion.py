"""Checks for exercise 08: the noising step and the flow-matching (denoising) loss;
stretch: the cosine path and its velocity."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from genaug.checks.common import _expect, _number, _ok, _passed, _run, _seeded, _tensor
from genaug.models.diffusion import add_noise, velocity_target


def check_add_noise(fn: Callable) -> None:
    """``fn(x, noise, t)``: x_t = (1 - t) * x + t * noise, with one t per image (B,)."""
    with _seeded():
        x, noise = torch.rand(4, 1, 4, 4) * 2 - 1, torch.randn(4, 1, 4, 4)  # B = W on purpose
        x_copy, noise_copy = x.clone(), noise.clone()
        _tensor(_run(fn, x, noise, torch.full((4,), 0.5)), fn, x.shape)
        _expect(torch.equal(x, x_copy) and torch.equal(noise, noise_copy),
                "your function changed x or the noise in place: build a new tensor instead.")
        at_zero = _run(fn, x, noise, torch.zeros(4))
        _expect(not torch.allclose(at_zero, noise), "at t = 0 you returned the noise: x and the "
                "noise have swapped places; t = 0 is the clean image, t = 1 pure noise.")
        _expect(torch.allclose(at_zero, x, atol=1e-6), "at t = 0 x_t should be the image x "
                "itself: the weight of x is (1 - t), which is 1 at t = 0.")
        at_one = _run(fn, x, noise, torch.ones(4))
        _expect(torch.allclose(at_one, noise, atol=1e-6), "at t = 1 x_t should be pure noise: "
                "the weight of the noise is t, and x's weight (1 - t) is then 0.")
        _ok("t = 0 gives the image, t = 1 the noise")
        _check_middle(fn, x, noise)
    _passed("x_t = (1 - t) x + t noise, the straight line from the image to the noise.")


def _check_middle(fn: Callable, x: torch.Tensor, noise: torch.Tensor) -> None:
    """Halfway is the mean of the two ends, and every image uses its own t."""
    half = _run(fn, x, noise, torch.full((4,), 0.5))
    root = 0.5 ** 0.5 * (x + noise)
    _expect(not torch.allclose(half, root, atol=1e-5), "at t = 0.5 you mixed x and the noise "
            "with weights sqrt(1 - t) and sqrt(t), the variance-preserving path of DDPM: the "
            "straight line uses the weights (1 - t) and t themselves.")
    _expect(torch.allclose(half, (x + noise) / 2, atol=1e-6), "at t = 0.5 x_t should be the "
            "average of the image and the noise, (x + noise) / 2: weights (1 - t) and t.")
    _ok("halfway, x_t is the average of image and noise")
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    mixed = _run(fn, x, noise, t)
    _expect(torch.allclose(mixed, add_noise(x, noise, t), atol=1e-6), "with a different t for "
            "each image the result is wrong, though one t for all works: t has shape (B,), so "
            "reshape it to (B, 1, 1, 1) with t.view(-1, 1, 1, 1) before multiplying, so that "
            "it scales whole images instead of one axis of every image.")
    _ok("each image is noised with its own t")


class _Probe(nn.Module):
    """A stand-in denoiser: a known function of (x_t, t, labels) that records what it got."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))
        self.seen: tuple | None = None

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, labels=None) -> torch.Tensor:
        self.seen = (x_t.detach().clone(), t, labels)
        shift = torch.as_tensor(t, dtype=x_t.dtype).reshape(-1, 1, 1, 1)  # (B, 1, 1, 1)
        if labels is not None:
            shift = shift + 0.1 * labels.reshape(-1, 1, 1, 1).to(x_t.dtype)
        return self.scale * x_t + shift


def check_flow_matching_loss(fn: Callable) -> None:
    """``fn(model, x, labels, noise, t)``: MSE between model(x_t, t, labels) and noise - x,
    with x in [0, 1] rescaled to [-1, 1] first."""
    with _seeded():
        x, noise = torch.rand(4, 1, 4, 4), torch.randn(4, 1, 4, 4)
        labels, t = torch.tensor([0, 1, 2, 1]), torch.tensor([0.1, 0.4, 0.6, 0.9])
        model = _Probe()
        loss = _run(fn, model, x, labels, noise, t)
        value = _number(loss, fn)
        _check_model_inputs(model, x, labels, noise, t)
        _check_loss_value(model, value, x, labels, noise, t)
        _expect(isinstance(loss, torch.Tensor) and loss.requires_grad, "your loss carries no "
                "gradient: compute it with torch operations on the model's output (no .item(), "
                "no .detach(), no torch.no_grad()).")
        loss.backward()
        _expect(model.scale.grad is not None and float(model.scale.grad.abs()) > 0,
                "no gradient reached the model's weights: the loss must use its prediction.")
        _ok("the gradient reaches the model")
    _passed("the flow-matching loss, ready to train a denoiser.")


def _check_model_inputs(model: _Probe, x, labels, noise, t) -> None:
    """The model must see the noised, rescaled images, their times and their labels."""
    _expect(model.seen is not None, "your loss never calls the model: its prediction "
            "model(x_t, t, labels) is what the loss compares with the target.")
    x_t, seen_t, seen_labels = model.seen
    expected = add_noise(2 * x - 1, noise, t)
    _expect(not torch.allclose(x_t, add_noise(x, noise, t), atol=1e-5), "the model got images "
            "noised from x in [0, 1]: rescale them to [-1, 1] first (2 * x - 1), the scale of "
            "the noise, as the sampler's output is mapped back with (x + 1) / 2.")
    _expect(x_t.shape == expected.shape and torch.allclose(x_t, expected, atol=1e-5),
            "the model was not given x_t = (1 - t) * x + t * noise of the rescaled images: "
            "noise them with your add_noise and pass the result.")
    _ok("the model sees the noised images")
    _expect(isinstance(seen_t, torch.Tensor) and torch.equal(seen_t, t), "pass the model the "
            "times t themselves, one per image: it must know how noisy its input is.")
    _expect(isinstance(seen_labels, torch.Tensor) and torch.equal(seen_labels, labels),
            "pass the labels to the model: a class-conditional denoiser needs them.")
    _ok("and their times and labels")


def _check_loss_value(model: _Probe, value: float, x, labels, noise, t) -> None:
    """The loss is the mean squared error against noise - x; each planted slip is named."""
    x = 2 * x - 1
    with torch.no_grad():
        v = model(add_noise(x, noise, t), t, labels)

        def mse(target: torch.Tensor, reduction: str = "mean") -> float:
            return float(F.mse_loss(v, target, reduction=reduction))

    slips = {
        mse(x - noise): "your target points the wrong way, x - noise: the velocity of "
                        "x_t = (1 - t) x + t noise is its derivative in t, noise - x.",
        mse(noise): "you regress the noise itself, DDPM's target; this model predicts the "
                    "velocity noise - x.",
        mse(x): "you regress the clean image; this model predicts the velocity noise - x.",
        mse(noise - (x + 1) / 2): "your target uses the image in [0, 1]: use the rescaled "
                                  "image (2 * x - 1) in the target too.",
        mse(velocity_target(x, noise), "sum"): "your loss is summed: average the squared "
                                               "error over pixels and images (F.mse_loss).",
    }
    for wrong, message in slips.items():
        _expect(abs(value - wrong) > 1e-5, message)
    expected = mse(velocity_target(x, noise))
    _expect(abs(value - expected) <= 1e-5 + 1e-4 * abs(expected), f"your loss is {value:.4g}, "
            f"expected {expected:.4g}: the mean of (model(x_t, t, labels) - (noise - x))^2.")
    _ok("the loss is the mean squared error against the velocity noise - x")


def _cosine(x: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> tuple:
    """The reference: the point at t on the quarter circle from x to the noise, and its speed."""
    angle = (torch.pi / 2 * t).view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    x_t = torch.cos(angle) * x + torch.sin(angle) * noise
    return x_t, torch.pi / 2 * (torch.cos(angle) * noise - torch.sin(angle) * x)


def check_cosine_path(fn: Callable) -> None:
    """``fn(x, noise, t)``: (x_t, velocity) on x_t = cos(pi t / 2) x + sin(pi t / 2) noise."""
    with _seeded():
        x, noise = torch.rand(4, 1, 4, 4) * 2 - 1, torch.randn(4, 1, 4, 4)  # B = W on purpose
        t = torch.tensor([0.0, 0.3, 0.5, 1.0])
        out = _run(fn, x, noise, t)
        _expect(isinstance(out, tuple) and len(out) == 2, "return a pair: (x_t, velocity).")
        x_t, v = (_tensor(part, fn, x.shape) for part in out)
        want_x, want_v = _cosine(x, noise, t)
        _expect(not torch.allclose(x_t, add_noise(x, noise, t), atol=1e-5), "your x_t is the "
                "straight line of task 1: this path turns along a quarter circle, with weights "
                "that are a cosine and a sine.")
        same = _run(fn, x, noise, torch.full((4,), 0.3))[0]
        _expect(torch.allclose(same, _cosine(x, noise, torch.full((4,), 0.3))[0], atol=1e-5),
                "your x_t is wrong even with one t for every image: its weights are cos(pi t / "
                "2) for x and sin(pi t / 2) for the noise, so t = 0 is the image, t = 1 noise.")
        _expect(torch.allclose(x_t, want_x, atol=1e-5), "with a different t for each image "
                "x_t is wrong: give t the shape that scales whole images, (B, 1, 1, 1).")
        _ok("x_t: the image at t = 0, noise at t = 1, on a quarter circle between")
        _expect_velocity(v, want_v, x, noise, t)
    _passed("the cosine path and its velocity, a second flow-matching target.")


def _expect_velocity(v: torch.Tensor, want: torch.Tensor, x: torch.Tensor,
                     noise: torch.Tensor, t: torch.Tensor) -> None:
    """The velocity is d x_t / d t; each planted slip gets its own message."""
    _expect(not torch.allclose(v, velocity_target(x, noise), atol=1e-5), "your velocity is "
            "noise - x, the speed of the straight line; on a curved path the velocity changes "
            "with t: differentiate this path's x_t in t.")
    _expect(not torch.allclose(v, want * 2 / torch.pi, atol=1e-5), "your velocity is too "
            "small by a factor pi / 2: the chain rule brings out the derivative of the angle "
            "pi t / 2.")
    _expect(not torch.allclose(v, -want, atol=1e-5), "your velocity points the wrong way: "
            "at t = 0 it must head from the image towards the noise.")
    _expect(torch.allclose(v, want, atol=1e-4), "your velocity is not d x_t / d t: check "
            "it against a finite difference, (x_{t+h} - x_{t-h}) / 2h, at a few t.")
    _ok("the velocity is d x_t / d t, chain rule included")
