"""The experiment's generators: a VAE, GAN or diffusion model with the recipe the experiment's
config records, conditional (trained on labelled images) or not (on unlabelled ones)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
import torch.nn as nn

from genaug.checkpoint import CheckpointMismatchError, load_model, save_model
from genaug.data import ImageDataset
from genaug.experiment.settings import GENERATORS, ExperimentConfig
from genaug.models.diffusion import Diffusion, DiffusionConfig
from genaug.models.gan import GAN, GANConfig
from genaug.models.transfer import conditional_from_unconditional
from genaug.models.vae import VAE, VAEConfig
from genaug.train import TrainingDivergedError, fit_gan, fit_vae
from genaug.train_diffusion import fit_diffusion


def build_generator(kind: str, data: ImageDataset, config: ExperimentConfig,
                    conditional: bool = True) -> nn.Module:
    """An untrained generator sized for ``data``, with the recipe ``config`` records;
    ``conditional=False`` builds its unconditional twin (no label input)."""
    n_classes = data.n_classes if conditional else 0
    if kind == "cvae":
        return VAE(VAEConfig(image_size=data.image_size, channels=data.channels,
                             n_classes=n_classes, latent_dim=config.cvae_latent_dim,
                             width=config.cvae_width))
    if kind == "cgan":
        return GAN(GANConfig(image_size=data.image_size, channels=data.channels,
                             n_classes=n_classes, loss=config.gan_loss,
                             ema_decay=config.gan_ema_decay, width=config.gan_width))
    if kind == "cdiff":
        return Diffusion(DiffusionConfig(image_size=data.image_size, channels=data.channels,
                                         n_classes=n_classes, width=config.diffusion_width,
                                         sample_steps=config.diffusion_sample_steps,
                                         guidance=config.diffusion_guidance))
    raise ValueError(f"Unknown generator {kind!r}; choose one of {GENERATORS}.")


def _fit(kind: str, model: nn.Module, data: ImageDataset, config: ExperimentConfig,
         seed: int) -> None:
    if kind == "cvae":
        fit_vae(model, data, config.generator_steps, batch_size=config.generator_batch_size,
                lr=config.cvae_lr, seed=seed, desc="cVAE")
    elif kind == "cgan":
        fit_gan(model, data, config.generator_steps, batch_size=config.generator_batch_size,
                lr_d=config.gan_lr_d, lr_g=config.gan_lr_g, seed=seed, desc="cGAN")
    else:
        fit_diffusion(model, data, config.generator_steps,
                      batch_size=config.generator_batch_size, lr=config.diffusion_lr, seed=seed,
                      desc="diffusion")


def train_generator(kind: str, data: ImageDataset, config: ExperimentConfig, seed: int,
                    path: Path | None = None, *, conditional: bool = True,
                    start_from: nn.Module | None = None) -> tuple[nn.Module, bool]:
    """A generator trained on ``data``; reuses ``path`` if it holds one already.

    ``start_from``, an unconditional twin, gives the starting weights (fine-tuning, see
    ``genaug.models.transfer``). Returns the model and whether training stopped early because
    the GAN diverged (the model is then used as it was: the experiment reports it rather than
    hiding it).
    """
    torch.manual_seed(seed)
    model = build_generator(kind, data, config, conditional).to(data.device)
    if start_from is not None:
        conditional_from_unconditional(model, start_from)
    if path is not None and path.is_file():
        with contextlib.suppress(CheckpointMismatchError):
            return model, bool(load_model(model, path)["diverged"])
    diverged = False
    try:
        _fit(kind, model, data, config, seed)
    except TrainingDivergedError as error:
        print(f"Note: the cGAN of seed {seed} diverged; its samples are used anyway. ({error})")
        diverged = True
    if path is not None:
        save_model(model, path, diverged=diverged)
    return model, diverged
