"""The exercise self-checks: each passes on a correct solution and names each planted mistake."""

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from scipy import stats as scipy_stats

from genaug import checks
from genaug.augment import random_hflip
from genaug.checks import CheckFailed, NotDoneYet
from genaug.metrics import frechet_distance
from genaug.models.gan import discriminator_loss, generator_loss
from genaug.models.vae import VAE, gaussian_kl
from genaug.stats import mean_ci


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: write it")


def crashes(*args, **kwargs):
    return torch.ones(2, 3) @ torch.ones(2, 3)


# ---------------------------------------------------------------------------- 01 augmentation


def flip_one_coin(x, generator, p=0.5):
    return x.flip(-1) if float(torch.rand(1, generator=generator)) < p else x.clone()


def flip_upside_down(x, generator, p=0.5):
    flip = torch.rand(x.shape[0], generator=generator) < p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-2), x)


def flip_inverted(x, generator, p=0.5):
    flip = torch.rand(x.shape[0], generator=generator) > p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def flip_global_rng(x, generator, p=0.5):
    flip = torch.rand(x.shape[0]) < p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def flip_in_place(x, generator, p=0.5):
    flip = torch.rand(x.shape[0], generator=generator) < p
    x[flip] = x[flip].flip(-1)
    return x


def erase(x, generator, size=3, p=0.5, high_extra=1):
    """A correct square erase (``high_extra=0`` plants the randint off-by-one)."""
    n, _, h, w = x.shape
    top = torch.randint(0, h - size + high_extra, (n, 1, 1), generator=generator)
    left = torch.randint(0, w - size + high_extra, (n, 1, 1), generator=generator)
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    chosen = torch.rand(n, generator=generator) < p
    return x.masked_fill((inside & chosen.view(n, 1, 1)).unsqueeze(1), 0.0)


def erase_one_place(x, generator, size=3, p=0.5):
    n, _, h, w = x.shape
    top, left = (int(torch.randint(0, h - size + 1, (1,), generator=generator)) for _ in "tl")
    out = x.clone()
    chosen = torch.rand(n, generator=generator) < p
    out[chosen, :, top: top + size, left: left + size] = 0
    return out


def test_flip_passes_on_genaug(capsys):
    checks.check_random_flip(random_hflip)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, message", [
    (stub, "not done yet: your stub still raises NotImplementedError"),
    (crashes, "your crashes raised RuntimeError"),
    (flip_one_coin, "one random number per image"),
    (flip_upside_down, "mirrored top to bottom"),
    (flip_inverted, "with p=0 you flipped 100%"),
    (flip_global_rng, "same seed gave different results"),
    (flip_in_place, "changed its input in place"),
])
def test_flip_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_random_flip(fn)


def test_stub_is_not_done_yet_and_not_implemented():
    with pytest.raises(NotImplementedError, match="^not done yet"):
        checks.check_random_flip(stub)
    assert issubclass(NotDoneYet, CheckFailed)


def test_a_function_without_a_name_is_called_your_function():
    with pytest.raises(CheckFailed, match="^your function raised RuntimeError"):
        checks.check_random_flip(functools.partial(crashes))


def test_jupyter_shows_the_message_only():
    error = CheckFailed("your KL is negative")
    assert error._render_traceback_() == ["CheckFailed: your KL is negative"]


def test_square_erase(capsys):
    checks.check_square_erase(erase)
    assert "All checks passed" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="never touched the bottom or right edge"):
        checks.check_square_erase(lambda x, g, size=3, p=0.5: erase(x, g, size, p, high_extra=0))
    with pytest.raises(CheckFailed, match="sit in only 1 place"):
        checks.check_square_erase(erase_one_place)
    with pytest.raises(CheckFailed, match="with p=1 no image was erased"):
        checks.check_square_erase(lambda x, g, size=3, p=0.5: erase(x, g, size, 1 - p))


# ---------------------------------------------------------------------------- 02 VAE


def test_reparameterize(capsys):
    checks.check_reparameterize(VAE.reparameterize)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, message", [
    (lambda mu, lv: mu + torch.exp(lv) * torch.randn_like(mu), "the variance exp\\(logvar\\)"),
    (lambda mu, lv: mu + lv * torch.randn_like(mu), "sigma = exp\\(0.5 \\* logvar\\) is"),
    (lambda mu, lv: mu + torch.exp(0.5 * lv) * torch.rand_like(mu), "mean of your samples"),
    (lambda mu, lv: mu.clone(), "every z equals mu"),
    (lambda mu, lv: torch.normal(mu, torch.exp(0.5 * lv)), "torch.normal"),
    (lambda mu, lv: (mu + torch.exp(0.5 * lv) * torch.randn_like(mu)).detach(), "no gradient"),
])
def test_reparameterize_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_reparameterize(fn)


