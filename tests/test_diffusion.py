"""The diffusion model: shapes, the noising path, learning, guidance, input errors, checkpoints,
its training loop, and the exercise-08 checks against the mistakes they name."""

import pytest
import torch
import torch.nn.functional as F

from genaug import checks
from genaug.bookkeeping import NonFiniteLossError
from genaug.checkpoint import CheckpointMismatchError, cached, load_model, save_model
from genaug.checks import CheckFailed
from genaug.data import ImageDataset
from genaug.models.diffusion import Diffusion, DiffusionConfig, add_noise, velocity_target
from genaug.synthetic import labelled_batch
from genaug.train_diffusion import fit_diffusion

TINY = dict(width=8, sample_steps=4)  # a few milliseconds a step on one CPU thread
DARK, LIGHT = 0.2, 0.8  # the two classes of the toy distribution


def toy_data(n: int = 64) -> ImageDataset:
    """Two classes of constant 8x8 images: every image of class 0 is 0.2, of class 1 is 0.8."""
    labels = torch.arange(n) % 2
    images = torch.where(labels.view(-1, 1, 1, 1) == 0, DARK, LIGHT).expand(n, 1, 8, 8)
    return ImageDataset(images.clone(), labels, ("dark", "light"), "toy")


@pytest.fixture(scope="module")
def toy_model() -> Diffusion:
    """A denoiser trained on the toy distribution for 200 steps (a few seconds)."""
    torch.manual_seed(0)
    model = Diffusion(DiffusionConfig(image_size=8, n_classes=2, width=8, label_dropout=0.2))
    fit_diffusion(model, toy_data(), 200, batch_size=32, lr=1e-2, seed=0)
    return model


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [8, 28, 32])
def test_shapes(size, channels):
    model = Diffusion(DiffusionConfig(image_size=size, channels=channels, n_classes=3, **TINY))
    x = torch.rand(5, channels, size, size)
    labels = torch.tensor([0, 1, 2, 0, 1])
    assert model(x, torch.rand(5), labels).shape == x.shape
    terms = model.loss(x, labels)
    assert set(terms) == {"loss"} and terms["loss"].ndim == 0
    terms["loss"].backward()
    samples = model.sample(6, labels=2, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (6, channels, size, size)
    assert 0.0 <= float(samples.min()) and float(samples.max()) <= 1.0


def test_unconditional_model_takes_no_labels():
    model = Diffusion(DiffusionConfig(image_size=8, **TINY))
    assert model.sample(3).shape == (3, 1, 8, 8)
    assert model.loss(torch.rand(2, 1, 8, 8))["loss"].ndim == 0


def test_noising_path_runs_from_the_data_to_the_noise():
    x, noise = torch.rand(3, 1, 4, 4) * 2 - 1, torch.randn(3, 1, 4, 4)
    assert torch.equal(add_noise(x, noise, torch.zeros(3)), x)  # t = 0: the data
    assert torch.equal(add_noise(x, noise, torch.ones(3)), noise)  # t = 1: pure noise
    assert torch.allclose(add_noise(x, noise, torch.full((3,), 0.5)), (x + noise) / 2)
    t = torch.tensor([0.0, 0.3, 1.0])  # each image its own t
    assert torch.allclose(add_noise(x, noise, t)[1], 0.7 * x[1] + 0.3 * noise[1])
    # the target is the path's velocity: its finite difference in t
    h, start = 1e-3, t.clamp(max=0.99)
    step = (add_noise(x, noise, start + h) - add_noise(x, noise, start)) / h
    assert torch.allclose(step, velocity_target(x, noise), atol=1e-3)


def test_loss_is_mse_against_the_velocity_with_given_noise_and_time():
    torch.manual_seed(0)
    model = Diffusion(DiffusionConfig(image_size=8, n_classes=2, **TINY)).eval()
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 1, 0])
    noise, t = torch.randn(4, 1, 8, 8), torch.rand(4)
    scaled = 2 * x - 1
    by_hand = F.mse_loss(model(add_noise(scaled, noise, t), t, y), noise - scaled)
    assert torch.allclose(model.loss(x, y, noise=noise, t=t)["loss"], by_hand)


def test_label_dropout_uses_the_null_class_in_training_only():
    model = Diffusion(DiffusionConfig(image_size=8, n_classes=2, label_dropout=0.5, **TINY))
    seen = []
    model.denoiser.register_forward_hook(lambda m, args, out: seen.append(args[2].clone()))
    torch.manual_seed(0)
    model.loss(torch.rand(200, 1, 8, 8), torch.zeros(200, dtype=torch.long))
    dropped = float((seen[-1] == model.null_class).float().mean())
    assert 0.35 < dropped < 0.65, f"{dropped:.0%} of labels became the null class, not ~50%"
    model.eval()
    model.loss(torch.rand(20, 1, 8, 8), torch.zeros(20, dtype=torch.long))
    assert (seen[-1] == 0).all(), "in eval mode no label may be dropped"


