"""Generative adversarial networks: a fully connected GAN, DCGAN, and their conditional forms.

A generator G turns noise z into images; a discriminator D scores images as real or fake.
D is trained to tell them apart, G to fool D (Goodfellow et al., 2014). ``arch="mlp"`` is the
first GAN of notebook 04; ``arch="dcgan"`` uses transposed convolutions with batch norm in G
and strided convolutions with leaky ReLU in D (Radford et al., 2016). With ``n_classes > 0``
G is also given the label, and D scores (image, label) pairs with a projection term
(Miyato & Koyama, 2018). Images are in [0, 1] at both ends; D rescales them to [-1, 1].
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from genaug.device import deterministic, draw
from genaug.models._checks import check_images, check_labels, check_size
from genaug.models.modes import evaluating

ARCHS = ("mlp", "dcgan")
LOSSES = ("bce", "hinge")
Wrap = Callable[[nn.Module], nn.Module]  # spectral norm, or nothing


@dataclass(frozen=True)
class GANConfig:
    """Every knob of a GAN in one frozen place: change one with dataclasses.replace."""

    arch: str = "dcgan"  # "mlp" or "dcgan"
    image_size: int = 28  # a multiple of 4 (8 for digits)
    channels: int = 1
    latent_dim: int = 64  # size of the noise vector z
    n_classes: int = 0  # > 0 makes it a conditional GAN
    width: int = 64  # feature maps of G's last / D's first convolution (mlp: hidden = 4 * width)
    spectral_norm: bool = False  # bound D's Lipschitz constant: steadier, slower-to-win D
    loss: str = "bce"  # "bce": non-saturating GAN loss; "hinge": the hinge loss of SN-GAN
    label_smoothing: float = 0.0  # train D towards 1 - smoothing on real images (bce only)
    ema_decay: float = 0.0  # > 0 keeps an exponential moving average of G for sampling


def mlp_generator(config: GANConfig) -> nn.Sequential:
    """The first GAN's G: two hidden layers, then one logit per pixel."""
    d_in = config.latent_dim + config.n_classes  # a conditional G reads the one-hot label beside z
    return nn.Sequential(
        nn.Linear(d_in, 4 * config.width), nn.LeakyReLU(0.2),
        nn.Linear(4 * config.width, 8 * config.width), nn.LeakyReLU(0.2),
        nn.Linear(8 * config.width, config.channels * config.image_size ** 2),
        nn.Unflatten(1, (config.channels, config.image_size, config.image_size)),  # (B, C, S, S)
    )


