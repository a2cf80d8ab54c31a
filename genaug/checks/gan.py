"""Checks for exercise 04: the non-saturating GAN losses and one alternating training step;
stretch: the hinge loss."""

from __future__ import annotations

import copy
import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from genaug.checks.common import _close, _expect, _number, _ok, _passed, _run, _seeded, _tuple
from genaug.models.gan import GAN, GANConfig, discriminator_loss, generator_loss

_SATURATING = ("your generator loss is the saturating minimax form log(1 - D(G(z))): when D "
               "rejects the fakes its gradient vanishes. Use the non-saturating -log D(G(z)): "
               "BCE with target 1.")


def check_gan_losses(d_loss_fn: Callable, g_loss_fn: Callable) -> None:
    """``d_loss_fn(real_logits, fake_logits)`` and ``g_loss_fn(fake_logits)``, non-saturating."""
    _expect_d_loss(d_loss_fn)
    _ok("D's loss: 2 log 2 at logits 0, near 0 when D is right, a mean over the batch")
    _expect_g_loss(g_loss_fn)
    _ok("G's loss: non-saturating, large with a strong gradient when D rejects the fakes")
    _passed("the non-saturating GAN losses on logits.")


def _expect_d_loss(d_loss_fn: Callable) -> None:
    """BCE on logits, target 1 for real and 0 for fake, the two terms added, batch-averaged."""
    zeros, five = torch.zeros(8), torch.full((8,), 5.0)
    d0 = _number(_run(d_loss_fn, zeros, zeros), d_loss_fn)
    _expect(not _close(d0, math.log(2), rtol=1e-3), f"D's loss for logits all 0 is {d0:.4g} = "
            "log 2: add the real and the fake terms, do not average them (expected 2 log 2).")
    _expect(_close(d0, 2 * math.log(2), rtol=1e-3), f"D's loss for logits all 0 is {d0:.4g}, "
            f"expected 2 log 2 = {2 * math.log(2):.4g}: BCE with logits, target 1 for real "
            "and 0 for generated images (F.binary_cross_entropy_with_logits takes logits, no "
            "sigmoid before it).")
    right = _number(_run(d_loss_fn, five, -five), d_loss_fn)
    _expect(right < 1.0, f"D's loss is {right:.3g} when D is right (real logits +5, fake -5): "
            "real images take target 1, generated ones target 0; your labels are flipped.")
    _expect(_close(right, 2 * F.softplus(-five[0]).item(), rtol=1e-3),
            f"D's loss for real logits +5 and fake -5 is {right:.4g}, expected "
            f"{2 * F.softplus(-five[0]).item():.4g}.")
    doubled = _number(_run(d_loss_fn, zeros.repeat(2), zeros.repeat(2)), d_loss_fn)
    _expect(_close(doubled, d0, rtol=1e-3), "D's loss grows with the batch size: average over "
            "the batch (the default reduction='mean').")


def _expect_g_loss(g_loss_fn: Callable) -> None:
    """-log D(G(z)) on logits: log 2 at 0, large and with a strong gradient when D rejects."""
    five = torch.full((8,), 5.0)
    g0 = _number(_run(g_loss_fn, torch.zeros(8)), g_loss_fn)
    _expect(not _close(g0, -math.log(2), rtol=1e-3), _SATURATING)
    _expect(_close(g0, math.log(2), rtol=1e-3), f"G's loss for logits all 0 is {g0:.4g}, "
            f"expected log 2 = {math.log(2):.4g}: BCE with logits and target 1 for the "
            "generated images.")
    fake = (-five).requires_grad_()
    rejected = _run(g_loss_fn, fake)
    value = _number(rejected, g_loss_fn)
    _expect(not _close(value, -F.softplus(-five[0]).item(), rtol=1e-2), _SATURATING)
    _expect(value > 1.0, f"G's loss is only {value:.3g} when D rejects the fakes (logits -5): "
            "G should pay most then; train G towards target 1 (real), not 0.")
    _expect(_close(value, F.softplus(five[0]).item(), rtol=1e-3), f"G's loss for fake logits "
            f"-5 is {value:.4g}, expected -log sigmoid(-5) = {F.softplus(five[0]).item():.4g}.")
    _expect(isinstance(rejected, torch.Tensor) and rejected.requires_grad,
            "G's loss carries no gradient: compute it with torch operations on the logits.")
    rejected.backward()
    _expect(bool((fake.grad < -0.1 / 8).all()), "G's loss does not push the fake logits up "
            "strongly when D rejects them: use the non-saturating loss, BCE with target 1.")


