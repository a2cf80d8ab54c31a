"""A class-conditional denoiser trained by flow matching, with a few-step sampler and guidance.

Why flow matching (a "rectified flow", Liu et al., 2023; Lipman et al., 2023) and not DDPM:
its noising is one straight line between an image x (rescaled to [-1, 1]) and Gaussian noise,

    x_t = (1 - t) * x + t * noise,   t in [0, 1]   (t = 0: the data; t = 1: pure noise),

and the network v(x_t, t, y) learns the velocity along that line, noise - x, by mean squared
error. There is no beta schedule, no alpha-bar table and no variance to choose, and because the
learned paths are nearly straight, a plain Euler sampler from t = 1 to t = 0 gives usable images
in 10-20 steps, which is what a CPU in quick mode can afford. DDPM's noise prediction with a
DDIM sampler is the classic equivalent; the two differ in the path and the target, not in spirit.

Classifier-free guidance (Ho & Salimans, 2022): during training a share of the labels is
replaced by a "null" class, so one network learns both v(x, t, y) and v(x, t, null). At sampling
time v = v_null + w * (v_y - v_null) with guidance scale w: w = 1 is the plain conditional model,
w > 1 pushes samples towards what makes them their class (fidelity) at the cost of variety.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from genaug.device import deterministic, draw
from genaug.models._checks import check_images, check_labels, check_size


@dataclass(frozen=True)
class DiffusionConfig:
    image_size: int = 28  # side of the square images; a multiple of 4 (8 for digits)
    channels: int = 1  # 1 for grey, 3 for colour
    n_classes: int = 0  # > 0 makes it class-conditional, with one extra "null" class
    width: int = 32  # feature maps at half size (2x2 patches); the quarter size has twice as many
    label_dropout: float = 0.1  # share of training labels replaced by the null class (for CFG)
    sample_steps: int = 20  # Euler steps from noise (t = 1) to an image (t = 0)
    guidance: float = 2.0  # CFG scale w: 1 is the plain conditional model, more is more typical


def add_noise(x: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The forward process: the point a share t of the way from x to the noise, t of shape (B,).

    t = 0 gives x itself, t = 1 pure noise; in between, a straight-line mix of the two.
    """
    t = t.view(-1, 1, 1, 1)  # (B,) -> (B, 1, 1, 1), to scale whole images
    return (1 - t) * x + t * noise


