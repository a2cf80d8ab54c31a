"""The stretch tasks' self-checks: each passes a correct answer and names each planted mistake."""

import functools
import math

import pytest
import torch
import torch.nn.functional as F

from genaug import checks
from genaug.checks import CheckFailed
from genaug.models.gan import discriminator_loss, generator_loss

# ---------------------------------------------------------------------------- stretch tasks
# One per exercise: each check passes a correct answer and names each planted mistake.


def mixup(x, labels, n_classes, generator, mistake=None):
    """A correct mixup; ``mistake`` plants one."""
    n = x.shape[0]
    partner = torch.randperm(n, generator=generator)
    lam = torch.rand(n, generator=generator)
    if mistake == "one_lam":
        lam = torch.rand(1, generator=generator).expand(n)
    mixed = lam.view(-1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1)) * x[partner]
    one_hot = F.one_hot(labels, n_classes).to(x.dtype)
    if mistake == "hard_labels":
        return mixed, one_hot
    if mistake == "swapped":
        lam = 1 - lam
    if mistake == "two_permutations":
        partner = torch.randperm(n, generator=generator)
    return mixed, lam.view(-1, 1) * one_hot + (1 - lam.view(-1, 1)) * one_hot[partner]


@pytest.mark.parametrize("mistake, message", [
    (None, None),
    ("one_lam", "every image got the same weight"),
    ("hard_labels", "original one-hot labels"),
    ("swapped", "label weights are swapped"),
    ("two_permutations", "same partner and the same weight as its image"),
])
def test_mixup(mistake, message, capsys):
    fn = functools.partial(mixup, mistake=mistake)
    if message is None:
        checks.check_mixup(fn)
        assert "All checks passed" in capsys.readouterr().out
    else:
        with pytest.raises(CheckFailed, match=message):
            checks.check_mixup(fn)


def kl_to(mu, logvar, s, log_term=None, var_scale=None, mu_scale=None):
    """A correct KL to N(0, s^2); the keyword arguments plant mistakes."""
    log_term = 2 * math.log(s) if log_term is None else log_term
    var_scale = s ** 2 if var_scale is None else var_scale
    mu_scale = s ** 2 if mu_scale is None else mu_scale
    return 0.5 * torch.sum(log_term - logvar + logvar.exp() / var_scale + mu ** 2 / mu_scale - 1, 1)


def test_kl_to_prior(capsys):
    checks.check_kl_to_prior(kl_to)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, message", [
    (lambda m, lv, s: kl_to(m, lv, s, log_term=0.0), "log term of the prior is missing"),
    (lambda m, lv, s: kl_to(m, lv, s, log_term=math.log(s)), "uses log s"),
    (lambda m, lv, s: kl_to(m, lv, s, var_scale=s, mu_scale=s), "standard deviation s"),
    (lambda m, lv, s: kl_to(m, lv, s, mu_scale=1.0), "mu\\^2 is not divided"),
    (lambda m, lv, s: kl_to(m, lv, s).mean(), "sum over the latent dimensions"),
])
def test_kl_to_prior_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_kl_to_prior(fn)


def slerp(z0, z1, n_steps, mistake=None):
    """A correct spherical interpolation; ``mistake`` plants one."""
    a = torch.linspace(0, 1, n_steps).unsqueeze(1)
    if mistake == "linear":
        return (1 - a) * z0 + a * z1
    if mistake == "end_missing":
        a = torch.arange(n_steps).unsqueeze(1) / n_steps
    omega = torch.arccos((z0 @ z1 / (z0.norm() * z1.norm())).clamp(-1, 1))
    if omega < 1e-4 and mistake != "no_guard":
        return (1 - a) * z0 + a * z1
    a = a ** 2 if mistake == "uneven" else a
    return (torch.sin((1 - a) * omega) * z0 + torch.sin(a * omega) * z1) / torch.sin(omega)


@pytest.mark.parametrize("mistake, message", [
    (None, None),
    ("linear", "a chord that cuts inside the sphere"),
    ("end_missing", "start at z0 and end at z1"),
    ("uneven", "not evenly spaced"),
    ("no_guard", "holds NaN"),
])
def test_slerp(mistake, message, capsys):
    fn = functools.partial(slerp, mistake=mistake)
    if message is None:
        checks.check_slerp(fn)
        assert "All checks passed" in capsys.readouterr().out
    else:
        with pytest.raises(CheckFailed, match=message):
            checks.check_slerp(fn)


D_HINGE = functools.partial(discriminator_loss, kind="hinge")
G_HINGE = functools.partial(generator_loss, kind="hinge")


