"""The diffusion model's training loop, in the fixed order of :mod:`genaug.train`'s loops.

Step by step: save the state when due, stop after the last step, draw a batch, run forward and
backward (the model's own flow-matching loss), clip the gradient, step the optimiser and the
learning rate, zero the gradients, log. The bookkeeping (progress bar, running means, NaN check,
resume) is :mod:`genaug.bookkeeping`'s, shared with the other loops.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genaug.bookkeeping import LossLog, RunState
from genaug.data import DeviceLoader, ImageDataset
from genaug.device import autocast
from genaug.history import History
from genaug.models.diffusion import Diffusion
from genaug.train import check_dataset, warmup_cosine

MAX_GRAD_NORM = 1.0  # a rare batch of nearly clean images (t ~ 0) cannot throw the weights far


def fit_diffusion(
    model: Diffusion, data: ImageDataset, steps: int, *, batch_size: int = 128,
    lr: float = 2e-3, seed: int = 0, log_every: int = 50, checkpoint: str | Path | None = None,
    checkpoint_every: int = 1000, desc: str = "diffusion",
) -> History:
    """Train a (class-conditional) diffusion model for ``steps`` steps; return its History.

    Each step draws a time t and noise per image, noises the batch, and regresses the velocity
    (see :meth:`Diffusion.loss`); a conditional model learns the null class on a share of the
    labels. ``checkpoint`` saves the full state every ``checkpoint_every`` steps, and a second
    call with the same path resumes from it.
    """
    data = check_dataset(data, model)
    loader = DeviceLoader(data.images, data.labels, batch_size=batch_size, seed=seed).forever()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    scheduler = warmup_cosine(optimizer, steps)
    run = RunState(checkpoint, checkpoint_every, model=model, optimizer=optimizer,
                   scheduler=scheduler)
    history, start = run.resume()
    model.train()
    with LossLog(history, steps, start, log_every, desc, loss="diffusion loss") as log:
        for step in range(start, steps + 1):
            run.save(step, final=step == steps)
            if step == steps:
                break
            x, y = next(loader)  # (B, C, H, W), (B,)
            with autocast(data.device):
                terms = model.loss(x, y if model.config.n_classes else None)
            terms["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            log.add(step, **terms)  # loss
    return history