def test_denoiser_learns_two_constant_classes(toy_model):
    labels = torch.arange(100) % 2
    target = torch.where(labels == 0, DARK, LIGHT)
    samples = toy_model.sample(100, labels, generator=torch.Generator().manual_seed(0),
                               guidance=1.0, steps=10)
    error = (samples.mean(dim=(1, 2, 3)) - target).abs()  # (100,): each image's mean vs its class
    assert float(error.max()) < 0.3, "some samples are nearer the other class's constant"
    assert float(error.mean()) < 0.1, f"samples are {float(error.mean()):.3f} off their constant"


def test_guidance_moves_samples_towards_their_class(toy_model):
    labels = torch.arange(100) % 2
    target = torch.where(labels == 0, DARK, LIGHT)

    def error(guidance: float) -> float:
        samples = toy_model.sample(100, labels, generator=torch.Generator().manual_seed(1),
                                   guidance=guidance, steps=10)
        return float((samples.mean(dim=(1, 2, 3)) - target).abs().mean())

    unconditional, plain, guided = error(0.0), error(1.0), error(3.0)
    assert unconditional > 0.2, "without guidance (w = 0) half the samples should miss"
    assert guided < plain < unconditional, (unconditional, plain, guided)


def test_sample_is_reproducible_and_feeds_labelled_batch(toy_model):
    a = toy_model.sample(4, labels=1, generator=torch.Generator().manual_seed(3))
    b = toy_model.sample(4, labels=1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    images, labels = labelled_batch(toy_model, counts=[3, 5])
    assert images.shape == (8, 1, 8, 8) and torch.bincount(labels).tolist() == [3, 5]


@pytest.mark.parametrize("call, words", [
    (lambda m: m.loss(torch.rand(2, 1, 28, 28), torch.tensor([0, 1])), "image_size=28"),
    (lambda m: m.loss(torch.rand(1, 8, 8), torch.tensor([0])), "x.unsqueeze"),
    (lambda m: m.loss(torch.rand(2, 1, 8, 8), torch.tensor([0, 2])), r"labels must lie in 0\.\.1"),
    (lambda m: m.loss(torch.rand(2, 1, 8, 8)), "pass labels"),
    (lambda m: m.loss(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]), t=torch.rand(3)),
     "one time per image"),
    (lambda m: m.sample(3, labels=torch.tensor([0, 5, 1])), r"labels must lie in 0\.\.1"),
    (lambda m: m.sample(0, labels=0), "positive whole number"),
    (lambda m: m.sample(2, labels=0, steps=0), "steps must be a whole number >= 1"),
    (lambda m: m.sample(2, labels=0, guidance=-1.0), "guidance must be a finite number >= 0"),
])
def test_bad_input_is_named(call, words):
    model = Diffusion(DiffusionConfig(image_size=8, n_classes=2, **TINY))
    with pytest.raises(ValueError, match=words):
        call(model)


@pytest.mark.parametrize("changes, words", [
    ({"image_size": 30}, "multiple of 4"),
    ({"label_dropout": 1.0}, "label_dropout must be in"),
    ({"width": 4}, "width >= 8"),
    ({"sample_steps": 0}, "steps must be"),
])
def test_bad_config_is_named(changes, words):
    with pytest.raises(ValueError, match=words):
        Diffusion(DiffusionConfig(**{**TINY, **changes}))


def test_checkpoint_round_trip_and_cached(tmp_path, toy_model):
    path = save_model(toy_model, tmp_path / "diffusion.pt")
    torch.manual_seed(5)
    copy = Diffusion(toy_model.config)
    load_model(copy, path)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(copy.sample(4, labels=1, generator=gen()),
                       toy_model.sample(4, labels=1, generator=gen()))
    with pytest.raises(CheckpointMismatchError, match="width"):
        load_model(Diffusion(DiffusionConfig(image_size=8, n_classes=2, width=16)), path)
    train = lambda m: fit_diffusion(m, toy_data(), 3, batch_size=8)  # noqa: E731
    first = cached("toy", Diffusion(DiffusionConfig(image_size=8, n_classes=2, **TINY)), train,
                   folder=tmp_path)
    again = cached("toy", Diffusion(DiffusionConfig(image_size=8, n_classes=2, **TINY)),
                   lambda m: pytest.fail("a cached model must not be trained again"),
                   folder=tmp_path)
    assert again["loss"] == first["loss"]


