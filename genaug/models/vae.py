"""The variational autoencoder, unconditional or conditional (``n_classes > 0``), convolutional.

The encoder maps an image to the mean and log-variance of a Gaussian over the latent code z;
the decoder maps z back to pixel logits. Training maximises the ELBO (Kingma & Welling, 2014):
a Bernoulli reconstruction term minus the KL divergence from the standard normal prior.
A conditional VAE (Sohn et al., 2015) also shows both halves the label, so that the latent
code only has to hold the *style*, and sampling can ask for a class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from genaug.device import deterministic, draw
from genaug.models._checks import check_images, check_labels, check_size


@dataclass(frozen=True)
class VAEConfig:
    """Every knob of a VAE in one frozen place: change one with dataclasses.replace."""

    image_size: int = 28  # side of the square images; a multiple of 4 (8 for digits)
    channels: int = 1
    latent_dim: int = 16  # size of z
    n_classes: int = 0  # > 0 makes it a conditional VAE
    width: int = 32  # feature maps of the first convolution; the second has twice as many
    hidden: int = 256  # units of the fully connected layer on either side of z
    beta: float = 1.0  # weight of the KL term; 1 is the true ELBO, more trades detail for order


class VAE(nn.Module):
    """Convolutional encoder to q(z | x), decoder from z to pixel logits; labels optional."""

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else VAEConfig()
        check_size(config.image_size, "VAE")
        self.config = config
        side = config.image_size // 4  # two stride-2 stages: S -> S/2 -> S/4
        self.feature_shape = (2 * config.width, side, side)
        n_features = 2 * config.width * side ** 2
        self.encoder = nn.Sequential(
            # (B, C, S, S) -> (B, W, S/2, S/2) -> (B, 2W, S/4, S/4) -> (B, 2W * S/4 * S/4)
            nn.Conv2d(config.channels, config.width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(config.width, 2 * config.width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
        )
        self.to_stats = nn.Sequential(  # features (+ label) -> [mean, log-variance]
            nn.Linear(n_features + config.n_classes, config.hidden), nn.ReLU(),
            nn.Linear(config.hidden, 2 * config.latent_dim),
        )
        self.from_latent = nn.Sequential(  # z (+ label) -> features
            nn.Linear(config.latent_dim + config.n_classes, config.hidden), nn.ReLU(),
            nn.Linear(config.hidden, n_features), nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            # (B, 2W, S/4, S/4) -> (B, W, S/2, S/2) -> (B, C, S, S) pixel logits
            nn.ConvTranspose2d(2 * config.width, config.width, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(config.width, config.channels, 4, stride=2, padding=1),
        )

    def _with_label(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Append the one-hot label to a feature vector (conditional models only)."""
        if labels is None:
            return h
        return torch.cat([h, F.one_hot(labels, self.config.n_classes).to(h.dtype)], dim=1)

    def _labels(self, labels, n: int) -> torch.Tensor | None:
        """Checked labels for a batch of n (None for an unconditional VAE)."""
        device = next(self.parameters()).device
        return check_labels(labels, self.config.n_classes, n, device, "VAE")

    def encode(self, x: torch.Tensor, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior q(z | x): its mean and log-variance, each (B, latent_dim)."""
        check_images(x, self.config.channels, self.config.image_size, "VAE")
        labels = self._labels(labels, x.shape[0])
        stats = self.to_stats(self._with_label(self.encoder(x), labels))
        mu, logvar = stats.chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): the randomness sits outside the network,
        so gradients flow to mu and sigma through an ordinary product and sum."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        """Pixel logits (B, C, H, W) for latent codes z (B, latent_dim)."""
        labels = self._labels(labels, z.shape[0])
        h = self.from_latent(self._with_label(z, labels))
        return self.decoder(h.view(-1, *self.feature_shape))  # (B, 2W, S/4, S/4) -> image

    def forward(self, x: torch.Tensor, labels=None):
        """Reconstruction logits, mean and log-variance for a batch."""
        mu, logvar = self.encode(x, labels)
        return self.decode(self.reparameterize(mu, logvar), labels), mu, logvar

    def loss(self, x: torch.Tensor, labels=None) -> dict[str, torch.Tensor]:
        """The negative ELBO and its two terms, in nats per image (averaged over the batch)."""
        logits, mu, logvar = self(x, labels)
        n = x.shape[0]
        recon = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="sum") / n
        kl = gaussian_kl(mu.float(), logvar.float()).mean()
        return {"loss": recon + self.config.beta * kl, "recon": recon, "kl": kl}

    @torch.no_grad()
    @deterministic()  # the same generator gives the same images, on a GPU too
    def sample(self, n: int, labels=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images in [0, 1], decoded from z ~ N(0, I); ``labels`` picks their classes."""
        device = next(self.parameters()).device
        z = draw(torch.randn, n, self.config.latent_dim, generator=generator, device=device)
        return torch.sigmoid(self.decode(z, labels))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        """Images decoded from the posterior mean: what the VAE 'sees' in x."""
        mu, _ = self.encode(x, labels)
        return torch.sigmoid(self.decode(mu, labels))


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, sigma^2) || N(0, 1) ) summed over latent dimensions, one value per row.

    Closed form from Kingma & Welling (2014), Appendix B: -1/2 sum(1 + log s^2 - mu^2 - s^2).
    """
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


@torch.no_grad()
def interpolate(
    vae: VAE, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 10, labels: int | None = None
) -> torch.Tensor:
    """Images (steps, C, H, W) in [0, 1] decoded along the straight line between the posterior
    means of two images x_a and x_b, each (C, H, W) or (1, C, H, W).

    A smooth strip means a smooth latent space. A conditional VAE needs ``labels``: one class,
    used to encode both ends and to decode the strip, so that only the style changes along it.
    """
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the two ends), got {steps}.")
    device = next(vae.parameters()).device
    ends = torch.cat([x.reshape(-1, *x.shape[-3:]) for x in (x_a, x_b)])  # (2, C, H, W)
    if ends.shape[0] != 2:
        raise ValueError(f"x_a and x_b must be one image each, (C, H, W) or (1, C, H, W); got "
                         f"{tuple(x_a.shape)} and {tuple(x_b.shape)}. Index one image: x[i].")
    ends = ends.to(device)
    mu, _ = vae.encode(ends, labels)  # one class label is expanded to the batch
    t = torch.linspace(0, 1, steps, device=device).unsqueeze(1)  # (steps, 1)
    z = (1 - t) * mu[0] + t * mu[1]  # (steps, latent_dim)
    strip = vae.decode(z, labels)
    return torch.sigmoid(strip)
