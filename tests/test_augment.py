"""Classical on-device augmentation: changes images, keeps shape and range, reproducible by seed."""

import pytest
import torch

from genaug.augment import (
    CLASSICAL_RECIPES,
    DEFAULT_RECIPE,
    AugmentConfig,
    augment,
    config_for,
    random_affine,
    random_erasing,
    random_hflip,
    recipes_for,
)
from genaug.data import load_dataset
from genaug.device import make_generator

NOTHING = AugmentConfig(degrees=0.0, translate=0.0, scale=(1.0, 1.0), hflip=False, erase_p=0.0)


@pytest.fixture(scope="module")
def images():
    """64 digits (8x8) upsampled to 28x28, so the transforms act at Fashion-MNIST's size."""
    small = load_dataset("digits", "train").images[:64]
    return torch.nn.functional.interpolate(small, size=28, mode="bilinear").clamp(0, 1)


def test_augment_changes_images_but_keeps_shape_and_range(images):
    out = augment(images, make_generator(0))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= 0.0 and out.max() <= 1.0
    changed = (out - images).flatten(1).abs().amax(1) > 0.05  # (N,) per image
    assert changed.all(), f"{(~changed).sum()} images were left unchanged"


def test_augment_does_not_modify_its_input(images):
    before = images.clone()
    augment(images, make_generator(0))
    assert torch.equal(images, before)


def test_same_seed_same_output_other_seed_other_output(images):
    first = augment(images, make_generator(7))
    assert torch.equal(first, augment(images, make_generator(7)))
    assert not torch.allclose(first, augment(images, make_generator(8)))


def test_zero_strength_is_the_identity(images):
    out = augment(images, make_generator(0), NOTHING)
    assert torch.allclose(out, images, atol=1e-5)
    assert torch.allclose(random_affine(images, make_generator(0), 0.0, 0.0, (1.0, 1.0)), images,
                          atol=1e-5)


def test_no_flips_for_digits():
    assert config_for("digits").hflip is False and config_for("mnist").hflip is False
    assert config_for("fashion_mnist").hflip is True


def test_the_classical_recipes_differ_only_in_their_shift(images):
    """The default is the recipe the course always trained with; the others shift less, flip
    alike (never a digit), and jitter colour images alike."""
    assert config_for("fashion_mnist") == AugmentConfig(degrees=0.0, scale=(1.0, 1.0),
                                                        hflip=True, erase_p=0.0)
    assert config_for("fashion_mnist", recipe=DEFAULT_RECIPE) == config_for("fashion_mnist")
    for name in CLASSICAL_RECIPES:
        colour, digits = config_for("folder", 3, name), config_for("digits", 1, name)
        assert colour.jitter > 0 and colour.hflip and not digits.hflip and digits.jitter == 0
    shifts = [config_for("cifar10", 3, name).translate for name in CLASSICAL_RECIPES]
    assert shifts == sorted(shifts, reverse=True) and len(set(shifts)) == len(shifts)
    flip = augment(images, make_generator(0), config_for("fashion_mnist", recipe="flip"))
    mirrored = (flip - images.flip(-1)).flatten(1).abs().amax(1) < 1e-5  # (N,)
    kept = (flip - images).flatten(1).abs().amax(1) < 1e-5
    assert (mirrored | kept).all() and mirrored.any() and kept.any()  # flip-only never shifts
    assert "flip" in recipes_for("fashion_mnist") and "flip" not in recipes_for("digits")
    with pytest.raises(ValueError, match="Unknown classical recipe 'blur'; choose from"):
        config_for("digits", recipe="blur")


def test_hflip_mirrors_some_images_and_leaves_the_rest(images):
    out = random_hflip(images, make_generator(0), p=0.5)
    mirrored = (out == images.flip(-1)).flatten(1).all(1)
    kept = (out == images).flatten(1).all(1)
    assert (mirrored | kept).all()
    assert 10 < mirrored.sum() < 54 and 10 < kept.sum() < 54  # about half of 64 either way
    assert torch.equal(random_hflip(images, make_generator(0), p=0.0), images)


def test_random_erasing_blanks_one_rectangle():
    x = torch.ones(32, 1, 28, 28)
    out = random_erasing(x, make_generator(0), p=1.0, area=(0.02, 0.15))
    erased = out[:, 0] == 0  # (N, H, W)
    rows, cols = erased.any(2), erased.any(1)  # (N, H), (N, W)
    rectangle = rows.unsqueeze(2) & cols.unsqueeze(1)  # every erased row meets every erased col
    assert torch.equal(erased, rectangle), "the erased pixels should form one rectangle"
    share = erased.flatten(1).float().mean(1)
    assert (share > 0.005).all() and (share < 0.25).all(), share
    assert torch.equal(out[~erased.unsqueeze(1)], x[~erased.unsqueeze(1)])  # the rest untouched
    assert torch.equal(random_erasing(x, make_generator(0), p=0.0), x)


def test_wrong_number_of_dimensions_is_an_error():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got \(28, 28\)"):
        augment(torch.rand(28, 28), make_generator(0))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got \(1, 28, 28\)"):
        augment(torch.rand(1, 28, 28), make_generator(0))
