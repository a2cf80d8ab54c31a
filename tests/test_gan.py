"""The reference GANs: shapes, one training step, EMA, labels that change what G draws and how D
scores, truncation, and failures that name their fix (bad configs, bad labels, wrong image
sizes, NaN data, a discriminator that wins outright)."""

import copy
import dataclasses

import pytest
import torch

from genaug.data import ImageDataset, load_dataset
from genaug.models.gan import GAN, GANConfig
from genaug.synthetic import labelled_batch
from genaug.train import NonFiniteLossError, TrainingDivergedError, fit_gan


@pytest.fixture(scope="module")
def digits() -> ImageDataset:
    return load_dataset("digits", "train")


def small(arch: str = "mlp", size: int = 8, n_classes: int = 0, **changes) -> GAN:
    torch.manual_seed(0)
    return GAN(GANConfig(arch=arch, image_size=size, latent_dim=8, width=8, n_classes=n_classes,
                         **changes))


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("size", [8, 28])
@pytest.mark.parametrize("n_classes", [0, 10])
def test_shapes_and_range(arch, size, n_classes):
    gan = small(arch, size, n_classes)
    labels = torch.arange(6) % 10 if n_classes else None
    images = gan.sample(6, labels=labels)
    assert images.shape == (6, 1, size, size)
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    logits = gan.discriminator(images, labels)
    assert logits.shape == (6,)


def test_one_step_changes_both_networks(digits):
    gan = small("dcgan", n_classes=10)
    before = copy.deepcopy(gan.state_dict())
    fit_gan(gan, digits, 1, batch_size=16, log_every=1)
    after = gan.state_dict()

    def changed(prefix: str) -> list[str]:
        return [k for k in before if k.startswith(prefix) and before[k].is_floating_point()
                and not torch.equal(before[k], after[k])]

    g_weights = [k for k, _ in gan.generator.named_parameters()]
    assert {f"generator.{k}" for k in g_weights} <= set(changed("generator."))
    assert "discriminator.out.weight" in changed("discriminator.")
    assert "discriminator.features.0.weight" in changed("discriminator.")


def test_ema_update_matches_hand_computation():
    gan = small("dcgan", ema_decay=0.9)  # DCGAN: its generator has batch-norm buffers
    with torch.no_grad():
        for p in gan.generator.parameters():
            p.add_(torch.randn_like(p))
        for b in gan.generator.buffers():
            b.add_(1)
    ema_before = [p.clone() for p in gan.generator_ema.parameters()]
    gan.update_ema()
    for old, live, new in zip(ema_before, gan.generator.parameters(),
                              gan.generator_ema.parameters(), strict=True):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * live)
    for live, new in zip(gan.generator.buffers(), gan.generator_ema.buffers(), strict=True):
        assert torch.equal(live, new)
    assert not any(p.requires_grad for p in gan.generator_ema.parameters())


