"""Self-checks for the exercise notebooks: run the learner's function on cases with known answers.

Each ``check_*`` function prints one line per thing that is right and ends with "All checks
passed"; at the first problem it raises :class:`CheckFailed`, whose message says in words what
is wrong and where to look. Jupyter shows that message alone, not a traceback. A function that
is still a stub (it raises ``NotImplementedError``) gives :class:`NotDoneYet` instead.
"""

from __future__ import annotations

import contextlib
import copy
import math
from typing import Callable, Iterator, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from genaug.metrics import frechet_distance
from genaug.models.gan import GAN, GANConfig, discriminator_loss, generator_loss
from genaug.models.vae import VAE, VAEConfig, gaussian_kl


class CheckFailed(AssertionError):
    """A self-check found a mistake; the message says what is wrong and what to look at."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the verdict alone."""
        return [f"{type(self).__name__}: {self}"]


class NotDoneYet(CheckFailed, NotImplementedError):
    """The function checked is still the exercise's stub."""


# ----------------------------------------------------------------------------------------
# Helpers shared by every check


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", "your function")


def _run(fn: Callable, *args, **kwargs):
    """Call the learner's function; turn a stub or a crash into a message in words."""
    try:
        return fn(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError as error:
        raise NotDoneYet(
            f"not done yet: {_name(fn)} still raises NotImplementedError ({error}). Replace the "
            "`raise` line with your code, run that cell, then run this check again."
        ) from None
    except Exception as error:
        shapes = ", ".join(str(tuple(a.shape)) for a in args if isinstance(a, torch.Tensor))
        raise CheckFailed(
            f"your {_name(fn)} raised {type(error).__name__}: {error}"
            + (f" (it was given tensors of shape {shapes})" if shapes else "")
        ) from None


def _expect(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def _ok(message: str) -> None:
    print(f"\u2713 {message}")


def _passed(summary: str) -> None:
    print(f"All checks passed: {summary}")


def _tensor(value, fn: Callable, shape: tuple | None = None) -> torch.Tensor:
    """The learner's return value as a tensor, failing in words if it is not one of ``shape``."""
    _expect(isinstance(value, torch.Tensor),
            f"your {_name(fn)} returned a {type(value).__name__}; return a torch.Tensor.")
    if shape is not None:
        _expect(tuple(value.shape) == tuple(shape),
                f"your {_name(fn)} returned shape {tuple(value.shape)}, expected {tuple(shape)}.")
    return value


def _number(value, fn: Callable) -> float:
    """A Python float from a number or a one-element tensor."""
    if isinstance(value, torch.Tensor):
        _expect(value.numel() == 1, f"your {_name(fn)} returned a tensor of shape "
                f"{tuple(value.shape)}; return one number (average over the batch: .mean()).")
        return float(value.detach())
    _expect(isinstance(value, (int, float)),
            f"your {_name(fn)} returned a {type(value).__name__}; return a number.")
    return float(value)


def _close(a: float, b: float, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _fmt(t: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in t.flatten().tolist()) + "]"


@contextlib.contextmanager
def _seeded(seed: int = 0) -> Iterator[None]:
    """Fixed random numbers inside a check, without disturbing the notebook's own stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------------------
# 01: classical augmentation on the device


def check_random_flip(fn: Callable) -> None:
    """``fn(x, generator, p)``: mirror each image left-right with probability p, batched."""
    with _seeded():
        x = torch.rand(400, 1, 8, 8)
        keep = x.clone()
        out = _tensor(_run(fn, x, _gen(0), p=0.5), fn, x.shape)
        _expect(torch.equal(x, keep), "your function changed its input in place; return a new "
                "tensor instead (torch.where builds one).")
        _ok("shape kept, input left untouched")
        same = (out == x).flatten(1).all(1)
        mirrored = (out == x.flip(-1)).flatten(1).all(1)
        bad = torch.nonzero(~(same | mirrored)).flatten()
        if len(bad):
            i = int(bad[0])
            _expect(not torch.equal(out[i], x[i].flip(-2)), f"image {i} is mirrored top to "
                    "bottom: flip the width axis, the last one (x.flip(-1)).")
            _expect(False, f"image {i} is neither the input nor its left-right mirror: each "
                    "output image must be x[i] or x[i].flip(-1), chosen by torch.where.")
        _ok("every image is either unchanged or its left-right mirror")
        for p, low, high in ((0.5, 0.38, 0.62), (0.0, 0, 0), (1.0, 1, 1), (0.2, 0.12, 0.28)):
            share = _flip_share(fn, x, p, seed=1)
            _expect(not (p == 0.5 and share in (0.0, 1.0)), f"with p=0.5 {share:.0%} of the "
                    "images were flipped: draw one random number per image, shape (N,), not "
                    "one for the whole batch.")
            _expect(low <= share <= high, f"with p={p:g} you flipped {share:.0%} of the images, "
                    f"expected {low:.0%}-{high:.0%}: flip where the uniform draw is < p.")
        _ok("p=0 flips nothing, p=1 flips all, p=0.2 and p=0.5 flip about that share")
        _expect_repeatable(fn, x, dict(p=0.5))
    _passed("a random horizontal flip per image, repeatable by seed.")


def _flip_share(fn: Callable, x: torch.Tensor, p: float, seed: int) -> float:
    out = _run(fn, x, _gen(seed), p=p)
    flipped = (out == x.flip(-1)).flatten(1).all(1) & ~(out == x).flatten(1).all(1)
    return float(flipped.float().mean())


def _expect_repeatable(fn: Callable, x: torch.Tensor, kwargs: dict) -> None:
    """Equal seeds give equal outputs, different seeds different ones (randomness per seed)."""
    a, b, c = (_run(fn, x, _gen(s), **kwargs) for s in (7, 7, 8))
    _expect(torch.equal(a, b), "two generators with the same seed gave different results: "
            "draw every random number from the generator you are given "
            "(torch.rand(..., generator=generator)), not from torch's global one.")
    _expect(not torch.equal(a, c), "two different seeds gave the same result: use the "
            "generator for the random draws.")
    _ok("the same seed repeats the result, another seed changes it")


def check_square_erase(fn: Callable) -> None:
    """``fn(x, generator, size, p)``: zero a size x size square, fully inside, per image."""
    with _seeded():
        n, s, size = 600, 8, 3
        ones = torch.ones(n, 1, s, s)
        out = _tensor(_run(fn, ones, _gen(0), size=size, p=1.0), fn, ones.shape)
        _expect(torch.equal(ones, torch.ones_like(ones)), "your function changed its input in "
                "place; return a new tensor (masked_fill or torch.where build one).")
        _expect(bool(((out == 0) | (out == 1)).all()), "some pixels became neither 0 nor "
                "their old value: set the pixels inside the square to 0 and keep the rest.")
        zeros = (out == 0).squeeze(1)  # (N, H, W)
        counts = zeros.flatten(1).sum(1)
        _expect(bool(counts.any()), "with p=1 no image was erased: erase where the uniform "
                "draw is < p.")
        i = int(torch.argmax((counts != size * size).int()))
        _expect(int(counts[i]) == size * size, f"image {i} has {int(counts[i])} erased pixels "
                f"with p=1, expected size*size = {size * size}: the square must lie fully "
                "inside the image.")
        rows, cols = zeros.any(2), zeros.any(1)  # (N, H) and (N, W): lines holding zeros
        _expect(bool((rows.sum(1) == size).all() & (cols.sum(1) == size).all()),
                f"the erased pixels do not form a {size}x{size} square in every image.")
        _ok(f"with p=1 every image loses exactly one {size}x{size} square, inside the image")
        top, left = rows.float().argmax(1), cols.float().argmax(1)
        corners = set(zip(top.tolist(), left.tolist()))
        _expect(len(corners) > 10, f"the squares sit in only {len(corners)} place(s): draw a "
                "top and a left position for every image, shape (N,).")
        _expect(int(top.max()) == s - size and int(left.max()) == s - size,
                f"the square never touched the bottom or right edge in {n} images: positions "
                f"go from 0 to H - size inclusive (torch.randint's upper bound is exclusive, "
                "so use H - size + 1).")
        _expect(int(top.min()) == 0 and int(left.min()) == 0, "the square never touched the "
                "top or left edge: positions start at 0.")
        _ok("square positions vary per image and reach every edge")
        x = torch.rand(n, 1, s, s) + 0.1
        out = _run(fn, x, _gen(1), size=size, p=0.5)
        kept = (out == x).flatten(1).all(1)
        _expect(torch.equal(_run(fn, x, _gen(1), size=size, p=0.0), x),
                "with p=0 some images changed: erase only where the uniform draw is < p.")
        _expect(bool(((out == x) | (out == 0)).all()), "pixels outside the square changed: "
                "keep x where the mask is False.")
        share = 1 - float(kept.float().mean())
        _expect(0.42 <= share <= 0.58, f"with p=0.5 you erased {share:.0%} of the images: "
                "one uniform draw per image, erase where it is < p.")
        _ok("p=0 erases nothing, p=0.5 about half; other pixels keep their values")
        _expect_repeatable(fn, x, dict(size=size, p=0.5))
    _passed("random erasing of a square per image, batched and repeatable by seed.")


# ----------------------------------------------------------------------------------------
# 02: the reparameterisation trick and the ELBO


def check_reparameterize(fn: Callable) -> None:
    """``fn(mu, logvar)``: one sample z ~ N(mu, exp(logvar)) per row, differentiable."""
    with _seeded():
        sigma = torch.tensor([1.0, 2.0, 0.5])
        mu = torch.tensor([0.0, 2.0, -1.0]).repeat(20000, 1)  # (20000, 3)
        logvar = (2 * sigma.log()).repeat(20000, 1)
        z = _tensor(_run(fn, mu, logvar), fn, mu.shape)
        _expect(bool(z.std(0).max() > 0.01), "every z equals mu: add noise, "
                "z = mu + sigma * eps with eps = torch.randn_like(mu).")
        _expect(bool(((z.mean(0) - mu[0]).abs() < 0.06).all()),
                f"the mean of your samples is {_fmt(z.mean(0))} where mu is {_fmt(mu[0])}: "
                "z = mu + sigma * eps, with eps standard normal (torch.randn_like, mean 0).")
        _ok("samples are centred on mu")
        std = z.std(0)
        _expect(not ((std - sigma ** 2).abs() < 0.05 * sigma ** 2).all(),
                f"your samples spread by {_fmt(std)}, the variance exp(logvar), where sigma is "
                f"{_fmt(sigma)}: the standard deviation is sigma = exp(0.5 * logvar).")
        _expect(bool(((std - sigma).abs() < 0.04 * sigma).all()),
                f"your samples spread by {_fmt(std)} where sigma = exp(0.5 * logvar) is "
                f"{_fmt(sigma)}: z = mu + exp(0.5 * logvar) * eps.")
        _ok("their spread is sigma = exp(0.5 * logvar)")
        _expect(not torch.equal(_run(fn, mu[:5], logvar[:5]), _run(fn, mu[:5], logvar[:5])),
                "two calls gave the same z: draw fresh noise on every call.")
        _check_gradients(fn)
    _passed("z = mu + sigma * eps, with the randomness outside the network.")


def _check_gradients(fn: Callable) -> None:
    """Gradients of z reach mu (as ones) and logvar (not all zero)."""
    mu = torch.zeros(4, 3, requires_grad=True)
    logvar = torch.zeros(4, 3, requires_grad=True)
    z = _run(fn, mu, logvar)
    _expect(z.requires_grad, "z has no gradient: do not detach, and do not sample under "
            "torch.no_grad(); the trick is that z stays a differentiable function of mu "
            "and logvar.")
    z.sum().backward()
    _expect(mu.grad is not None and logvar.grad is not None,
            "no gradient reached mu or logvar: build z from both of them.")
    _expect(bool(logvar.grad.abs().sum() > 0) and torch.allclose(mu.grad, torch.ones(4, 3)),
            "the gradient reaching mu and logvar is zero or wrong: torch.normal(mu, std) "
            "samples without a path for gradients; write z = mu + std * eps with "
            "eps = torch.randn_like(std).")
    _ok("gradients flow back to mu and logvar")


def check_kl(fn: Callable) -> None:
    """``fn(mu, logvar)``: KL(N(mu, sigma^2) || N(0, 1)) summed over dims, one value per row."""
    with _seeded():
        mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
        kl = _tensor(_run(fn, mu, logvar), fn)
        _expect(kl.ndim != 0, "your KL is one number for the whole batch: return one value per "
                "row, summing over the latent dimensions only (dim=1).")
        _expect(tuple(kl.shape) != (4, 3), "your KL has one value per latent dimension: sum "
                "them over dim=1, one value per row.")
        _tensor(kl, fn, (4,))
        _ok("one KL value per row")
        zero = float(_run(fn, torch.zeros(1, 3), torch.zeros(1, 3))[0])
        _expect(abs(zero) < 1e-6, f"for mu=0, logvar=0 your KL is {zero:.4g}, but N(0, 1) is "
                "the prior itself, so the KL must be 0: check the 1 + logvar - mu^2 - "
                "exp(logvar) terms.")
        _ok("KL is 0 when the posterior is the prior (mu=0, logvar=0)")
        one = float(_run(fn, torch.zeros(1, 1), torch.ones(1, 1))[0])
        expected = 0.5 * (math.e - 2)
        _expect(one >= 0, f"your KL term is negative for mu=0, logvar=1 ({one:.4g}): a KL "
                "divergence is never negative; check the sign of the formula, "
                "-1/2 * sum(1 + logvar - mu^2 - exp(logvar)).")
        _expect(not _close(one, 2 * expected), f"for mu=0, logvar=1 your KL is {one:.4g}, "
                f"twice the closed form {expected:.4g}: the formula has a factor 1/2.")
        _expect(_close(one, expected), f"for mu=0, logvar=1 your KL is {one:.4g}, expected "
                f"{expected:.4g} = (e - 1 - 1) / 2.")
        _ok("KL is positive away from the prior")
        reference = gaussian_kl(mu, logvar)
        _expect(not torch.allclose(kl, reference / 3, rtol=1e-4),
                "your KL is the closed form divided by the number of latent dimensions: sum "
                "over them, do not average.")
        _expect(torch.allclose(kl, reference, rtol=1e-4, atol=1e-5),
                f"for random mu and logvar your KL is {_fmt(kl)}, expected {_fmt(reference)}: "
                "-1/2 * sum(1 + logvar - mu^2 - exp(logvar), dim=1).")
        _ok("matches the closed form of Kingma & Welling (2014), Appendix B")
    _passed("the closed-form Gaussian KL, one value per row.")


def check_negative_elbo(fn: Callable) -> None:
    """``fn(logits, x, mu, logvar, beta=1.0)``: BCE summed over pixels + beta * KL, per image."""
    with _seeded():
        n = 4
        logits = torch.randn(n, 1, 8, 8, requires_grad=True)
        x = torch.rand(n, 1, 8, 8)
        mu = torch.randn(n, 3, requires_grad=True)
        logvar = torch.randn(n, 3, requires_grad=True)
        with torch.no_grad():
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
            kl = gaussian_kl(mu, logvar).mean()
            per_pixel = float(F.binary_cross_entropy_with_logits(logits, x) + kl)
        loss = _run(fn, logits, x, mu, logvar)
        value = _number(loss, fn)
        _expect(not _close(value, per_pixel), "your reconstruction term is averaged over "
                "pixels: sum it over the pixels of an image (reduction='sum'), then divide by "
                "the batch size, as the KL is summed over latent dimensions.")
        _expect(not _close(value, float(n * (recon + kl))), "your loss is summed over the "
                "batch: divide by the batch size, so that it is a loss per image.")
        _expect(not _close(value, float(recon - kl)), "you subtracted the KL: the negative "
                "ELBO is reconstruction + KL.")
        _expect(not _close(value, float(recon)), "the KL term is missing: add "
                "beta * KL averaged over the batch.")
        _expect(_close(value, float(recon + kl)), f"your negative ELBO is {value:.4g}, expected "
                f"{float(recon + kl):.4g} = reconstruction {float(recon):.4g} + KL "
                f"{float(kl):.4g}: BCE with logits summed over pixels / batch size, plus the "
                "KL averaged over the batch.")
        _ok("reconstruction (summed over pixels) + KL, averaged over images")
        with_beta = _number(_run(fn, logits, x, mu, logvar, beta=4.0), fn)
        _expect(_close(with_beta, float(recon + 4 * kl)), f"with beta=4 your loss is "
                f"{with_beta:.4g}, expected {float(recon + 4 * kl):.4g}: multiply the KL by "
                "beta.")
        _ok("beta weights the KL term")
        _expect(isinstance(loss, torch.Tensor) and loss.requires_grad, "your loss carries no "
                "gradient: compute it from the tensors with torch operations (no .item(), no "
                ".detach()).")
        loss.backward()
        _expect(all(t.grad is not None and bool(t.grad.abs().sum() > 0)
                    for t in (logits, mu, logvar)), "the gradient does not reach logits, mu "
                "and logvar: use all three in the loss.")
        _ok("the gradient reaches the decoder's logits, mu and logvar")
    _passed("the negative ELBO, ready to train a VAE.")


# ----------------------------------------------------------------------------------------
# 03: sampling a conditional VAE


class _EchoVAE(VAE):
    """A conditional VAE whose decoder writes the class and the code z into the image, so a
    check can read back which label and which z made each image."""

    def decode(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        labels = self._labels(labels, z.shape[0])
        n, d, s = z.shape[0], self.config.latent_dim, self.config.image_size
        logits = torch.full((n, 1, s, s), -6.0, device=z.device)
        logits[torch.arange(n), 0, 0, labels] = 6.0  # row 0: one lit pixel for the class
        logits[:, 0, 1, :d] = z  # row 1: the code itself
        return logits


def _echo_vae(n_classes: int = 5) -> _EchoVAE:
    config = VAEConfig(image_size=8, latent_dim=4, n_classes=n_classes, width=4, hidden=8)
    return _EchoVAE(config).eval()


def _read_back(model: _EchoVAE, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The labels and codes z that ``_EchoVAE`` wrote into ``images``."""
    k, d = model.config.n_classes, model.config.latent_dim
    labels = images[:, 0, 0, :k].argmax(1)
    z = torch.logit(images[:, 0, 1, :d].double().clamp(1e-12, 1 - 1e-12)).float()
    return labels, z


def _images_in_range(images: torch.Tensor, fn: Callable) -> None:
    low, high = float(images.min()), float(images.max())
    _expect(0.0 <= low and high <= 1.0, f"your images range from {low:.3g} to {high:.3g}: "
            "model.decode returns logits; turn them into pixel values with torch.sigmoid.")


def check_class_mix(fn: Callable) -> None:
    """``fn(model, counts, generator)``: images and labels with counts[c] images of class c."""
    with _seeded():
        model = _echo_vae()
        counts = [5, 0, 3, 12, 100]
        out = _run(fn, model, counts, _gen(0))
        _expect(isinstance(out, tuple) and len(out) == 2, f"your {_name(fn)} should return a "
                "pair (images, labels).")
        images, labels = out
        n = sum(counts)
        _tensor(images, fn, (n, 1, 8, 8))
        _tensor(labels, fn, (n,))
        _expect(labels.dtype == torch.int64, f"labels have dtype {labels.dtype}: return "
                "int64 class ids (torch.long).")
        _ok(f"{n} images of shape (1, 8, 8) and {n} int64 labels")
        got = torch.bincount(labels, minlength=len(counts)).tolist()
        _expect(got == counts, f"your labels hold {got} images per class where counts asked "
                f"for {counts}: build them with torch.repeat_interleave(torch.arange(K), "
                "torch.tensor(counts)).")
        _ok("the class counts are the ones asked for")
        _images_in_range(images, fn)
        _ok("pixel values lie in [0, 1]")
        drawn, z = _read_back(model, images)
        wrong = torch.nonzero(drawn != labels).flatten()
        _expect(len(wrong) == 0, f"image {int(wrong[0]) if len(wrong) else 0} was decoded for "
                "another class than its label says: decode with the same labels you return "
                "(shuffle images and labels together, or not at all).")
        _ok("every image was decoded with the label returned beside it")
        _expect(abs(float(z.mean())) < 0.15 and abs(float(z.std()) - 1) < 0.15,
                f"your codes z have mean {float(z.mean()):.2f} and std {float(z.std()):.2f}: "
                "draw them from the prior N(0, I) with torch.randn(..., generator=generator).")
        _ok("the codes z come from the prior N(0, I)")
        again = _run(fn, model, counts, _gen(0))[0]
        _expect(torch.equal(images, again), "the same seed gave different images: draw z with "
                "torch.randn(n, latent_dim, generator=generator).")
        _expect(not torch.equal(images, _run(fn, model, counts, _gen(1))[0]),
                "two different seeds gave the same images: draw z with the generator.")
        _ok("the same seed repeats the batch, another seed changes it")
    _passed("a labelled synthetic batch with the class mix asked for.")


def check_style_grid(fn: Callable) -> None:
    """``fn(model, n_styles, generator)``: (K * n_styles) images, row c = class c, column s =
    the same code z_s for every class."""
    with _seeded():
        model = _echo_vae(n_classes=4)
        k, n_styles = 4, 6
        images = _tensor(_run(fn, model, n_styles, _gen(0)), fn, (k * n_styles, 1, 8, 8))
        _images_in_range(images, fn)
        _ok(f"{k} classes x {n_styles} styles = {k * n_styles} images in [0, 1]")
        labels, z = _read_back(model, images)
        wanted = torch.arange(k).repeat_interleave(n_styles)
        i = int(torch.argmax((labels != wanted).int()))
        _expect(torch.equal(labels, wanted), f"image {i} should show class {int(wanted[i])} "
                f"(row r holds class r in every column), but was decoded as class "
                f"{int(labels[i])}: labels = torch.arange(K).repeat_interleave(n_styles).")
        _ok("row r holds class r")
        grid = z.view(k, n_styles, -1)  # (K, n_styles, latent_dim)
        distinct = len({tuple(v) for v in z.round(decimals=4).tolist()})
        _expect(bool((grid - grid[:1]).abs().max() < 1e-4) or distinct != n_styles,
                "you drew the right number of codes but placed them wrongly: image "
                "r * n_styles + s must use code s, so repeat the block of codes for each class "
                "(z.repeat(K, 1)), not each code K times in a row.")
        _expect(bool((grid - grid[:1]).abs().max() < 1e-4), "the images of one column were "
                "decoded from different codes z: draw n_styles codes once and reuse each one "
                "for every class (z.repeat(K, 1)).")
        _expect(distinct == n_styles, f"you used {distinct} different codes, expected "
                f"{n_styles}: draw one code per column from N(0, I).")
        _ok("each column keeps one code z across all classes")
    _passed("a class-by-style grid: the class changes down a column, the style along a row.")


# ----------------------------------------------------------------------------------------
# 04: GAN losses and one training step


_SATURATING = ("your generator loss is the saturating minimax form log(1 - D(G(z))): when D "
               "rejects the fakes its gradient vanishes. Use the non-saturating -log D(G(z)): "
               "BCE with target 1.")


def check_gan_losses(d_loss_fn: Callable, g_loss_fn: Callable) -> None:
    """``d_loss_fn(real_logits, fake_logits)`` and ``g_loss_fn(fake_logits)``, non-saturating."""
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
    _ok("D's loss: 2 log 2 at logits 0, near 0 when D is right, a mean over the batch")
    g0 = _number(_run(g_loss_fn, zeros), g_loss_fn)
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
    _ok("G's loss: non-saturating, large with a strong gradient when D rejects the fakes")
    _passed("the non-saturating GAN losses on logits.")


def _tiny_gan() -> GAN:
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
    return (torch.optim.SGD(gan.discriminator.parameters(), lr=0.1),
            torch.optim.SGD(gan.generator.parameters(), lr=0.1))


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.allclose(p, q, atol=1e-5) for p, q in zip(a.parameters(), b.parameters()))


def _grad_total(module: nn.Module) -> float:
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
        out = _run(fn, gan, real, z, opt_d, opt_g)
        _expect(isinstance(out, tuple) and len(out) == 2, f"your {_name(fn)} should return "
                "the two losses, (loss_d, loss_g).")
        order = [who for who, _ in log]
        _expect(order == ["D", "G"], f"the optimisers stepped in the order {order}: step "
                "opt_d once, then opt_g once: (1) update D, (2) update G.")
        _expect(log[0][1] == 0.0, "while D was updated, gradient also flowed into G: score the "
                "generated images with fake.detach() in D's loss, so D's update does not "
                "reach back into G.")
        _ok("D is updated first, then G; D's loss does not reach G (detach used)")
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
        loss_d, loss_g = (_number(v, fn) for v in out)
        _expect(_close(loss_d, want[0], rtol=1e-3) and _close(loss_g, want[1], rtol=1e-3),
                f"your step returned losses ({loss_d:.4g}, {loss_g:.4g}), expected "
                f"({want[0]:.4g}, {want[1]:.4g}): return D's loss and G's loss of this step.")
        _ok("it returns D's and G's losses")
        _check_stale_gradients(fn, start, expected, real, z)
    _passed("one alternating update: D on real and detached fakes, then G through D.")


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


# ----------------------------------------------------------------------------------------
# 05: conditioning a GAN


def _projection_case() -> tuple:
    """h (2, 2), labels, a linear layer and an embedding with hand-set weights."""
    h = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    linear = nn.Linear(2, 1)
    embed = nn.Embedding(3, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -1.0]]))
        linear.bias.fill_(0.5)
        embed.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]))
    return h, torch.tensor([0, 2]), linear, embed


