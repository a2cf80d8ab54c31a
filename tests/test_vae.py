"""The reference VAE: shapes, the KL formula, learning, labels, input errors, training helpers."""

import dataclasses
import math

import pytest
import torch

from genaug.data import load_dataset
from genaug.models.vae import VAE, VAEConfig, gaussian_kl, interpolate
from genaug.synthetic import labelled_batch
from genaug.train import NonFiniteLossError, evaluate_vae, fit_vae

TINY = dict(width=8, hidden=32, latent_dim=4)  # small enough for a few hundred CPU steps a second


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits: always available, no download."""
    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.mark.parametrize("size", [8, 28])
@pytest.mark.parametrize("n_classes", [0, 10])
def test_shapes(size, n_classes):
    vae = VAE(VAEConfig(image_size=size, n_classes=n_classes, **TINY))
    x = torch.rand(5, 1, size, size)
    labels = torch.arange(5) if n_classes else None
    logits, mu, logvar = vae(x, labels)
    assert logits.shape == (5, 1, size, size)
    assert mu.shape == logvar.shape == (5, TINY["latent_dim"])
    terms = vae.loss(x, labels)
    assert set(terms) == {"loss", "recon", "kl"} and terms["loss"].ndim == 0
    samples = vae.sample(7, labels=3 if n_classes else None)
    assert samples.shape == (7, 1, size, size)
    assert 0.0 <= float(samples.min()) and float(samples.max()) <= 1.0
    assert vae.reconstruct(x, labels).shape == x.shape


def test_gaussian_kl_matches_monte_carlo():
    """The closed form equals the average of log q(z) - log p(z) over many z drawn from q."""
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=gen)
    logvar = torch.randn(4, 3, generator=gen) * 0.5
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    z = q.sample((200_000,))  # (S, 4, 3)
    log_ratio = q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)
    estimate = log_ratio.sum(-1).mean(0)  # (4,)
    stderr = log_ratio.sum(-1).std(0) / math.sqrt(z.shape[0])
    exact = gaussian_kl(mu, logvar)
    assert exact.shape == (4,)
    assert torch.all((exact - estimate).abs() < 4 * stderr + 1e-3), (exact, estimate, stderr)
    assert torch.allclose(gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))


def test_loss_falls_on_a_small_batch(digits):
    train, _ = digits
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=8, **TINY))
    x = train.images[:64]
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)

    def loss() -> float:
        torch.manual_seed(1)  # the same reparameterisation noise for both measurements
        with torch.no_grad():
            return float(vae.loss(x)["loss"])

    before = loss()
    for _ in range(40):
        vae.loss(x)["loss"].backward()
        optimizer.step()
        optimizer.zero_grad()
    after = loss()
    assert after < 0.75 * before, f"loss only fell from {before:.1f} to {after:.1f} in 40 steps"


def test_conditional_sample_respects_labels():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=8, n_classes=3, **TINY))
    labels = torch.tensor([0, 2, 1, 2])
    a = vae.sample(4, labels=labels, generator=torch.Generator().manual_seed(5))
    b = vae.sample(4, labels=labels, generator=torch.Generator().manual_seed(5))
    c = vae.sample(4, labels=(labels + 1) % 3, generator=torch.Generator().manual_seed(5))
    assert a.shape == (4, 1, 8, 8)
    assert torch.equal(a, b), "the same noise and labels must give the same images"
    assert not torch.allclose(a, c), "the same noise with other labels must give other images"


def test_labelled_batch_counts_and_spread():
    vae = VAE(VAEConfig(image_size=8, n_classes=4, **TINY))
    counts = [3, 0, 5, 1]
    images, labels = labelled_batch(vae, counts=counts, seed=2)
    assert images.shape == (9, 1, 8, 8) and labels.shape == (9,)
    assert labels.dtype == torch.int64
    assert torch.bincount(labels, minlength=4).tolist() == counts
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    again, _ = labelled_batch(vae, counts=counts, seed=2)
    assert torch.equal(images, again), "the same seed must give the same batch"
    _, even = labelled_batch(vae, n=10)
    assert torch.bincount(even, minlength=4).tolist() == [3, 3, 2, 2]
    with pytest.raises(ValueError, match="exactly one of n"):
        labelled_batch(vae, n=4, counts=counts)
    with pytest.raises(ValueError, match="conditional model"):
        labelled_batch(VAE(VAEConfig(image_size=8, **TINY)), n=4)


def test_bad_inputs_name_the_fix():
    plain = VAE(VAEConfig(image_size=8, **TINY))
    conditional = VAE(VAEConfig(image_size=8, n_classes=10, **TINY))
    with pytest.raises(ValueError, match=r"image_size=28"):
        plain.loss(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"batch axis"):
        plain.encode(torch.rand(1, 8, 8))
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.9, got values from 0 to 10"):
        conditional.loss(torch.rand(2, 1, 8, 8), torch.tensor([0, 10]))
    with pytest.raises(ValueError, match=r"conditional \(n_classes=10\): pass labels"):
        conditional.sample(3)
    with pytest.raises(ValueError, match=r"unconditional \(n_classes=0\) and takes no labels"):
        plain.loss(torch.rand(2, 1, 8, 8), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"multiple of 4"):
        VAE(VAEConfig(image_size=10))


def test_config_is_frozen_and_never_shared():
    with pytest.raises(dataclasses.FrozenInstanceError):
        VAE().config.beta = 4.0  # once changed the default of every later VAE()
    assert VAE().config.beta == 1.0
    changed = VAE(dataclasses.replace(VAEConfig(), beta=4.0, **TINY))
    assert changed.config.beta == 4.0 and VAEConfig().beta == 1.0


def test_fit_vae_stops_on_nan(digits):
    train, _ = digits
    images = train.images[:64].clone()
    images[3, 0, 2, 2] = float("nan")
    bad = type(train)(images, train.labels[:64], train.classes, train.name)
    with pytest.raises(NonFiniteLossError, match="VAE loss became nan"):
        fit_vae(VAE(VAEConfig(image_size=8, **TINY)), bad, steps=5, batch_size=64, log_every=5)


def test_training_improves_the_test_elbo(digits):
    train, test = digits
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=8, **TINY))
    before = evaluate_vae(vae, test)
    history = fit_vae(vae, train, steps=150, batch_size=64, log_every=50)
    after = evaluate_vae(vae, test)
    assert set(after) == {"loss", "recon", "kl"}
    assert after["loss"] == pytest.approx(after["recon"] + after["kl"])
    assert after["loss"] < before["loss"] - 10, (
        f"test -ELBO only went from {before['loss']:.1f} to {after['loss']:.1f}")
    assert history.steps["loss"] == [50, 100, 150]


def test_interpolate_runs_between_the_two_reconstructions(digits):
    _, test = digits
    vae = VAE(VAEConfig(image_size=8, n_classes=10, **TINY))
    x_a, x_b = test.images[0], test.images[1]
    strip = interpolate(vae, x_a, x_b, steps=6, labels=4)
    assert strip.shape == (6, 1, 8, 8)
    ends = vae.reconstruct(torch.stack([x_a, x_b]), torch.tensor([4, 4]))
    assert torch.allclose(strip[[0, -1]], ends, atol=1e-6)
    with pytest.raises(ValueError, match="one image each"):
        interpolate(vae, test.images[:2], x_b, labels=4)
