"""Training loops: plain functions, one per model family, each in the same fixed order.

Every loop counts steps (not epochs), shows a progress bar, logs to a :class:`History`, stops
with a clear message when a loss stops being finite, and can save and resume its full state.
The steps of a loop are always: learning rate, checkpoint, forward and backward, optimiser
step, zero the gradients, log.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from genaug.augment import AugmentConfig, augment as augment_batch
from genaug.checkpoint import load_checkpoint, model_state, restore_model, save_checkpoint
from genaug.data import DeviceLoader, ImageDataset
from genaug.device import autocast, make_generator
from genaug.history import History
from genaug.models.gan import GAN, discriminator_loss, generator_loss
from genaug.models.vae import VAE

PROGRESS_ENV = "GENAUG_PROGRESS"  # "0" hides progress bars (stored notebook outputs stay clean)


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite: training stopped instead of silently producing garbage."""


class TrainingDivergedError(RuntimeError):
    """A GAN's discriminator won outright: G gets no useful gradient, so training stopped."""


def progress_bar(total: int, desc: str, initial: int = 0) -> tqdm:
    """A tqdm bar (a widget in Jupyter, text in a terminal) unless GENAUG_PROGRESS=0."""
    hidden = os.environ.get(PROGRESS_ENV, "1").strip() == "0"
    return tqdm(total=total, initial=initial, desc=desc, disable=hidden, dynamic_ncols=True)


def check_finite(value: float, name: str, step: int) -> float:
    """Raise :class:`NonFiniteLossError` with advice if ``value`` is NaN or infinite."""
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"The {name} became {value} by step {step}, so training stopped. Usual causes: a "
            "learning rate too high (try 3x lower), inputs outside [0, 1] or holding NaN, or a "
            "log of zero in a hand-written loss."
        )
    return value


def warmup_cosine(optimizer: torch.optim.Optimizer, steps: int, warmup: float = 0.05):
    """Linear warm-up for the first ``warmup`` share of steps, then cosine decay to 5%."""
    n_warm = max(1, int(steps * warmup))

    def factor(step: int) -> float:
        if step < n_warm:
            return (step + 1) / n_warm
        progress = (step - n_warm) / max(1, steps - n_warm)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class RunState:
    """A run's full state (models, optimisers, step, history) saved now and then, and resumed.

    With ``path=None`` it does nothing. On Colab, pointing it at Google Drive turns a lost
    session into a few lost minutes: the next call of the same ``fit_*`` carries on from the
    last save (the batches it then draws differ, so numbers match an unbroken run only roughly).
    """

    def __init__(self, path: str | Path | None, every: int, **parts) -> None:
        self.path = Path(path) if path is not None else None
        self.every, self.parts = every, parts

    def resume(self, history: History) -> int:
        """Load the saved state if there is one; return the step to start from."""
        if self.path is None or not self.path.is_file():
            return 0
        device = next(self.parts["model"].parameters()).device
        state = load_checkpoint(self.path, map_location=device)
        for name, part in self.parts.items():
            if isinstance(part, nn.Module):
                restore_model(part, state[name])
            else:
                part.load_state_dict(state[name])
        restored = History.from_dict(state["history"])
        history.steps, history.values = restored.steps, restored.values
        history.snapshots = restored.snapshots
        print(f"Resumed from {self.path} at step {state['step']}.")
        return int(state["step"])

    def save(self, step: int, history: History, force: bool = False) -> None:
        """Save every ``every`` steps (and when ``force`` is set, at the end of training)."""
        if self.path is None or not (force or (step > 0 and step % self.every == 0)):
            return
        state = {name: model_state(part) if isinstance(part, nn.Module) else part.state_dict()
                 for name, part in self.parts.items()}
        save_checkpoint(self.path, {**state, "step": step, "history": history.to_dict()})