def check_projection(fn: Callable) -> None:
    """``fn(h, labels, linear, embed)``: linear(h) + <embed(y), h>, one logit per image."""
    h, labels, linear, embed = _projection_case()
    out = _tensor(_run(fn, h, labels, linear, embed), fn)
    _expect(tuple(out.shape) != (2, 1), "your logits have shape (B, 1): squeeze the last axis "
            "(.squeeze(1)) so that there is one logit per image, shape (B,).")
    _expect(tuple(out.shape) != (2, 2), "you got a (B, B) matrix: multiply embed(labels) and h "
            "element by element and sum over the features (dim=1), not a matrix product.")
    _tensor(out, fn, (2,))
    _ok("one logit per image")
    got = out.detach()
    _expect(not torch.allclose(got, torch.tensor([-0.5, -0.5])), "your logits ignore the "
            "labels: add the projection term (embed(labels) * h).sum(dim=1).")
    _expect(not torch.allclose(got, torch.tensor([1.0, 14.0])), "the unconditional term is "
            "missing: add linear(h).squeeze(1) to the projection term.")
    _expect(torch.allclose(got, torch.tensor([0.5, 13.5])), f"for h=[[1, 2], [3, 4]], labels "
            f"[0, 2] you got {_fmt(got)}, expected [0.5, 13.5] = linear(h) + "
            "(embed(labels) * h).sum(1): (1 - 2 + 0.5) + 1 and (3 - 4 + 0.5) + 14.")
    _ok("matches linear(h) + <embed(y), h> on hand-computed numbers")
    other = _run(fn, h, torch.tensor([1, 1]), linear, embed).detach()
    _expect(torch.allclose(other, torch.tensor([1.5, 3.5])), f"with labels [1, 1] you got "
            f"{_fmt(other)}, expected [1.5, 3.5]: look the embedding up with the labels given.")
    _ok("changing the labels changes the logits as it should")
    _passed("the projection discriminator's output (Miyato & Koyama, 2018).")


