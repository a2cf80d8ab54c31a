"""Start a conditional model from an unconditional one trained on unlabelled images.

A conditional VAE or GAN differs from its unconditional twin only where the label enters: a
layer that reads the one-hot label beside its usual input has a few more input columns, and
the projection discriminator has a label embedding. Copying every shared weight and setting the
label's extra weights to zero gives a conditional model that, before fine-tuning, computes
exactly what the unconditional one does; fine-tuning on the labelled budget then only has to
learn what the label changes. This is how the experiment's ``finetuned-*`` arms use unlabelled
images.
"""

from __future__ import annotations

import torch
import torch.nn as nn


@torch.no_grad()
def conditional_from_unconditional(conditional: nn.Module, unconditional: nn.Module
                                   ) -> nn.Module:
    """Copy ``unconditional``'s weights into ``conditional``; weights only a label uses get 0.

    A tensor present in both with the same shape is copied; one that is larger along a single
    axis (the label's extra inputs) gets the shared part copied and the rest zeroed; one the
    unconditional model lacks (a label embedding) is zeroed. Any other mismatch is an error,
    since the two models would then not be twins.
    """
    source = unconditional.state_dict()
    for name, target in conditional.state_dict().items():
        if name not in source:
            target.zero_()
            continue
        _copy_into(name, target, source[name])
    return conditional


def _copy_into(name: str, target: torch.Tensor, source: torch.Tensor) -> None:
    """``source`` into the leading part of ``target``, the rest of ``target`` set to zero."""
    if target.shape == source.shape:
        target.copy_(source)
        return
    grown = [d for d in range(target.ndim) if target.shape[d] != source.shape[d]]
    if target.ndim != source.ndim or len(grown) != 1 or target.shape[grown[0]] < source.shape[
            grown[0]]:
        raise ValueError(f"{name}: shapes {tuple(source.shape)} and {tuple(target.shape)} are not "
                         "an unconditional layer and its conditional twin; build both models "
                         "from the same config except n_classes.")
    target.zero_()
    target.narrow(grown[0], 0, source.shape[grown[0]]).copy_(source)