def test_sample_uses_ema_generator():
    gan = small("mlp", ema_decay=0.5)
    with torch.no_grad():
        for p in gan.generator_ema.parameters():
            p.zero_()  # an all-zero generator outputs sigmoid(0) = 0.5 everywhere
    images = gan.sample(4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(images, torch.full_like(images, 0.5))


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_the_label_changes_what_the_generator_draws(arch):
    gan = small(arch, n_classes=10)
    z = gan.noise(6, torch.Generator().manual_seed(0))
    as_zeros, as_ones = gan.sample(z=z, labels=0), gan.sample(z=z, labels=1)
    assert torch.equal(as_zeros, gan.sample(z=z, labels=0))  # the same z and label: same images
    assert (as_zeros - as_ones).abs().amax(dim=(1, 2, 3)).min() > 1e-3  # every image changed


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_the_label_changes_the_discriminators_score(arch):
    gan = small(arch, n_classes=10)
    images = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        scores = torch.stack([gan.discriminator(images, torch.full((6,), c)) for c in range(10)])
    spread = scores.amax(0) - scores.amin(0)  # (6,): how far the label moves each image's score
    assert spread.min() > 1e-2, spread


def label_only_gan() -> GAN:
    """A conditional GAN whose images depend on the label alone: z's weights are zeroed."""
    gan = small("mlp", n_classes=10)
    with torch.no_grad():
        gan.generator.net[0].weight[:, : gan.config.latent_dim] = 0.0
    return gan


def test_labelled_batch_pairs_every_image_with_its_label():
    gan = label_only_gan()
    prototypes = gan.sample(10, labels=torch.arange(10))  # (10, 1, 8, 8): class c's one image
    assert not torch.allclose(prototypes[0], prototypes[1])
    counts = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    images, labels = labelled_batch(gan, counts=counts, seed=0, chunk=7)
    assert images.shape == (45, 1, 8, 8)
    assert torch.bincount(labels, minlength=10).tolist() == counts
    torch.testing.assert_close(images, prototypes[labels])  # each image is its label's class
    _, labels = labelled_batch(gan, n=25)
    assert torch.bincount(labels, minlength=10).tolist() == [3] * 5 + [2] * 5


def test_labelled_batch_repeats_for_a_seed():
    gan = small("mlp", n_classes=10)
    first, first_labels = labelled_batch(gan, n=30, seed=0)
    again, again_labels = labelled_batch(gan, n=30, seed=0)
    assert torch.equal(first, again) and torch.equal(first_labels, again_labels)
    assert not torch.equal(first, labelled_batch(gan, n=30, seed=1)[0])
    assert gan.sample(7, labels=3).shape == (7, 1, 8, 8)


def test_truncation_bounds_noise():
    gan = small()
    z = gan.noise(2000, torch.Generator().manual_seed(0), truncation=0.5)
    assert z.shape == (2000, 8)
    assert float(z.abs().max()) <= 0.5
    assert float(z.std()) > 0.2  # redrawn, not clipped to the edge or zeroed
    with pytest.raises(ValueError, match="truncation must be positive"):
        gan.noise(4, truncation=0.0)


@pytest.mark.parametrize("changes, message", [
    ({"arch": "resnet"}, "arch must be one of"),
    ({"loss": "wasserstein"}, "loss one of"),
    ({"image_size": 10}, "multiple of 4"),
    ({"ema_decay": 1.0}, "ema_decay must be in"),
    ({"loss": "hinge", "label_smoothing": 0.1}, "for loss='bce' only"),
])
def test_bad_config_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        GAN(GANConfig(**{"image_size": 8, **changes}))


def test_config_is_frozen_and_never_shared():
    with pytest.raises(dataclasses.FrozenInstanceError):
        GAN(GANConfig(image_size=8)).config.n_classes = 10
    assert GAN().config.n_classes == 0 and GAN().config is not GANConfig()


def test_bad_labels_are_refused():
    conditional, unconditional = small(n_classes=10), small()
    with pytest.raises(ValueError, match="is conditional .* pass labels"):
        conditional.sample(4)
    with pytest.raises(ValueError, match="is unconditional .* takes no labels"):
        unconditional.sample(4, labels=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"must lie in 0\.\.9, got values from 0 to 10"):
        conditional.sample(3, labels=torch.tensor([0, 5, 10]))
    with pytest.raises(ValueError, match="must be 4 integers"):
        conditional.sample(4, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="needs a conditional model"):
        labelled_batch(unconditional, n=4)


def test_wrong_image_size_names_the_fix():
    gan = small("dcgan", size=8)
    with pytest.raises(ValueError, match=r"shape \(N, 1, 8, 8\), got .*image_size=28"):
        gan.discriminator(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="sample needs n .* or z"):
        gan.sample()


def test_snapshots_show_the_fixed_noise_batch(digits):
    gan = small("dcgan", n_classes=10, ema_decay=0.5)
    history = fit_gan(gan, digits, 4, batch_size=16, snapshot_every=2, n_snapshot=12)
    assert sorted(history.snapshots) == [0, 2, 4]
    z = gan.noise(12, torch.Generator().manual_seed(0 + 2))  # fit_gan's seed + 2
    expected = gan.sample(z=z, labels=torch.arange(12) % 10)
    torch.testing.assert_close(history.snapshots[4], expected)


def test_nan_data_stops_training(digits):
    images = digits.images[:64].clone()
    images[0, 0, 0, 0] = float("nan")
    bad = ImageDataset(images, digits.labels[:64], digits.classes, "digits")
    with pytest.raises(NonFiniteLossError, match="discriminator loss became nan"):
        fit_gan(small(), bad, 10, batch_size=64, log_every=5)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_winning_discriminator_stops_training(digits, smoothing):
    # G cannot move (lr_g=0) and D learns fast: D soon rejects every fake with certainty.
    # With label smoothing D's loss cannot fall below the soft target's entropy (about 0.33),
    # so the check must measure from that floor rather than from 0.
    gan = small(label_smoothing=smoothing)
    with pytest.raises(TrainingDivergedError, match="D rejects every generated image"):
        fit_gan(gan, digits, 400, batch_size=32, lr_g=0.0, lr_d=3e-2, log_every=10,
                divergence_patience=3)