def dcgan_generator(config: GANConfig) -> nn.Sequential:
    """DCGAN's G: a linear layer to an S/4 x S/4 map, then two transposed convolutions up to S."""
    d_in = config.latent_dim + config.n_classes
    side = config.image_size // 4  # the smallest feature map's side
    return nn.Sequential(
        nn.Linear(d_in, 2 * config.width * side ** 2, bias=False),
        nn.Unflatten(1, (2 * config.width, side, side)),  # (B, 2W, S/4, S/4)
        nn.BatchNorm2d(2 * config.width), nn.ReLU(),
        # (B, 2W, S/4, S/4) -> (B, W, S/2, S/2)
        nn.ConvTranspose2d(2 * config.width, config.width, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(config.width), nn.ReLU(),
        nn.ConvTranspose2d(config.width, config.channels, 4, stride=2, padding=1),  # (B, C, S, S)
    )


class Generator(nn.Module):
    """Noise (and label) to images in [0, 1]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.net = mlp_generator(config) if config.arch == "mlp" else dcgan_generator(config)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, C, S, S) in [0, 1] for noise z (B, latent_dim), one label each if given."""
        if labels is not None:
            z = torch.cat([z, F.one_hot(labels, self.config.n_classes).to(z.dtype)], dim=1)
        return torch.sigmoid(self.net(z))  # (B, C, S, S)


def mlp_features(config: GANConfig, sn: Wrap) -> tuple[nn.Sequential, int]:
    """The first GAN's D body: flattened pixels through two hidden layers; and its width."""
    n_pixels = config.channels * config.image_size ** 2
    return nn.Sequential(
        nn.Flatten(),  # (B, C, S, S) -> (B, C*S*S)
        sn(nn.Linear(n_pixels, 4 * config.width)), nn.LeakyReLU(0.2),
        sn(nn.Linear(4 * config.width, 2 * config.width)), nn.LeakyReLU(0.2),
    ), 2 * config.width


def dcgan_features(config: GANConfig, sn: Wrap) -> tuple[nn.Sequential, int]:
    """DCGAN's D body: two strided convolutions down to S/4, flattened; and its width."""
    side = config.image_size // 4
    return nn.Sequential(
        # (B, C, S, S) -> (B, W, S/2, S/2)
        sn(nn.Conv2d(config.channels, config.width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
        # (B, W, S/2, S/2) -> (B, 2W, S/4, S/4)
        sn(nn.Conv2d(config.width, 2 * config.width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
        nn.Flatten(),  # (B, 2W * S/4 * S/4)
    ), 2 * config.width * side ** 2


class Discriminator(nn.Module):
    """Images (and labels) to one real-vs-fake logit each."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        sn = _spectral_norm if config.spectral_norm else (lambda layer: layer)
        body = mlp_features if config.arch == "mlp" else dcgan_features
        self.features, n_features = body(config, sn)
        self.out = sn(nn.Linear(n_features, 1))
        # Projection: the label's embedding, dotted with the features, adds "is this x a
        # plausible member of class y?" to D's score.
        self.embed = sn(nn.Embedding(config.n_classes, n_features)) if config.n_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per image (B,): high means "real" (for this label, if one is given)."""
        check_images(x, self.config.channels, self.config.image_size, "GAN")
        h = self.features(x * 2 - 1)  # [0, 1] -> [-1, 1]; h: (B, F)
        logits = self.out(h).squeeze(1)  # (B,)
        if self.embed is not None and labels is not None:
            logits = logits + (self.embed(labels) * h).sum(dim=1)
        return logits


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "bce", smoothing: float = 0.0
) -> torch.Tensor:
    """D's loss: call real images real and generated ones fake."""
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    real_target = torch.full_like(real_logits, 1.0 - smoothing)
    return (F.binary_cross_entropy_with_logits(real_logits, real_target)
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """G's loss: have D call its images real (the non-saturating form: -log D(G(z)))."""
    fake_logits = fake_logits.float()
    if kind == "hinge":
        return -fake_logits.mean()
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


class GAN(nn.Module):
    """A generator, a discriminator, and optionally the generator's moving average (EMA)."""

    def __init__(self, config: GANConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else GANConfig()
        if config.arch not in ARCHS or config.loss not in LOSSES:
            raise ValueError(f"arch must be one of {ARCHS} and loss one of {LOSSES}, got "
                             f"arch={config.arch!r}, loss={config.loss!r}.")
        smoothing = config.label_smoothing
        if not 0.0 <= smoothing < 0.5 or (smoothing > 0 and config.loss == "hinge"):
            raise ValueError(f"label_smoothing must be in [0, 0.5) and is for loss='bce' only, "
                             f"got {smoothing} with loss={config.loss!r}; set it to 0 or use "
                             "loss='bce'.")
        if not 0.0 <= config.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {config.ema_decay}.")
        check_size(config.image_size, "GAN")
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)
        self.generator_ema = None
        if config.ema_decay > 0:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    def noise(self, n: int, generator: torch.Generator | None = None,
              truncation: float | None = None) -> torch.Tensor:
        """z ~ N(0, I), shape (n, latent_dim); with ``truncation`` t, every |z_i| <= t.

        Truncation redraws the rare large values: samples get more typical (fidelity) and
        less varied (diversity).
        """
        if truncation is not None and truncation <= 0:
            raise ValueError(f"truncation must be positive, got {truncation}.")
        device = next(self.parameters()).device
        z = draw(torch.randn, n, self.config.latent_dim, generator=generator, device=device)
        while truncation is not None and (outside := z.abs() > truncation).any():
            z[outside] = draw(torch.randn, int(outside.sum()), generator=generator, device=device)
        return z

    def labels(self, labels, n: int) -> torch.Tensor | None:
        """Checked labels for a batch of n (None for an unconditional GAN)."""
        device = next(self.parameters()).device
        return check_labels(labels, self.config.n_classes, n, device, "GAN")

    @torch.no_grad()
    def update_ema(self) -> None:
        """ema <- decay * ema + (1 - decay) * G for weights; batch-norm statistics copied."""
        if self.generator_ema is None:
            return
        ema, live = self.generator_ema, self.generator
        for ema_weight, weight in zip(ema.parameters(), live.parameters(), strict=True):
            ema_weight.lerp_(weight, 1.0 - self.config.ema_decay)
        for ema_buffer, buffer in zip(ema.buffers(), live.buffers(), strict=True):
            ema_buffer.copy_(buffer)

    @torch.no_grad()
    @deterministic()  # the same generator gives the same images, on a GPU too
    def sample(self, n: int | None = None, labels=None, generator: torch.Generator | None = None,
               truncation: float | None = None, z: torch.Tensor | None = None) -> torch.Tensor:
        """n images in [0, 1] from the EMA generator if there is one, else from G.

        Given a noise batch ``z`` (N, latent_dim) instead of ``n``, one image per row of it:
        how training keeps showing the same z, so its snapshots compare across steps.
        """
        if z is None:
            if n is None:
                raise ValueError("sample needs n (how many images) or z (their noise batch).")
            z = self.noise(n, generator, truncation)
        labels = self.labels(labels, z.shape[0])
        g = self.generator_ema if self.generator_ema is not None else self.generator
        with evaluating(g):  # batch norm uses its running statistics: a sample ignores the batch
            return g(z, labels)