def test_hinge_losses(capsys):
    checks.check_hinge_losses(D_HINGE, G_HINGE)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("d_fn, g_fn, message", [
    (lambda r, f: (1 - r).mean() + (1 + f).mean(), G_HINGE, "clip each term at 0"),
    (lambda r, f: F.relu(1 - r).mean() + F.relu(1 - f).mean(), G_HINGE, "expected 0"),
    (lambda r, f: F.relu(1 - r).sum() + F.relu(1 + f).sum(), G_HINGE, "grows with the batch"),
    (D_HINGE, lambda f: F.relu(1 - f).mean(), "G's loss has no margin"),
    (D_HINGE, lambda f: f.mean(), "falls as the logits rise"),
    (D_HINGE, generator_loss, "task 1's non-saturating BCE"),
])
def test_hinge_loss_mistakes(d_fn, g_fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_hinge_losses(d_fn, g_fn)


def truncated(n, d, threshold, generator, mistake=None):
    """Correct truncated noise by redrawing; ``mistake`` plants one."""
    z = torch.randn(n, d, generator=generator)
    if mistake == "clamp":
        return z.clamp(-threshold, threshold)
    if mistake == "uniform":
        return (torch.rand(n, d, generator=generator) * 2 - 1) * threshold
    if mistake == "rescale":
        return z * threshold / z.abs().max()
    rounds = 1 if mistake == "one_redraw" else math.inf
    while (outside := z.abs() > threshold).any() and rounds > 0:
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        rounds -= 1
    return z


@pytest.mark.parametrize("mistake, message", [
    (None, None),
    ("clamp", "sit exactly on the threshold"),
    ("uniform", "as for a uniform draw"),
    ("rescale", "rather than rescaling the draw"),
    ("one_redraw", "keep drawing until none is left"),
])
def test_truncated_noise(mistake, message, capsys):
    fn = functools.partial(truncated, mistake=mistake)
    if message is None:
        checks.check_truncated_noise(fn)
        assert "All checks passed" in capsys.readouterr().out
    else:
        with pytest.raises(CheckFailed, match=message):
            checks.check_truncated_noise(fn)


def noise_floor(features, distance, generator, repeats=5, mistake=None):
    """A correct noise floor by random halves; ``mistake`` plants one."""
    n, floor = len(features), []
    for _ in range(repeats):
        order = torch.arange(n) if mistake == "in_order" else torch.randperm(n, generator=generator)
        first, second = order[: n // 2], order[n // 2: 2 * (n // 2)]
        if mistake == "overlap":
            second = torch.randperm(n, generator=generator)[: n // 2]
        if mistake == "half_vs_all":
            second = torch.arange(n)
        floor.append(distance(features[first], features[second]))
    return sum(floor) / repeats if mistake == "mean_only" else floor


@pytest.mark.parametrize("mistake, message", [
    (None, None),
    ("in_order", "the first rows in order"),
    ("overlap", "rows are in both halves"),
    ("half_vs_all", "compare two halves"),
    ("mean_only", "return a list with one distance per repeat"),
])
def test_noise_floor(mistake, message, capsys):
    fn = functools.partial(noise_floor, mistake=mistake)
    if message is None:
        checks.check_noise_floor(fn)
        assert "All checks passed" in capsys.readouterr().out
    else:
        with pytest.raises(CheckFailed, match=message):
            checks.check_noise_floor(fn)


def test_noise_floor_needs_fresh_splits():
    fixed = torch.randperm(60, generator=torch.Generator().manual_seed(0))

    def same_split(features, distance, generator, repeats=5):
        return [distance(features[fixed[:30]], features[fixed[30:]]) for _ in range(repeats)]

    with pytest.raises(CheckFailed, match="every repeat used the same split"):
        checks.check_noise_floor(same_split)


def holm(p_values, mistake=None):
    """Correct Holm-adjusted p-values; ``mistake`` plants one."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, largest = [0.0] * m, 0.0
    for k, i in enumerate(order):
        factor = {"bonferroni": m, "reversed": k + 1}.get(mistake, m - k)
        value = factor * p_values[i] if mistake == "no_cap" else min(1.0, factor * p_values[i])
        largest = value if mistake == "not_monotone" else max(largest, value)
        adjusted[i] = largest
    return sorted(adjusted) if mistake == "sorted" else adjusted


@pytest.mark.parametrize("mistake, message", [
    (None, None),
    ("bonferroni", "that is Bonferroni"),
    ("reversed", "multipliers run the wrong way"),
    ("not_monotone", "carry the largest value so far forward"),
    ("sorted", "not in the order of the comparisons"),
    ("no_cap", "cap each at 1"),
])
def test_holm(mistake, message, capsys):
    fn = functools.partial(holm, mistake=mistake)
    if message is None:
        checks.check_holm(fn)
        assert "All checks passed" in capsys.readouterr().out
    else:
        with pytest.raises(CheckFailed, match=message):
            checks.check_holm(fn)


def cosine_path(x, noise, t, mistake=None):
    """A correct cosine path with its velocity; ``mistake`` plants one."""
    angle = math.pi / 2 * t
    angle = angle if mistake == "no_view" else angle.view(-1, 1, 1, 1)
    x_t = torch.cos(angle) * x + torch.sin(angle) * noise
    if mistake == "straight":
        x_t = (1 - t.view(-1, 1, 1, 1)) * x + t.view(-1, 1, 1, 1) * noise
    velocity = math.pi / 2 * (torch.cos(angle) * noise - torch.sin(angle) * x)
    if mistake == "no_chain_rule":
        velocity = velocity * 2 / math.pi
    if mistake == "straight_target":
        velocity = noise - x
    return x_t, -velocity if mistake == "wrong_way" else velocity


@pytest.mark.parametrize("mistake, message", [
    (None, None),
    ("no_view", "shape that scales whole images"),
    ("straight", "straight line of task 1"),
    ("no_chain_rule", "factor pi / 2"),
    ("straight_target", "the speed of the straight line"),
    ("wrong_way", "points the wrong way"),
])
def test_cosine_path(mistake, message, capsys):
    fn = functools.partial(cosine_path, mistake=mistake)
    if message is None:
        checks.check_cosine_path(fn)
        assert "All checks passed" in capsys.readouterr().out
    else:
        with pytest.raises(CheckFailed, match=message):
            checks.check_cosine_path(fn)