def test_kl(capsys):
    checks.check_kl(gaussian_kl)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, message", [
    (lambda mu, lv: -gaussian_kl(mu, lv), "your KL term is negative for mu=0, logvar=1"),
    (lambda mu, lv: 2 * gaussian_kl(mu, lv), "factor 1/2"),
    (lambda mu, lv: gaussian_kl(mu, lv) / mu.shape[1], "do not average"),
    (lambda mu, lv: gaussian_kl(mu, lv).sum(), "one number for the whole batch"),
    (lambda mu, lv: -0.5 * (1 + lv - mu ** 2 - lv.exp()), "one value per latent dimension"),
    (lambda mu, lv: -0.5 * torch.sum(lv - mu ** 2 - lv.exp(), 1), "must be 0"),
    (lambda mu, lv: -0.5 * torch.sum(1 + lv - mu - lv.exp(), 1), "for random mu and logvar"),
])
def test_kl_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_kl(fn)


def elbo(logits, x, mu, logvar, beta=1.0, reduction="sum", kl_sign=1.0, use_beta=True):
    """A correct negative ELBO; the keyword arguments plant mistakes."""
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction=reduction)
    recon = recon / x.shape[0] if reduction == "sum" else recon
    return recon + kl_sign * (beta if use_beta else 1.0) * gaussian_kl(mu, logvar).mean()