def check_one_hot_input(fn: Callable) -> None:
    """``fn(z, labels, n_classes)``: [z, one_hot(labels)] as G's input, shape (B, D + K)."""
    z, labels, k = torch.randn(4, 3), torch.tensor([0, 2, 2, 1]), 5
    out = _tensor(_run(fn, z, labels, k), fn)
    _expect(tuple(out.shape) != (4, 6), "your input is 3 + 3 wide: F.one_hot(labels) without "
            "num_classes sizes it by the largest label in this batch; pass n_classes.")
    _tensor(out, fn, (4, 3 + k))
    _expect(out.dtype == z.dtype, f"your input has dtype {out.dtype}: cast the one-hot part "
            "to z's dtype (.to(z.dtype)) so that a linear layer can read it.")
    _ok(f"shape (B, latent_dim + n_classes) = (4, {3 + k}), dtype {z.dtype}")
    _expect(not torch.equal(out[:, k:], z), "the one-hot label comes first: put z first, then "
            "the label (torch.cat([z, one_hot], dim=1)), as genaug's Generator reads it.")
    _expect(torch.equal(out[:, :3], z), "the first latent_dim columns must be z itself.")
    _expect(torch.equal(out[:, 3:], F.one_hot(labels, k).to(z.dtype)), "the last n_classes "
            "columns must be the one-hot labels: a 1 in column latent_dim + label.")
    _ok("z first, then a one-hot row per label")
    _passed("label conditioning by concatenation.")


