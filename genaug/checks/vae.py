"""Checks for exercise 02: the reparameterisation trick, the Gaussian KL and the ELBO;
stretch: the KL to a prior N(0, s^2 I)."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from genaug.checks.common import (
    _close,
    _expect,
    _fmt,
    _number,
    _ok,
    _passed,
    _run,
    _seeded,
    _tensor,
)
from genaug.models.vae import gaussian_kl


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
            recon = float(F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n)
            kl = float(gaussian_kl(mu, logvar).mean())
            per_pixel = float(F.binary_cross_entropy_with_logits(logits, x)) + kl
        loss = _run(fn, logits, x, mu, logvar)
        _expect_elbo_value(_number(loss, fn), recon, kl, per_pixel, n)
        with_beta = _number(_run(fn, logits, x, mu, logvar, beta=4.0), fn)
        _expect(_close(with_beta, recon + 4 * kl), f"with beta=4 your loss is "
                f"{with_beta:.4g}, expected {recon + 4 * kl:.4g}: multiply the KL by beta.")
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


def _expect_elbo_value(value: float, recon: float, kl: float, per_pixel: float, n: int) -> None:
    """The loss is recon + KL per image; each planted slip gets its own message."""
    _expect(not _close(value, per_pixel), "your reconstruction term is averaged over "
            "pixels: sum it over the pixels of an image (reduction='sum'), then divide by "
            "the batch size, as the KL is summed over latent dimensions.")
    _expect(not _close(value, n * (recon + kl)), "your loss is summed over the "
            "batch: divide by the batch size, so that it is a loss per image.")
    _expect(not _close(value, recon - kl), "you subtracted the KL: the negative "
            "ELBO is reconstruction + KL.")
    _expect(not _close(value, recon), "the KL term is missing: add "
            "beta * KL averaged over the batch.")
    _expect(_close(value, recon + kl), f"your negative ELBO is {value:.4g}, expected "
            f"{recon + kl:.4g} = reconstruction {recon:.4g} + KL {kl:.4g}: BCE with logits "
            "summed over pixels / batch size, plus the KL averaged over the batch.")
    _ok("reconstruction (summed over pixels) + KL, averaged over images")


def check_kl_to_prior(fn: Callable) -> None:
    """``fn(mu, logvar, prior_std)``: KL(N(mu, exp(logvar)) || N(0, prior_std^2 I)) per row."""
    with _seeded():
        mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
        kl = _tensor(_run(fn, mu, logvar, 1.0), fn)
        _expect(kl.ndim != 0 and tuple(kl.shape) != (4, 3), f"your KL has shape "
                f"{tuple(kl.shape)}: sum over the latent dimensions (dim=1), one value per row.")
        _tensor(kl, fn, (4,))
        _expect(torch.allclose(kl, gaussian_kl(mu, logvar), rtol=1e-4, atol=1e-5),
                "with prior_std=1 your KL differs from task 2's: N(0, 1^2) is the same prior.")
        _ok("with prior_std = 1 it is task 2's KL, one value per row")
        s = 2.0
        at_prior = float(_run(fn, torch.zeros(1, 3), torch.full((1, 3), 2 * math.log(s)), s)[0])
        got = _tensor(_run(fn, mu, logvar, s), fn, (4,))
        _expect_prior_terms(got, at_prior, mu, logvar, s)
        _ok("0 when the posterior is the prior N(0, s^2), and right for s = 2")
        small = _tensor(_run(fn, mu, logvar, 0.5), fn, (4,))
        _expect(torch.allclose(small, _kl_to(mu, logvar, 0.5), rtol=1e-4, atol=1e-5),
                f"for s = 0.5 your KL is {_fmt(small)}, expected {_fmt(_kl_to(mu, logvar, 0.5))}.")
        _ok("right for a narrower prior too (s = 0.5)")
    _passed("the Gaussian KL to a prior of any width.")


def _kl_to(mu: torch.Tensor, logvar: torch.Tensor, s: float) -> torch.Tensor:
    """The reference: KL(N(mu, exp(logvar)) || N(0, s^2)) summed over dim 1, by torch."""
    posterior = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.full_like(mu, s))
    return torch.distributions.kl_divergence(posterior, prior).sum(1)


def _expect_prior_terms(got: torch.Tensor, at_prior: float, mu: torch.Tensor,
                        logvar: torch.Tensor, s: float) -> None:
    """For s = 2: each term of the closed form, with a message for each planted slip."""
    var, log_s2 = logvar.exp(), 2 * math.log(s)

    def closed(log_term: float, var_scale: float, mu_scale: float) -> torch.Tensor:
        return 0.5 * (log_term - logvar + var / var_scale + mu ** 2 / mu_scale - 1).sum(1)

    slips = {
        closed(0.0, s ** 2, s ** 2): "the log term of the prior is missing: the KL must be "
        "0 when the posterior is the prior, which needs log(s^2) beside -logvar.",
        closed(math.log(s), s ** 2, s ** 2): "your log term uses log s; the closed form has "
        "the log of the variance ratio, log(s^2 / sigma^2).",
        closed(log_s2, s, s): "you divided by the prior's standard deviation s; the closed form "
        "divides by its variance s^2.",
        closed(log_s2, s ** 2, 1.0): "mu^2 is not divided by the prior's variance: a wider "
        "prior must charge less for a mean far from 0.",
    }
    for wrong, message in slips.items():
        _expect(not torch.allclose(got, wrong, rtol=1e-4, atol=1e-5), message)
    _expect(abs(at_prior) < 1e-5, f"for mu = 0 and sigma = s = 2 your KL is {at_prior:.4g}: the "
            "posterior is the prior itself, so it must be 0.")
    want = _kl_to(mu, logvar, s)
    _expect(torch.allclose(got, want, rtol=1e-4, atol=1e-5), f"for s = 2 your KL is "
            f"{_fmt(got)}, expected {_fmt(want)}: write KL(N(mu, sigma^2) || N(0, s^2)) per "
            "dimension from the two densities, then sum over dim=1.")