def test_negative_elbo(capsys):
    checks.check_negative_elbo(elbo)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    (dict(reduction="mean"), "averaged over pixels"),
    (dict(kl_sign=-1.0), "you subtracted the KL"),
    (dict(kl_sign=0.0), "the KL term is missing"),
    (dict(use_beta=False), "multiply the KL by beta"),
])
def test_negative_elbo_mistakes(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_negative_elbo(lambda *args, beta=1.0: elbo(*args, beta=beta, **mistake))
    with pytest.raises(CheckFailed, match="carries no gradient"):
        checks.check_negative_elbo(lambda *args, beta=1.0: elbo(*args, beta=beta).detach())


# ---------------------------------------------------------------------------- 03 CVAE


def class_mix(model, counts, generator, sigmoid=True, shuffle_labels=False, uniform=False):
    """A correct class-mix sampler; the keyword arguments plant mistakes."""
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    draw = torch.rand if uniform else torch.randn
    z = draw(len(labels), model.config.latent_dim, generator=generator)
    logits = model.decode(z, labels)
    if shuffle_labels:
        labels = labels[torch.randperm(len(labels), generator=generator)]
    return (torch.sigmoid(logits) if sigmoid else logits), labels


def test_class_mix(capsys):
    checks.check_class_mix(class_mix)
    checks.check_class_mix(lambda m, counts, g: _via_sample(m, counts, g))
    assert capsys.readouterr().out.count("All checks passed") == 2


def _via_sample(model, counts, generator):
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    return model.sample(len(labels), labels=labels, generator=generator), labels


@pytest.mark.parametrize("fn, message", [
    (lambda m, c, g: class_mix(m, c, g, sigmoid=False), "decode returns logits"),
    (lambda m, c, g: class_mix(m, c, g, shuffle_labels=True), "decoded for another class"),
    (lambda m, c, g: class_mix(m, c, g, uniform=True), "draw them from the prior"),
    (lambda m, c, g: _even_mix(m, sum(c), g), "images per class where counts asked"),
])
def test_class_mix_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_class_mix(fn)


def _even_mix(model, n, generator):
    labels = torch.arange(n) % model.config.n_classes
    z = torch.randn(n, model.config.latent_dim, generator=generator)
    return torch.sigmoid(model.decode(z, labels)), labels


def style_grid(model, n_styles, generator, layout="interleave"):
    """A correct style-by-class grid, one code a row; ``layout`` plants mistakes."""
    k, d = model.config.n_classes, model.config.latent_dim
    z = torch.randn(n_styles, d, generator=generator)
    if layout == "interleave":
        z = z.repeat_interleave(k, 0)
    elif layout == "repeat":
        z = z.repeat(k, 1)
    else:
        z = torch.randn(n_styles * k, d, generator=generator)
    labels = torch.arange(k).repeat(n_styles)
    if layout == "label_interleave":
        labels = torch.arange(k).repeat_interleave(n_styles)
    return torch.sigmoid(model.decode(z, labels))


def test_style_grid(capsys):
    checks.check_style_grid(style_grid)
    assert "All checks passed" in capsys.readouterr().out
    for layout, message in [("repeat", "placed them wrongly"),
                            ("fresh", "decoded from different codes"),
                            ("label_interleave", "image 1 should show class 1")]:
        with pytest.raises(CheckFailed, match=message):
            checks.check_style_grid(functools.partial(style_grid, layout=layout))


# ---------------------------------------------------------------------------- 04 GAN


def test_gan_losses(capsys):
    checks.check_gan_losses(discriminator_loss, generator_loss)
    assert "All checks passed" in capsys.readouterr().out


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


@pytest.mark.parametrize("d_fn, g_fn, message", [
    (lambda r, f: bce(r, 0.0) + bce(f, 1.0), generator_loss, "labels are flipped"),
    (lambda r, f: (bce(r, 1.0) + bce(f, 0.0)) / 2, generator_loss, "do not average them"),
    (lambda r, f: F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r), reduction="sum")
     + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f), reduction="sum"),
     generator_loss, "expected 2 log 2"),
    (discriminator_loss, lambda f: -bce(f, 0.0), "saturating minimax form"),
    (discriminator_loss, lambda f: bce(f, 0.0), "towards target 1"),
    (discriminator_loss, lambda f: bce(torch.sigmoid(f), 1.0), "expected log 2"),
])
def test_gan_loss_mistakes(d_fn, g_fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_gan_losses(d_fn, g_fn)


def train_step(gan, real, z, opt_d, opt_g, detach=True, zero_grad=True, g_first=False,
               detach_g=False):
    """A correct alternating GAN update (as in fit_gan); the keyword arguments plant mistakes."""
    fake = gan.generator(z)

    def update_d():
        scored = fake.detach() if detach else fake
        loss = discriminator_loss(gan.discriminator(real), gan.discriminator(scored))
        if zero_grad:
            opt_d.zero_grad()
        loss.backward(retain_graph=True)
        opt_d.step()
        return loss

    def update_g():
        loss = generator_loss(gan.discriminator(fake.detach() if detach_g else fake))
        if zero_grad:
            opt_g.zero_grad()
        if loss.requires_grad:
            loss.backward()
        opt_g.step()
        return loss

    if g_first:
        loss_g = update_g()
        loss_d = update_d()
    else:
        loss_d = update_d()
        loss_g = update_g()
    return loss_d.item(), loss_g.item()


def test_train_step(capsys):
    checks.check_train_step(train_step)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    (dict(detach=False), "use fake.detach\\(\\)|with fake.detach\\(\\) in D's loss"),
    (dict(zero_grad=False), "left over from before"),
    (dict(g_first=True), "stepped in the order \\['G', 'D'\\]"),
    (dict(detach_g=True), "G did not change"),
])
def test_train_step_mistakes(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_train_step(lambda *args: train_step(*args, **mistake))


# ---------------------------------------------------------------------------- 05 conditioning


def projection(h, labels, linear, embed):
    return linear(h).squeeze(1) + (embed(labels) * h).sum(dim=1)


def test_projection(capsys):
    checks.check_projection(projection)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, message", [
    (lambda h, y, lin, emb: lin(h) + (emb(y) * h).sum(1, keepdim=True), "squeeze"),
    (lambda h, y, lin, emb: lin(h).squeeze(1) + emb(y) @ h.T, "a \\(B, B\\) matrix"),
    (lambda h, y, lin, emb: lin(h).squeeze(1), "ignore the labels"),
    (lambda h, y, lin, emb: (emb(y) * h).sum(1), "unconditional term is missing"),
    (lambda h, y, lin, emb: lin(h).squeeze(1) + (emb(y) * h).mean(1), "expected \\[0.5, 13.5\\]"),
])
def test_projection_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_projection(fn)


def test_one_hot_input(capsys):
    checks.check_one_hot_input(lambda z, y, k: torch.cat([z, F.one_hot(y, k).to(z.dtype)], 1))
    assert "All checks passed" in capsys.readouterr().out
    for fn, message in [
        (lambda z, y, k: torch.cat([z, F.one_hot(y).to(z.dtype)], 1), "without num_classes"),
        (lambda z, y, k: torch.cat([F.one_hot(y, k).to(z.dtype), z], 1), "comes first"),
        (lambda z, y, k: torch.cat([z, F.one_hot(y, k).to(z.dtype)], 0), "raised RuntimeError"),
    ]:
        with pytest.raises(CheckFailed, match=message):
            checks.check_one_hot_input(fn)


# ---------------------------------------------------------------------------- 06 Frechet


def test_feature_stats(capsys):
    checks.check_feature_stats(lambda x: (x.mean(0), torch.cov(x.T)))
    assert "All checks passed" in capsys.readouterr().out
    for fn, message in [
        (lambda x: (x.mean(0), torch.cov(x)), "one row per image"),
        (lambda x: (x.mean(1), torch.cov(x.T)), "dim=0"),
        (lambda x: (x.mean(0), x.T @ x / (len(x) - 1)), "not centred"),
        (lambda x: (x.mean(0), torch.cov(x.T, correction=0)), "divides by N;"),
    ]:
        with pytest.raises(CheckFailed, match=message):
            checks.check_feature_stats(fn)