# ----------------------------------------------------------------------------------------
# 06: Frechet distance


def _with_moments(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``x`` reshaped so that its sample mean and (unbiased) covariance are exactly these."""
    x = x.double() - x.double().mean(0)
    white = torch.linalg.cholesky(torch.linalg.inv(torch.cov(x.T)))  # whitening matrix
    return x @ white @ torch.linalg.cholesky(cov.double()).T + mean.double()


def check_feature_stats(fn: Callable) -> None:
    """``fn(features)`` for features (N, F): their mean (F,) and unbiased covariance (F, F)."""
    with _seeded():
        x = torch.randn(50, 3) @ torch.tensor([[1.0, 0.5, 0], [0, 1, 0.3], [0, 0, 2]]) + 4
        out = _run(fn, x)
        _expect(isinstance(out, tuple) and len(out) == 2, f"your {_name(fn)} should return a "
                "pair (mean, covariance).")
        mean, cov = (_tensor(v, fn) for v in out)
        _expect(tuple(mean.shape) == (3,), f"your mean has shape {tuple(mean.shape)}: average "
                "over the images, dim=0, giving one value per feature (F,).")
        _expect(tuple(cov.shape) != (50, 50), "your covariance is (N, N), one row per image: "
                "torch.cov wants one row per variable, so pass features.T.")
        _expect(tuple(cov.shape) == (3, 3), f"your covariance has shape {tuple(cov.shape)}, "
                "expected (F, F).")
        _ok("a mean (F,) and a covariance (F, F)")
        _expect(torch.allclose(mean, x.mean(0), atol=1e-5), "your mean differs from "
                "features.mean(dim=0).")
        _ok("the mean is right")
        want = torch.cov(x.T)
        _expect(not torch.allclose(cov, x.T @ x / 49, rtol=1e-4), "your covariance is not "
                "centred: subtract the mean from the features before multiplying.")
        _expect(not torch.allclose(cov, want * 49 / 50, rtol=1e-4), "your covariance divides "
                "by N; the unbiased estimate divides by N - 1, as torch.cov does.")
        _expect(torch.allclose(cov, want, rtol=1e-4, atol=1e-5), "your covariance differs from "
                "torch.cov(features.T).")
        _ok("the covariance is the unbiased one (N - 1), as torch.cov gives")
    _passed("the Gaussian fitted to a feature set.")


def check_frechet(fn: Callable) -> None:
    """``fn(real, fake)`` for feature sets (N, F), (M, F): the Frechet distance, a number."""
    with _seeded():
        x = torch.randn(500, 4)
        same = _number(_run(fn, x, x.clone()), fn)
        trace = float(torch.cov(x.T).trace())
        _expect(not _close(same, 2 * trace, rtol=1e-2), f"identical sets gave {same:.4g}, "
                f"twice the covariance's trace: the cross term -2 tr((C_r C_f)^(1/2)) is "
                "missing.")
        _expect(abs(same) < 1e-3, f"identical feature sets gave {same:.4g}; the distance of a "
                "set to itself must be 0: check the trace term, tr(C_r + C_f - 2 (C_r C_f)^(1/2)); "
                "for identical sets tr((C C)^(1/2)) = tr(C), which a matrix square root gives "
                "and a root taken element by element does not.")
        _ok("identical sets are at distance 0")
        shift = torch.tensor([1.0, 2.0, 0.0, 0.0])
        shifted = _number(_run(fn, x, x + shift), fn)
        _expect(not abs(shifted) < 1e-3, "sets that differ by a shift of their mean gave 0: "
                "add the mean term ||mu_r - mu_f||^2.")
        _expect(not _close(shifted, math.sqrt(5), rtol=1e-2), f"a shift by (1, 2, 0, 0) gave "
                f"{shifted:.4g} = sqrt(5): the mean term is the squared distance, 5.")
        _expect(_close(shifted, 5.0, rtol=1e-2), f"a shift of the mean by (1, 2, 0, 0) gave "
                f"{shifted:.4g}, expected ||shift||^2 = 5.")
        _ok("a shifted mean adds its squared distance")
        s_r, s_f = torch.tensor([1.0, 2.0, 0.5, 1.0]), torch.tensor([2.0, 1.0, 0.5, 3.0])
        real = _with_moments(torch.randn(800, 4), torch.zeros(4), torch.diag(s_r ** 2))
        fake = _with_moments(torch.randn(600, 4), shift, torch.diag(s_f ** 2))
        got, want = _number(_run(fn, real, fake), fn), 5.0 + float(((s_r - s_f) ** 2).sum())
        _expect(_close(got, want, rtol=1e-2), f"for two Gaussians with diagonal covariances "
                f"your distance is {got:.4g}, expected {want:.4g} = ||mu_r - mu_f||^2 + "
                "sum((sigma_r - sigma_f)^2).")
        _ok("the closed form for diagonal Gaussians, and sets of different sizes")
        mix = torch.tensor([[1.0, 0.8, 0, 0], [0, 1, -0.6, 0], [0.3, 0, 1, 0.5], [0, 0, 0, 1]])
        real, fake = torch.randn(400, 4) @ mix, torch.randn(300, 4) @ mix.T * 1.5 + 0.2
        got, want = _number(_run(fn, real, fake), fn), frechet_distance(real, fake)
        _expect(math.isfinite(got), f"for correlated features your distance is {got}: a "
                "matrix square root taken element by element meets negative entries; use the "
                "eigenvalues of C_r @ C_f (clamped at 0) for the trace of the root.")
        _expect(_close(got, want, rtol=1e-2), f"for correlated features your distance is "
                f"{got:.4g}, expected {want:.4g}: (C_r C_f)^(1/2) is a matrix square root, "
                "not the root of each entry; its trace is the sum of the square roots of the "
                "eigenvalues of C_r @ C_f.")
        _ok("correlated features: the matrix square root is right")
        back = _number(_run(fn, fake, real), fn)
        _expect(_close(back, got, rtol=1e-3), f"d(real, fake) = {got:.4g} but d(fake, real) = "
                f"{back:.4g}: a distance is symmetric.")
        _ok("symmetric: d(real, fake) = d(fake, real)")
        lowest = min(_number(_run(fn, torch.randn(30, 4), torch.randn(30, 4)), fn)
                     for _ in range(5))
        _expect(lowest >= -1e-6, f"your distance came out negative ({lowest:.3g}): clamp tiny "
                "negative eigenvalues (rounding) to 0 before the square root.")
        _ok("never negative")
    _passed("the Frechet distance between two feature sets.")


# ----------------------------------------------------------------------------------------
# 07: a fair experiment

DESIGN_STEPS: dict[str, tuple[str, bool, str]] = {
    # letter: (the step, is it fair?, why)
    "A": ("Hold out 50 labelled images per class from the training split as a validation set.",
          True, "choices made on a validation set never touch the test set."),
    "B": ("Train the conditional GAN on the whole labelled training set (60,000 images), then "
          "use its samples to help a classifier that has 10 labels per class.",
          False, "the generator saw far more labels than the classifier's budget, so its "
          "samples smuggle in labels the method does not have."),
    "C": ("Try synthetic shares of 25%, 50% and 75% and keep the one with the best test "
          "accuracy.", False, "choosing on the test set makes the test score optimistic; "
          "choose on the validation set."),
    "D": ("Train every method's classifier for the same 2,000 steps with the same batch size.",
          True, "equal compute: a method cannot win by simply training longer."),
    "E": ("Run 5 seeds; report the best seed for the augmented method and the mean for the "
          "baseline.", False, "the best of 5 is biased upwards; report the same statistic "
          "(the mean with its interval) for every method."),
    "F": ("For each seed, give every method the same labelled subset and the same initial "
          "weights, and compare them seed by seed.", True, "this pairs the runs, so their "
          "differences cancel the luck of the subset: a narrower, honest interval."),
}


def check_paired_gain(fn: Callable) -> None:
    """``fn(method_scores, baseline_scores)``: mean per-seed gain and its 95% t-interval."""
    from genaug.stats import mean_ci  # here, not at the top: scipy takes seconds to import

    method = [0.81, 0.78, 0.84, 0.80, 0.83]
    baseline = [0.78, 0.76, 0.80, 0.78, 0.79]
    out = _run(fn, method, baseline)
    _expect(isinstance(out, tuple) and len(out) == 3, f"your {_name(fn)} should return three "
            "numbers: (mean gain, low end, high end).")
    gain, low, high = (_number(v, fn) for v in out)
    diffs = [m - b for m, b in zip(method, baseline)]
    want, want_low, want_high = mean_ci(diffs)
    _expect(not _close(gain, -want), f"your gain is {gain:.4g}, the baseline minus the method: "
            "the gain is method - baseline (positive when the method is better).")
    _expect(_close(gain, want), f"your mean gain is {gain:.4g}, expected {want:.4g}, the mean "
            "of the per-seed differences.")
    _ok(f"mean gain {gain:+.4f}")
    half, want_half = (high - low) / 2, (want_high - want_low) / 2
    sd = math.sqrt(sum((d - want) ** 2 for d in diffs) / 4)
    _expect(_close(low + high, 2 * gain, rtol=1e-3), "the interval is not centred on the mean "
            "gain: mean - half-width to mean + half-width.")
    _expect(not _close(half, 1.96 * sd / math.sqrt(5), rtol=1e-3), "you used the normal "
            "quantile 1.96; with 5 seeds use Student's t with n - 1 = 4 degrees of freedom, "
            "scipy.stats.t.ppf(0.975, 4) = 2.776: the normal interval is too narrow.")
    _expect(not _close(half, want_half * math.sqrt(4 / 5), rtol=1e-3), "your standard "
            "deviation divides by n; the sample standard deviation divides by n - 1.")
    _expect(not _close(half, want_half * math.sqrt(5), rtol=1e-3), "your interval is as wide as "
            "one seed's spread: the standard error of the mean is sd / sqrt(n).")
    _expect(half < 1.5 * want_half, f"your interval (+-{half:.4f}) is much wider than the "
            f"paired one (+-{want_half:.4f}): the seeds pair the runs, so take the differences "
            "seed by seed first, then the t-interval of those differences.")
    _expect(_close(half, want_half, rtol=1e-3), f"your interval is [{low:.4f}, {high:.4f}], "
            f"expected [{want_low:.4f}, {want_high:.4f}] = mean +- t(0.975, n-1) * sd / sqrt(n)"
            " of the per-seed differences.")
    _ok("the 95% interval is the paired t-interval")
    three = _run(fn, [0.5, 0.7, 0.65], [0.45, 0.6, 0.66])
    _expect(all(_close(_number(a, fn), b) for a, b in zip(three, mean_ci([0.05, 0.1, -0.01]))),
            "with 3 seeds your interval differs from the t-interval with 2 degrees of freedom: "
            "compute the t quantile from n, do not hard-code it.")
    _ok("it adapts to the number of seeds")
    _passed("the paired gain with its 95% confidence interval, as genaug.stats computes it.")


def check_unfair_steps(fn: Callable) -> None:
    """``fn()`` returns the set of letters of DESIGN_STEPS that make the comparison unfair."""
    answer = _run(fn)
    _expect(isinstance(answer, (set, frozenset, list, tuple, str)), f"your {_name(fn)} should "
            "return a set of letters, e.g. {'A', 'B'}.")
    chosen = {str(a).strip().upper() for a in answer}
    unknown = chosen - set(DESIGN_STEPS)
    _expect(not unknown, f"there is no step {sorted(unknown)}: the steps are "
            f"{', '.join(DESIGN_STEPS)}.")
    problems = [f"step {k} is unfair: {why}" for k, (_, fair, why) in DESIGN_STEPS.items()
                if not fair and k not in chosen]
    problems += [f"step {k} is fine: {why}" for k, (_, fair, why) in DESIGN_STEPS.items()
                 if fair and k in chosen]
    _expect(not problems, "not quite. " + " ".join(problems))
    for k, (_, fair, why) in DESIGN_STEPS.items():
        _ok(f"{k} {'fair' if fair else 'UNFAIR'}: {why}")
    _passed("you found every leak and no false alarm.")