def velocity_target(x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """What the network must predict at every t: d x_t / d t = noise - x."""
    return noise - x


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of t in [0, 1] (B,) -> (B, dim), as for positions in a transformer."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
    angles = 1000.0 * t.float().unsqueeze(1) * freqs  # (B, 1) * (half,) -> (B, half)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _norm(channels: int) -> nn.GroupNorm:
    """Group norm with up to 8 groups: batch-size independent, so sampling 1 or 1000 is alike."""
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a residual path; the time-and-class embedding sets a
    per-channel scale and shift between them, which is how t and y steer every layer."""

    def __init__(self, c_in: int, c_out: int, d_emb: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2, self.conv2 = _norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.to_scale_shift = nn.Linear(d_emb, 2 * c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.to_scale_shift(emb)[:, :, None, None].chunk(2, dim=1)  # (B, c, 1, 1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class Denoiser(nn.Module):
    """A tiny U-Net on 2x2 patches: half size -> quarter -> half, with a skip connection.

    Folding each 2x2 patch into channels (pixel unshuffle) first makes every convolution work
    on a quarter of the positions, which is what lets a CPU train it in quick mode.
    """

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        c, w = config.channels, config.width
        self.d_emb = d_emb = 4 * w
        self.time_mlp = nn.Sequential(nn.Linear(w, d_emb), nn.SiLU(), nn.Linear(d_emb, d_emb))
        # one row per class and one more, the null class, for the unconditional prediction
        self.class_emb = nn.Embedding(config.n_classes + 1, d_emb) if config.n_classes else None
        self.stem = nn.Sequential(nn.PixelUnshuffle(2),  # (B, 4c, s/2, s/2)
                                  nn.Conv2d(4 * c, w, 3, padding=1))  # (B, w, s/2, s/2)
        self.block1 = ResBlock(w, w, d_emb)
        self.down = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)  # (B, 2w, s/4, s/4)
        self.middle = nn.ModuleList([ResBlock(2 * w, 2 * w, d_emb) for _ in range(2)])
        self.up = nn.Conv2d(2 * w, w, 3, padding=1)  # after a 2x upsample: (B, w, s/2, s/2)
        self.block2 = ResBlock(2 * w, w, d_emb)  # reads [up, skip]: w + w channels
        self.head = nn.Sequential(_norm(w), nn.SiLU(), nn.Conv2d(w, 4 * c, 3, padding=1),
                                  nn.PixelShuffle(2))  # (B, 4c, s/2, s/2) -> (B, c, s, s)
        nn.init.zeros_(self.head[2].weight)  # start by predicting 0: calm first steps
        nn.init.zeros_(self.head[2].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None
                ) -> torch.Tensor:
        """The predicted velocity (B, C, H, W) for noisy images x at times t (B,)."""
        emb = self.time_mlp(time_embedding(t, self.d_emb // 4))  # (B, d_emb)
        if self.class_emb is not None:
            emb = emb + self.class_emb(labels)
        skip = self.block1(self.stem(x), emb)  # (B, w, s/2, s/2)
        h = self.down(skip)
        for block in self.middle:
            h = block(h, emb)  # (B, 2w, s/4, s/4)
        h = self.up(F.interpolate(h, scale_factor=2.0, mode="nearest"))  # (B, w, s/2, s/2)
        h = self.block2(torch.cat([h, skip], dim=1), emb)  # (B, 2w, s/2, s/2) in
        return self.head(h)


class Diffusion(nn.Module):
    """The denoiser, its flow-matching loss, and a guided Euler sampler; images in [0, 1]."""

    def __init__(self, config: DiffusionConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else DiffusionConfig()
        _check_config(config)
        self.config = config
        self.denoiser = Denoiser(config)

    @property
    def null_class(self) -> int:
        """The label that means "no class": the unconditional half of guidance."""
        return self.config.n_classes

    def _labels(self, labels, n: int) -> torch.Tensor | None:
        device = next(self.parameters()).device
        return check_labels(labels, self.config.n_classes, n, device, "Diffusion model")

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, labels=None) -> torch.Tensor:
        """The velocity (B, C, H, W) the denoiser predicts for noisy images x_t at times t."""
        return self.denoiser(x_t, t, labels)

    def loss(self, x: torch.Tensor, labels=None, noise: torch.Tensor | None = None,
             t: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Flow-matching loss: mean squared error between predicted and true velocity.

        ``noise`` and ``t`` are drawn when not given (pass them to reproduce a loss exactly).
        In training mode a share ``label_dropout`` of the labels becomes the null class.
        """
        check_images(x, self.config.channels, self.config.image_size, "Diffusion model")
        labels = self._labels(labels, x.shape[0])
        if labels is not None and self.training and self.config.label_dropout > 0:
            dropped = torch.rand(labels.shape, device=labels.device) < self.config.label_dropout
            labels = torch.where(dropped, self.null_class, labels)
        x = 2 * x - 1  # [0, 1] -> [-1, 1]: the same scale as the noise
        noise = torch.randn_like(x) if noise is None else noise
        t = torch.rand(x.shape[0], device=x.device) if t is None else t
        if noise.shape != x.shape or t.shape != (x.shape[0],):
            raise ValueError(f"noise must have the images' shape {tuple(x.shape)} and t one "
                             f"time per image ({x.shape[0]},); got {tuple(noise.shape)} and "
                             f"{tuple(t.shape)}.")
        v_pred = self(add_noise(x, noise, t), t, labels)
        loss = F.mse_loss(v_pred.float(), velocity_target(x, noise).float())
        return {"loss": loss}

    def velocity(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None,
                 guidance: float) -> torch.Tensor:
        """v_null + w * (v_y - v_null): one batched pass of both halves when 0 < w != 1."""
        if labels is None or guidance == 1.0:
            return self(x, t, labels)
        null = torch.full_like(labels, self.null_class)
        if guidance == 0.0:  # the unconditional model alone
            return self(x, t, null)
        v_y, v_null = self(torch.cat([x, x]), torch.cat([t, t]),
                          torch.cat([labels, null])).chunk(2)  # (2B, ...) -> 2 x (B, ...)
        return v_null + guidance * (v_y - v_null)

    @torch.no_grad()
    @deterministic()  # the same generator gives the same images, on a GPU too
    def sample(self, n: int, labels=None, generator: torch.Generator | None = None,
               guidance: float | None = None, steps: int | None = None) -> torch.Tensor:
        """n images (N, C, H, W) in [0, 1]: Euler steps from noise at t = 1 to t = 0.

        ``guidance`` and ``steps`` default to the config's; ``labels`` picks the classes.
        """
        cfg = self.config
        guidance = cfg.guidance if guidance is None else guidance
        steps = cfg.sample_steps if steps is None else steps
        _check_sampling(n, guidance, steps)
        labels = self._labels(labels, n)
        device = next(self.parameters()).device
        shape = (n, cfg.channels, cfg.image_size, cfg.image_size)
        x = draw(torch.randn, shape, generator=generator, device=device)  # t = 1: pure noise
        for i in range(steps):  # t from 1 down to 0 in equal steps
            t_now, t_next = 1 - i / steps, 1 - (i + 1) / steps
            v = self.velocity(x, torch.full((n,), t_now, device=device), labels, guidance)
            x = x + (t_next - t_now) * v  # a step of dt < 0, towards the data
        return ((x + 1) / 2).clamp(0, 1)  # [-1, 1] -> [0, 1]


def _check_config(config: DiffusionConfig) -> None:
    """Fail at construction, with the fix named, on settings the model cannot use."""
    check_size(config.image_size, "Diffusion model")
    if config.channels < 1 or config.width < 8 or config.n_classes < 0:
        raise ValueError(f"channels must be >= 1, width >= 8 and n_classes >= 0, got "
                         f"channels={config.channels}, width={config.width}, "
                         f"n_classes={config.n_classes}.")
    if not 0.0 <= config.label_dropout < 1.0:
        raise ValueError(f"label_dropout must be in [0, 1), got {config.label_dropout}; 0.1 "
                         "keeps 90% of the labels and teaches the null class on the rest.")
    _check_sampling(1, config.guidance, config.sample_steps)


def _check_sampling(n: int, guidance: float, steps: int) -> None:
    """The sampler needs a positive count, at least one step, and a finite, non-negative scale."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive whole number of images, got {n!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1 (e.g. 20), got {steps!r}.")
    if not (math.isfinite(guidance) and guidance >= 0):
        raise ValueError(f"guidance must be a finite number >= 0 (1 = no guidance), got "
                         f"{guidance!r}.")
