"""Training loops: plain functions, one per model family, each in the same fixed order.

Every loop counts steps (not epochs) and, step by step: evaluates (or keeps a snapshot) and
saves its state when due, stops after the last step, draws a batch, runs forward and backward,
steps the optimiser and the learning rate, zeroes the gradients, and logs. The bookkeeping
around the step (progress bar, running means, NaN and divergence checks, saving and resuming)
lives in :mod:`genaug.bookkeeping` and the scoring in :mod:`genaug.evaluation`; the names the
notebooks use are importable from here too.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import torch
import torch.nn as nn

from genaug.augment import AugmentConfig
from genaug.bookkeeping import (
    DivergenceWatch,
    LossLog,
    NonFiniteLossError,
    RunState,
    TrainingDivergedError,
    due,
    progress_bar,
)
from genaug.data import DeviceLoader, ImageDataset, batches
from genaug.device import autocast, make_generator
from genaug.evaluation import evaluate, evaluate_vae, predict
from genaug.history import History
from genaug.models.gan import GAN, discriminator_loss, generator_loss
from genaug.models.vae import VAE

__all__ = [
    "NonFiniteLossError", "TrainingDivergedError", "check_dataset", "evaluate",
    "evaluate_vae", "fit_classifier", "fit_gan", "fit_vae", "gan_step", "predict",
    "progress_bar", "warmup_cosine",
]


def warmup_cosine(
    optimizer: torch.optim.Optimizer, steps: int, warmup: float = 0.05
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up for the first ``warmup`` share of steps, then cosine decay to 5%."""
    n_warm = max(1, int(steps * warmup))

    def factor(step: int) -> float:
        if step < n_warm:
            return (step + 1) / n_warm
        progress = (step - n_warm) / max(1, steps - n_warm)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fit_classifier(
    model: nn.Module, data: ImageDataset | Iterator[tuple[torch.Tensor, torch.Tensor]],
    steps: int, *, batch_size: int = 128, lr: float = 3e-3, weight_decay: float = 5e-4,
    augment: AugmentConfig | None = None, seed: int = 0, eval_data: ImageDataset | None = None,
    eval_every: int = 0, log_every: int = 50, checkpoint: str | Path | None = None,
    checkpoint_every: int = 500, desc: str = "classifier",
) -> History:
    """Train a classifier for exactly ``steps`` optimiser steps; return its History.

    ``data`` is a dataset (it is moved to the model's device, shuffled, and augmented when
    ``augment`` is given) or any iterator of ready (images, labels) batches, which is how the
    experiment feeds a stack of models. ``eval_data`` is scored every ``eval_every`` steps.
    """
    device = next(model.parameters()).device
    if isinstance(data, ImageDataset):
        data = batches(data.to(device), batch_size, seed, augment)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = warmup_cosine(optimizer, steps)
    run = RunState(checkpoint, checkpoint_every, model=model, optimizer=optimizer,
                   scheduler=scheduler)
    history, start = run.resume()
    model.train()
    with LossLog(history, steps, start, log_every, desc, loss="classifier loss") as log:
        for step in range(start, steps + 1):
            if eval_data is not None and due(step, eval_every, steps):
                history.log(step, eval_accuracy=evaluate(model, eval_data)["accuracy"])
            run.save(step, final=step == steps)
            if step == steps:
                break
            x, y = next(data)  # (B, C, H, W), (B,); a stack's: (M, B, C, H, W), (M, B)
            with autocast(device):
                _, loss = model(x, y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            log.add(step, loss=loss)
    return history


def check_dataset(data: ImageDataset, model: nn.Module) -> ImageDataset:
    """Fail early, with the fix named, if ``data`` does not fit a generative model's config."""
    config = model.config
    expected = (config.channels, config.image_size, config.image_size)
    if tuple(data.images.shape[1:]) != expected:
        raise ValueError(f"The model was built for images of shape {expected}, the dataset has "
                         f"{tuple(data.images.shape[1:])}; set image_size={data.image_size}.")
    low, high = float(data.images.min()), float(data.images.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"Images must lie in [0, 1] (got {low:.3g}..{high:.3g}); undo any "
                         "normalisation before training a generative model.")
    if config.n_classes and int(data.labels.max()) >= config.n_classes:
        raise ValueError(f"The dataset has labels up to {int(data.labels.max())}, but the model "
                         f"knows {config.n_classes} classes; set n_classes={data.n_classes}.")
    return data.to(next(model.parameters()).device)


def fit_vae(
    vae: VAE, data: ImageDataset, steps: int, *, batch_size: int = 128, lr: float = 2e-3,
    seed: int = 0, eval_data: ImageDataset | None = None, eval_every: int = 0,
    log_every: int = 50, checkpoint: str | Path | None = None, checkpoint_every: int = 1000,
    desc: str = "VAE",
) -> History:
    """Train a (conditional) VAE by minimising the negative ELBO; log its two terms apart."""
    data = check_dataset(data, vae)
    loader = DeviceLoader(data.images, data.labels, batch_size=batch_size, seed=seed).forever()
    optimizer = torch.optim.Adam(vae.parameters(), lr=lr)
    scheduler = warmup_cosine(optimizer, steps)
    run = RunState(checkpoint, checkpoint_every, model=vae, optimizer=optimizer,
                   scheduler=scheduler)
    history, start = run.resume()
    with LossLog(history, steps, start, log_every, desc, loss="VAE loss") as log:
        for step in range(start, steps + 1):
            if eval_data is not None and due(step, eval_every, steps):
                scores = evaluate_vae(vae, eval_data)
                history.log(step, **{f"eval_{name}": value for name, value in scores.items()})
            run.save(step, final=step == steps)
            if step == steps:
                break
            x, y = next(loader)
            with autocast(data.device):
                terms = vae.loss(x, y if vae.config.n_classes else None)
            terms["loss"].backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            log.add(step, **terms)  # loss, recon, kl
    return history


def gan_step(gan: GAN, real: torch.Tensor, labels: torch.Tensor, noise: torch.Generator,
             opt_d: torch.optim.Optimizer, opt_g: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """One alternating update, as in pytorch/examples' DCGAN: (1) D, (2) G, (3) G's EMA.

    Returns both losses and D's mean probability of "real" for the real and the fake batch.
    """
    labels = labels if gan.config.n_classes else None  # an unconditional GAN ignores them
    # (1) update D: real images towards "real", generated ones towards "fake"
    with autocast(real.device):
        fake = gan.generator(gan.noise(real.shape[0], noise), labels)  # (B, C, H, W)
        real_logits = gan.discriminator(real, labels)
        fake_logits = gan.discriminator(fake.detach(), labels)  # no gradient into G here
        loss_d = discriminator_loss(real_logits, fake_logits, gan.config.loss,
                                    gan.config.label_smoothing)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    # (2) update G: make the (just updated) D call the generated images real
    with autocast(real.device):
        loss_g = generator_loss(gan.discriminator(fake, labels), gan.config.loss)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    # (3) move the moving-average generator a little towards G
    gan.update_ema()
    return {"d_loss": loss_d, "g_loss": loss_g,
            "d_real": torch.sigmoid(real_logits.float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.float()).mean()}


def snapshot_noise(gan: GAN, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A fixed noise batch (and labels cycling through the classes) for comparable snapshots."""
    z = gan.noise(n, make_generator(seed))  # (n, latent_dim)
    n_classes = gan.config.n_classes
    return z, (torch.arange(n, device=z.device) % n_classes) if n_classes else None


def fit_gan(
    gan: GAN, data: ImageDataset, steps: int, *, batch_size: int = 128, lr_g: float = 2e-4,
    lr_d: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999), seed: int = 0,
    log_every: int = 50, snapshot_every: int = 0, n_snapshot: int = 64,
    divergence_patience: int = 4, checkpoint: str | Path | None = None,
    checkpoint_every: int = 1000, desc: str = "GAN",
) -> History:
    """Train a GAN with alternating updates (see :func:`gan_step`); return its History.

    Logs both losses and D's mean probability for real and fake images. Every
    ``snapshot_every`` steps it keeps samples of one fixed noise batch in
    ``history.snapshots``, so progress is compared on the same z. If D wins outright for
    ``divergence_patience`` logs in a row, training stops (see :class:`DivergenceWatch`).
    """
    data = check_dataset(data, gan)
    loader = DeviceLoader(data.images, data.labels, batch_size=batch_size, seed=seed).forever()
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=lr_g, betas=betas)
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=lr_d, betas=betas)
    noise = make_generator(seed + 1)  # G's input, a random stream of its own
    fixed_z, fixed_labels = snapshot_noise(gan, n_snapshot, seed + 2)
    run = RunState(checkpoint, checkpoint_every, model=gan, opt_g=opt_g, opt_d=opt_d)
    history, start = run.resume()
    watch = DivergenceWatch(gan.config.label_smoothing, divergence_patience, log_every)
    with LossLog(history, steps, start, log_every, desc,
                 d_loss="discriminator loss", g_loss="generator loss") as log:
        for step in range(start, steps + 1):
            if snapshot_every and (step % snapshot_every == 0 or step == steps):
                history.snapshots[step] = gan.sample(z=fixed_z, labels=fixed_labels).cpu()
            run.save(step, final=step == steps)
            if step == steps:
                break
            real, labels = next(loader)
            means = log.add(step, **gan_step(gan, real, labels, noise, opt_d, opt_g))
            if means is not None:
                watch.check(means["d_loss"], step + 1)
    return history