def frechet_via_eigvals(real, fake, cross=2.0, mean_power=2, elementwise=False):
    """A correct Frechet distance by eigenvalues of C_r C_f; the keyword arguments plant
    mistakes."""
    real, fake = real.double(), fake.double()
    c_r, c_f = torch.cov(real.T), torch.cov(fake.T)
    if elementwise:
        trace_root = (c_r @ c_f).sqrt().trace()
    else:
        trace_root = torch.linalg.eigvals(c_r @ c_f).real.clamp(min=0).sqrt().sum()
    mean_term = (real.mean(0) - fake.mean(0)).pow(2).sum().pow(mean_power / 2)
    return float(mean_term + c_r.trace() + c_f.trace() - cross * trace_root)


def test_frechet(capsys):
    checks.check_frechet(frechet_distance)
    checks.check_frechet(frechet_via_eigvals)
    assert capsys.readouterr().out.count("All checks passed") == 2


@pytest.mark.parametrize("fn, message", [
    (lambda r, f: frechet_via_eigvals(r, f, cross=0.0), "cross term -2 tr"),
    (lambda r, f: frechet_via_eigvals(r, f, cross=1.0), "must be 0"),
    (lambda r, f: frechet_via_eigvals(r - r.mean(0), f - f.mean(0)), "shift of their mean"),
    (lambda r, f: frechet_via_eigvals(r, f, mean_power=1), "the squared distance, 5"),
    (lambda r, f: frechet_via_eigvals(r, f, elementwise=True), "element by element"),
])
def test_frechet_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_frechet(fn)


# ---------------------------------------------------------------------------- 07 experiment


def paired_gain(method, baseline):
    return mean_ci([m - b for m, b in zip(method, baseline, strict=True)])


def gain_with(method, baseline, quantile=None, ddof=1, per_seed=False):
    """A paired gain with planted mistakes: a fixed quantile, ddof=0, a missing sqrt(n)."""
    n = len(method)
    diffs = [m - b for m, b in zip(method, baseline, strict=True)]
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - ddof))
    se = sd if per_seed else sd / math.sqrt(n)
    q = quantile or float(scipy_stats.t.ppf(0.975, n - 1))
    return mean, mean - q * se, mean + q * se


def test_paired_gain(capsys):
    checks.check_paired_gain(paired_gain)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, message", [
    (lambda m, b: paired_gain(b, m), "baseline minus the method"),
    (lambda m, b: gain_with(m, b, quantile=1.96), "normal quantile 1.96"),
    (lambda m, b: gain_with(m, b, ddof=0), "divides by n;"),
    (lambda m, b: gain_with(m, b, per_seed=True), "sd / sqrt\\(n\\)"),
    (lambda m, b: gain_with(m, b, quantile=2.776), "do not hard-code it"),
    (lambda m, b: (mean_ci(m)[0] - mean_ci(b)[0], mean_ci(m)[1] - mean_ci(b)[2],
                   mean_ci(m)[2] - mean_ci(b)[1]), "much wider than the paired one"),
])
def test_paired_gain_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_paired_gain(fn)


def test_unfair_steps(capsys):
    unfair = {k for k, (_, fair, _) in checks.DESIGN_STEPS.items() if not fair}
    assert unfair == {"B", "C", "E"}
    checks.check_unfair_steps(lambda: {"b", "C", "E"})
    assert "All checks passed" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="missing from your set: 1; fair steps in it: 0. "
                       "Start with step B: how many labels"):
        checks.check_unfair_steps(lambda: {"C", "E"})
    with pytest.raises(CheckFailed, match="missing from your set: 0; fair steps in it: 1. "
                       "Start with step F"):
        checks.check_unfair_steps(lambda: {"B", "C", "E", "F"})


def test_a_wrong_design_answer_gives_no_verdicts_away(capsys):
    """One wrong try names one step to look at, and states no step's verdict or reason."""
    with pytest.raises(CheckFailed) as failure:
        checks.check_unfair_steps(lambda: {"A", "D", "F"})
    message = str(failure.value)
    assert "missing from your set: 3; fair steps in it: 3" in message
    assert "step A" in message and "step B" not in message
    assert not any(why in message for _, _, why in checks.DESIGN_STEPS.values())
    assert "UNFAIR" not in message + capsys.readouterr().out
    with pytest.raises(CheckFailed, match="there is no step \\['Z'\\]"):
        checks.check_unfair_steps(lambda: {"Z"})