def _tiny_gan() -> GAN:
    """A small MLP GAN on 8x8 images, the same weights on every call."""
    torch.manual_seed(0)
    return GAN(GANConfig(arch="mlp", image_size=8, latent_dim=8, width=8))


def _reference_step(gan: GAN, real: torch.Tensor, z: torch.Tensor, opt_d, opt_g) -> tuple:
    """One alternating update as in :func:`genaug.train.fit_gan`: (1) D, (2) G."""
    fake = gan.generator(z)
    loss_d = discriminator_loss(gan.discriminator(real), gan.discriminator(fake.detach()))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = generator_loss(gan.discriminator(fake))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()


def _optimisers(gan: GAN) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Plain SGD for D and G, so one step is easy to reproduce exactly."""
    return (torch.optim.SGD(gan.discriminator.parameters(), lr=0.1),
            torch.optim.SGD(gan.generator.parameters(), lr=0.1))


def _same(a: nn.Module, b: nn.Module) -> bool:
    """The two modules hold the same weights (up to rounding)."""
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return all(torch.allclose(p, q, atol=1e-5) for p, q in pairs)


def _grad_total(module: nn.Module) -> float:
    """The summed absolute gradient in ``module``, 0 when none has been computed."""
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def check_train_step(fn: Callable) -> None:
    """``fn(gan, real, z, opt_d, opt_g) -> (loss_d, loss_g)``: one alternating GAN update."""
    with _seeded():
        start = _tiny_gan()
        real, z = torch.rand(16, 1, 8, 8), torch.randn(16, 8)
        expected = copy.deepcopy(start)
        want = _reference_step(expected, real, z, *_optimisers(expected))
        gan = copy.deepcopy(start)
        opt_d, opt_g = _optimisers(gan)
        log = []
        opt_d.register_step_pre_hook(lambda *_: log.append(("D", _grad_total(gan.generator))))
        opt_g.register_step_pre_hook(lambda *_: log.append(("G", 0.0)))
        out = _tuple(_run(fn, gan, real, z, opt_d, opt_g), fn, 2, "the two losses, (loss_d, "
                     "loss_g)")
        order = [who for who, _ in log]
        _expect(order == ["D", "G"], f"the optimisers stepped in the order {order}: step "
                "opt_d once, then opt_g once: (1) update D, (2) update G.")
        _expect(log[0][1] == 0.0, "while D was updated, gradient also flowed into G: score the "
                "generated images with fake.detach() in D's loss, so D's update does not "
                "reach back into G.")
        _ok("D is updated first, then G; D's loss does not reach G (detach used)")
        _expect_moved_like(gan, start, expected)
        loss_d, loss_g = (_number(v, fn) for v in out)
        _expect(_close(loss_d, want[0], rtol=1e-3) and _close(loss_g, want[1], rtol=1e-3),
                f"your step returned losses ({loss_d:.4g}, {loss_g:.4g}), expected "
                f"({want[0]:.4g}, {want[1]:.4g}): return D's loss and G's loss of this step.")
        _ok("it returns D's and G's losses")
        _check_stale_gradients(fn, start, expected, real, z)
    _passed("one alternating update: D on real and detached fakes, then G through D.")


def _expect_moved_like(gan: GAN, start: GAN, expected: GAN) -> None:
    """After the learner's step both networks hold the reference step's weights."""
    _expect(not _same(gan.generator, start.generator), "G did not change: its loss must "
            "reach G, so score the generated images without detach in G's loss, and call "
            "opt_g.step().")
    _expect(_same(gan.discriminator, expected.discriminator), "D's weights after your step "
            "differ from one update on discriminator_loss(D(real), D(fake.detach())): "
            "generate the fakes from the z you are given, and zero D's gradients first.")
    _expect(_same(gan.generator, expected.generator), "G's weights after your step differ "
            "from one update on generator_loss(D(fake)) scored by the updated D: use the "
            "z you are given, and update G after D.")
    _ok("both networks moved exactly as one alternating update should")


def _check_stale_gradients(fn: Callable, start: GAN, expected: GAN, real, z) -> None:
    """Gradients left from an earlier step (G's loss also fills D's .grad) must not count."""
    gan = copy.deepcopy(start)
    for p in gan.parameters():
        p.grad = torch.full_like(p, 0.5)
    _run(fn, gan, real, z, *_optimisers(gan))
    _expect(_same(gan.discriminator, expected.discriminator), "D's update used gradients left "
            "over from before (the last G step also fills D's .grad): call opt_d.zero_grad() "
            "right before loss_d.backward().")
    _expect(_same(gan.generator, expected.generator), "G's update used gradients left over "
            "from before: call opt_g.zero_grad() right before loss_g.backward().")
    _ok("old gradients are cleared before each backward pass")


def check_hinge_losses(d_loss_fn: Callable, g_loss_fn: Callable) -> None:
    """``d_loss_fn(real_logits, fake_logits)`` and ``g_loss_fn(fake_logits)``: the hinge loss."""
    zeros, five = torch.zeros(8), torch.full((8,), 5.0)
    d0 = _number(_run(d_loss_fn, zeros, zeros), d_loss_fn)
    doubled = _number(_run(d_loss_fn, zeros.repeat(2), zeros.repeat(2)), d_loss_fn)
    _expect(_close(doubled, d0), "D's loss grows with the batch size: average each term.")
    _expect(_close(d0, 2.0), f"D's hinge loss for logits all 0 is {d0:.4g}, expected 2: each "
            "of the two terms is 1 when D sits on the fence.")
    beyond = _number(_run(d_loss_fn, five, -five), d_loss_fn)
    _expect(beyond >= -1e-6, f"D's hinge loss is {beyond:.4g} when real logits are +5 and fake "
            "ones -5: it keeps falling past the margin; clip each term at 0 (F.relu), so that "
            "D stops pushing examples it already gets right by a margin of 1.")
    _expect(_close(beyond, 0.0), f"D's loss is {beyond:.4g} for real logits +5 and fake -5, "
            "where D is right by more than the margin: expected 0. Real logits should rise "
            "above +1 and fake ones fall below -1.")
    wrong = _number(_run(d_loss_fn, -five, five), d_loss_fn)
    _expect(_close(wrong, 12.0), f"D's loss for real logits -5 and fake +5 is {wrong:.4g}, "
            "expected 6 + 6 = 12: each term grows linearly with how far past the margin D is.")
    _ok("D's hinge loss: 2 on the fence, 0 past the margin, linear inside it")
    _expect_hinge_g(g_loss_fn)
    _ok("G's hinge loss: minus the mean fake logit, the same push at every logit")
    _passed("the hinge loss of SN-GAN (Miyato et al., 2018).")


def _expect_hinge_g(g_loss_fn: Callable) -> None:
    """G's loss is -mean(fake logits): no margin, a gradient of -1/B whatever the logit."""
    at_zero = _number(_run(g_loss_fn, torch.zeros(8)), g_loss_fn)
    _expect(not _close(at_zero, math.log(2), rtol=1e-3), "G's loss is log 2 at logits 0: that "
            "is task 1's non-saturating BCE; the hinge version of G's loss has no log and no "
            "sigmoid.")
    values = {}
    for logit in (-5.0, 0.0, 5.0):
        fake = torch.full((8,), logit, requires_grad=True)
        loss = _run(g_loss_fn, fake)
        values[logit] = _number(loss, g_loss_fn)
        _expect(isinstance(loss, torch.Tensor) and loss.requires_grad, "G's loss carries no "
                "gradient: compute it with torch operations on the logits.")
        loss.backward()
        grad = fake.grad if fake.grad is not None else torch.zeros(8)
        _expect(not (logit == 5.0 and float(grad.abs().max()) < 1e-6), "G's loss stops "
                "pushing once D calls the fakes real by a margin: the hinge belongs to D's "
                "loss only; G's loss has no margin.")
        _expect(bool(torch.allclose(grad, torch.full((8,), -1 / 8))), f"at fake logits "
                f"{logit:+g} the gradient of G's loss is {float(grad[0]):.3g} per logit, "
                "expected -1/B = -0.125: G's hinge loss is linear in the mean fake logit, and "
                "falls as the logits rise.")
    _expect(_close(values[0.0], 0.0, atol=1e-6) and _close(values[-5.0], 5.0),
            f"G's loss is {values[0.0]:.4g} at logits 0 and {values[-5.0]:.4g} at -5, "
            "expected 0 and 5.")