def test_fit_diffusion_resumes_from_its_checkpoint(tmp_path, capsys):
    path = tmp_path / "run.pt"
    config = DiffusionConfig(image_size=8, n_classes=2, **TINY)
    history = fit_diffusion(Diffusion(config), toy_data(), 6, batch_size=8, log_every=2,
                            checkpoint=path, checkpoint_every=2)
    assert history.steps["loss"] == [2, 4, 6]
    resumed = fit_diffusion(Diffusion(config), toy_data(), 8, batch_size=8, log_every=2,
                            checkpoint=path, checkpoint_every=2)
    assert "Resumed from" in capsys.readouterr().out
    assert resumed.steps["loss"] == [2, 4, 6, 8]


def test_fit_diffusion_stops_on_a_nan():
    data = toy_data()
    data.images[0, 0, 0, 0] = float("nan")
    model = Diffusion(DiffusionConfig(image_size=8, n_classes=2, **TINY))
    with pytest.raises(NonFiniteLossError, match="diffusion loss"):
        fit_diffusion(model, data, 4, batch_size=64, log_every=2)


# ---------------------------------------------------------------- exercise 08: the checks


def noise_ok(x, noise, t):
    t = t.view(-1, 1, 1, 1)
    return (1 - t) * x + t * noise


def loss_ok(model, x, labels, noise, t, target=None, scale=True, reduction="mean", noiser=None):
    """A correct flow-matching loss; the keywords plant one mistake each."""
    x = 2 * x - 1 if scale else x
    x_t = (noiser or noise_ok)(x, noise, t)
    v = model(x_t, t, labels)
    return F.mse_loss(v, noise - x if target is None else target(x, noise), reduction=reduction)


def test_add_noise_check_passes_on_genaug(capsys):
    checks.check_add_noise(add_noise)
    checks.check_add_noise(noise_ok)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (lambda x, n, t: (1 - t.view(-1, 1, 1, 1)) * n + t.view(-1, 1, 1, 1) * x, "swapped places"),
    (lambda x, n, t: (1 - t.view(-1, 1, 1, 1)).sqrt() * x + t.view(-1, 1, 1, 1).sqrt() * n,
     "variance-preserving"),
    (lambda x, n, t: (1 - t) * x + t * n, "reshape it to"),
    (lambda x, n, t: x.mul_(1 - t.view(-1, 1, 1, 1)).add_(t.view(-1, 1, 1, 1) * n), "in place"),
    (lambda x, n, t: x + t.view(-1, 1, 1, 1) * n, "at t = 1 x_t should be pure noise"),
])
def test_add_noise_check_names_each_mistake(fn, words):
    with pytest.raises(CheckFailed, match=words):
        checks.check_add_noise(fn)


def test_flow_matching_loss_check_passes(capsys):
    checks.check_flow_matching_loss(loss_ok)
    assert "All checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (lambda m, x, y, n, t: loss_ok(m, x, y, n, t, target=lambda x, n: x - n), "wrong way"),
    (lambda m, x, y, n, t: loss_ok(m, x, y, n, t, target=lambda x, n: n), "DDPM's target"),
    (lambda m, x, y, n, t: loss_ok(m, x, y, n, t, target=lambda x, n: x), "clean image"),
    (lambda m, x, y, n, t: loss_ok(m, x, y, n, t, scale=False), "rescale them to"),
    (lambda m, x, y, n, t: loss_ok(m, x, y, n, t, target=lambda s, n: n - (s + 1) / 2),
     "target uses the image in"),
    (lambda m, x, y, n, t: loss_ok(m, x, y, n, t, reduction="sum"), "summed"),
    (lambda m, x, y, n, t: loss_ok(m, x, None, n, t), "pass the labels"),
    (lambda m, x, y, n, t: loss_ok(m, x, y, n, t).item(), "no gradient"),
    (lambda m, x, y, n, t: F.mse_loss(n - (2 * x - 1), n - (2 * x - 1)), "never calls"),
    (lambda m, x, y, n, t: loss_ok(m, x, y, n, t, noiser=lambda x, n, t: x + n),
     "not given x_t"),
    (lambda m, x, y, n, t: loss_ok(m, x, y, n, t, reduction="none"), "one number"),
])
def test_flow_matching_loss_check_names_each_mistake(fn, words):
    with pytest.raises(CheckFailed, match=words):
        checks.check_flow_matching_loss(fn)