def batches(
    data: ImageDataset, batch_size: int, seed: int, augment: AugmentConfig | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless shuffled (images, labels) batches, classically augmented if ``augment`` is set."""
    loader = DeviceLoader(data.images, data.labels, batch_size=batch_size, seed=seed)
    generator = make_generator(seed + 1)
    for x, y in loader.forever():
        yield (augment_batch(x, generator, augment) if augment is not None else x), y


def fit_classifier(
    model: nn.Module,
    data: ImageDataset | Iterator[tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    *,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 5e-4,
    augment: AugmentConfig | None = None,
    seed: int = 0,
    eval_data: ImageDataset | None = None,
    eval_every: int = 0,
    log_every: int = 50,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
    desc: str = "classifier",
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
    history = History()
    run = RunState(checkpoint, checkpoint_every, model=model, optimizer=optimizer,
                   scheduler=scheduler)
    start = run.resume(history)
    running, count = torch.zeros((), device=device), 0
    model.train()
    with progress_bar(steps, desc, initial=start) as bar:
        for step in range(start, steps):
            if eval_data is not None and eval_every and step > 0 and step % eval_every == 0:
                history.log(step, eval_accuracy=evaluate(model, eval_data)["accuracy"])
            run.save(step, history)
            x, y = next(data)
            with autocast(device):
                _, loss = model(x, y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running, count = running + loss.detach(), count + 1
            if (step + 1) % log_every == 0 or step + 1 == steps:
                value = check_finite(running.item() / count, "classifier loss", step + 1)
                history.log(step + 1, loss=value)
                bar.set_postfix(loss=f"{value:.3f}")
                running, count = torch.zeros((), device=device), 0
            bar.update()
    if eval_data is not None:
        history.log(steps, eval_accuracy=evaluate(model, eval_data)["accuracy"])
    run.save(steps, history, force=True)
    return history


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits for ``images`` in eval mode: (N, K), or (M, N, K) for a stack of M models."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n_models = getattr(model.config, "n_models", 1)
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start: start + batch_size].to(device)
        if n_models > 1:
            x = x.unsqueeze(0).expand(n_models, *x.shape)  # every model sees the same images
        with autocast(device):
            logits, _ = model(x)
        out.append(logits.float())
    model.train(was_training)
    return torch.cat(out, dim=-2)


def evaluate(model: nn.Module, data: ImageDataset) -> dict:
    """Accuracy, recall of every class and balanced accuracy (the mean of those recalls).

    For one model the values are floats (and a list for the recalls); for a stack, each
    value has one entry per model.
    """
    logits = predict(model, data.images)
    logits = logits if logits.ndim == 3 else logits.unsqueeze(0)  # (M, N, K)
    labels = data.labels.to(logits.device)
    correct = (logits.argmax(-1) == labels).float()  # (M, N)
    counts = torch.bincount(labels, minlength=data.n_classes).clamp(min=1)
    recall = torch.stack([torch.bincount(labels, weights=c, minlength=data.n_classes) for c in correct])
    recall = recall / counts  # (M, K)
    result = {
        "accuracy": correct.mean(1),
        "recall": recall,
        "balanced_accuracy": recall.mean(1),
    }
    single = logits.shape[0] == 1 and getattr(model.config, "n_models", 1) == 1
    return {k: (v[0] if single else v).tolist() for k, v in result.items()}


def check_dataset(data: ImageDataset, model: nn.Module) -> ImageDataset:
    """Fail early, with the fix named, if ``data`` does not fit a generative model's config."""
    cfg = model.config
    expected = (cfg.channels, cfg.image_size, cfg.image_size)
    if tuple(data.images.shape[1:]) != expected:
        raise ValueError(f"The model was built for images of shape {expected}, the dataset has "
                         f"{tuple(data.images.shape[1:])}; set image_size={data.image_size}.")
    low, high = float(data.images.min()), float(data.images.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"Images must lie in [0, 1] (got {low:.3g}..{high:.3g}); undo any "
                         "normalisation before training a generative model.")
    if cfg.n_classes and int(data.labels.max()) >= cfg.n_classes:
        raise ValueError(f"The dataset has labels up to {int(data.labels.max())}, but the model "
                         f"knows {cfg.n_classes} classes; set n_classes={data.n_classes}.")
    return data.to(next(model.parameters()).device)


def fit_vae(
    vae: VAE,
    data: ImageDataset,
    steps: int,
    *,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    eval_data: ImageDataset | None = None,
    eval_every: int = 0,
    log_every: int = 50,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1000,
    desc: str = "VAE",
) -> History:
    """Train a (conditional) VAE by minimising the negative ELBO; log its two terms apart."""
    data = check_dataset(data, vae)
    device = data.device
    conditional = vae.config.n_classes > 0
    loader = DeviceLoader(data.images, data.labels, batch_size=batch_size, seed=seed).forever()
    optimizer = torch.optim.Adam(vae.parameters(), lr=lr)
    scheduler = warmup_cosine(optimizer, steps)
    history = History()
    run = RunState(checkpoint, checkpoint_every, model=vae, optimizer=optimizer, scheduler=scheduler)
    start = run.resume(history)
    running, count = torch.zeros(3, device=device), 0
    with progress_bar(steps, desc, initial=start) as bar:
        for step in range(start, steps):
            if eval_data is not None and eval_every and step > 0 and step % eval_every == 0:
                history.log(step, **{f"eval_{k}": v for k, v in evaluate_vae(vae, eval_data).items()})
            run.save(step, history)
            x, y = next(loader)
            with autocast(device):
                terms = vae.loss(x, y if conditional else None)
            terms["loss"].backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += torch.stack([terms["loss"], terms["recon"], terms["kl"]]).detach()
            count += 1
            if (step + 1) % log_every == 0 or step + 1 == steps:
                loss, recon, kl = (running / count).tolist()
                check_finite(loss, "VAE loss", step + 1)
                history.log(step + 1, loss=loss, recon=recon, kl=kl)
                bar.set_postfix(loss=f"{loss:.1f}", kl=f"{kl:.1f}")
                running, count = torch.zeros(3, device=device), 0
            bar.update()
    if eval_data is not None:
        history.log(steps, **{f"eval_{k}": v for k, v in evaluate_vae(vae, eval_data).items()})
    run.save(steps, history, force=True)
    return history


@torch.no_grad()
def evaluate_vae(vae: VAE, data: ImageDataset, batch_size: int = 1000) -> dict[str, float]:
    """Mean negative ELBO (with beta=1, the true bound), reconstruction and KL per image."""
    device = next(vae.parameters()).device
    conditional = vae.config.n_classes > 0
    totals = torch.zeros(2, device=device)
    for start in range(0, len(data), batch_size):
        x = data.images[start: start + batch_size].to(device)
        y = data.labels[start: start + batch_size].to(device) if conditional else None
        terms = vae.loss(x, y)
        totals += torch.stack([terms["recon"], terms["kl"]]) * x.shape[0]
    recon, kl = (totals / len(data)).tolist()
    return {"loss": recon + kl, "recon": recon, "kl": kl}


def fit_gan(
    gan: GAN,
    data: ImageDataset,
    steps: int,
    *,
    batch_size: int = 128,
    lr_g: float = 2e-4,
    lr_d: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int = 0,
    log_every: int = 50,
    snapshot_every: int = 0,
    n_snapshot: int = 64,
    divergence_patience: int = 4,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1000,
    desc: str = "GAN",
) -> History:
    """Train a GAN with alternating updates: (1) D on a real and a fake batch, (2) G, (3) EMA.

    Logs both losses and D's mean probability for real and fake images. Every
    ``snapshot_every`` steps it keeps samples from one fixed noise batch in
    ``history.snapshots``, so progress is compared on the same z. If D's loss stays within 0.01
    of its minimum (0, or more with label smoothing) for ``divergence_patience`` logging
    intervals in a row, D has won and G learns nothing: training stops with
    :class:`TrainingDivergedError` and advice.
    """
    data = check_dataset(data, gan)
    device, cfg = data.device, gan.config
    loader = DeviceLoader(data.images, data.labels, batch_size=batch_size, seed=seed).forever()
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=lr_g, betas=betas)
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=lr_d, betas=betas)
    noise = make_generator(seed + 1)
    fixed_z = gan.noise(n_snapshot, make_generator(seed + 2))
    fixed_labels = (torch.arange(n_snapshot, device=device) % cfg.n_classes) if cfg.n_classes else None
    history = History()
    run = RunState(checkpoint, checkpoint_every, model=gan, opt_g=opt_g, opt_d=opt_d)
    start = run.resume(history)
    running, count, d_wins = torch.zeros(4, device=device), 0, 0
    floor = _smallest_d_loss(cfg.label_smoothing)
    with progress_bar(steps, desc, initial=start) as bar:
        for step in range(start, steps):
            if snapshot_every and step % snapshot_every == 0:
                history.snapshots[step] = _snapshot(gan, fixed_z, fixed_labels)
            run.save(step, history)
            real, y = next(loader)
            y = y if cfg.n_classes else None
            with autocast(device):
                fake = gan.generator(gan.noise(real.shape[0], noise), y)
                # (1) update D: real images towards "real", generated ones towards "fake"
                real_logits = gan.discriminator(real, y)
                fake_logits = gan.discriminator(fake.detach(), y)  # no gradient into G here
                loss_d = discriminator_loss(real_logits, fake_logits, cfg.loss, cfg.label_smoothing)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with autocast(device):
                # (2) update G: make the (just updated) D call the generated images real
                loss_g = generator_loss(gan.discriminator(fake, y), cfg.loss)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            # (3) move the moving-average generator a little towards G
            gan.update_ema()
            scores = torch.stack([loss_d, loss_g, torch.sigmoid(real_logits.float()).mean(),
                                  torch.sigmoid(fake_logits.float()).mean()])
            running, count = running + scores.detach(), count + 1
            if (step + 1) % log_every == 0 or step + 1 == steps:
                d, g, d_real, d_fake = (running / count).tolist()
                check_finite(d, "discriminator loss", step + 1)
                check_finite(g, "generator loss", step + 1)
                history.log(step + 1, d_loss=d, g_loss=g, d_real=d_real, d_fake=d_fake)
                bar.set_postfix(d=f"{d:.3f}", g=f"{g:.3f}")
                d_wins = d_wins + 1 if d - floor < 0.01 else 0
                if d_wins >= divergence_patience:
                    raise TrainingDivergedError(
                        f"The discriminator's loss stayed within 0.01 of its minimum ({floor:.3g}) "
                        f"for {d_wins * log_every} steps (until step {step + 1}): D rejects "
                        "every generated image, so G gets no useful gradient. Try "
                        "spectral_norm=True, label_smoothing=0.1, the hinge loss, or a lower lr_d."
                    )
                running, count = torch.zeros(4, device=device), 0
            bar.update()
    if snapshot_every:
        history.snapshots[steps] = _snapshot(gan, fixed_z, fixed_labels)
    run.save(steps, history, force=True)
    return history


def _smallest_d_loss(smoothing: float) -> float:
    """D's least possible loss: 0, or with label smoothing s the entropy of the soft target."""
    if smoothing <= 0:
        return 0.0
    return -(smoothing * math.log(smoothing) + (1 - smoothing) * math.log(1 - smoothing))


@torch.no_grad()
def _snapshot(gan: GAN, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Images for the fixed noise batch, from the generator used for sampling, on the CPU."""
    g = gan.generator_ema if gan.generator_ema is not None else gan.generator
    was_training = g.training
    g.eval()
    images = g(z, labels).float().cpu()
    g.train(was_training)
    return images
