"""The experiment's arms: each sees only the images and labels its setting allows.

The central test poisons every training label outside the budget and rebuilds each arm's pool:
an arm of the "labelled" or "labelled + unlabelled" setting must give bit-for-bit the same pool,
since it may not read those labels; the oracle arm, which may, must change (so the test can
see a leak when there is one).
"""

import dataclasses

import pytest
import torch

from genaug.data import ImageDataset, load_dataset, stratified_indices
from genaug.experiment import (
    SOURCES,
    BudgetJob,
    ConfigError,
    Pool,
    PoolMaker,
    arm_data,
    choose_ratios,
    choose_thresholds,
    parse_method,
    preset,
    recipe_for,
    validate,
    with_filtered,
)
from genaug.experiment.choices import chosen_settings, needs_sweep
from genaug.experiment.quality import make_judge, pool_quality
from genaug.models.gan import GAN, GANConfig
from genaug.models.transfer import conditional_from_unconditional
from genaug.models.vae import VAE, VAEConfig
from genaug.synthetic import latent_variations

TINY = dict(generator_steps=4, classifier_steps=4, classifier_width=4, n_synthetic=40,
            n_unlabelled=120, cvae_width=8, gan_width=8, val_per_class=5)


def _pools(train: ImageDataset, sources, folder, budget_idx, val_idx) -> dict[str, Pool]:
    config = preset("digits", **TINY)
    maker = PoolMaker(config, folder, 3, 0, arm_data(train, val_idx, budget_idx, config, 0))
    return {s: maker.pool(s) for s in sources}


def _same(a: Pool, b: Pool) -> bool:
    return torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_no_fair_arm_reads_a_label_outside_the_budget(tmp_path):
    train = load_dataset("digits", "train")
    val_idx = stratified_indices(train.labels, 5, 99)
    budget_idx = stratified_indices(train.labels, 3, 0, exclude=val_idx)
    poisoned_labels = (train.labels + 1) % train.n_classes  # every label wrong...
    poisoned_labels[budget_idx] = train.labels[budget_idx]  # ...except the budget's
    poisoned = ImageDataset(train.images, poisoned_labels, train.classes, train.name)
    fair = ("cvae", "filtered-cgan", "latent-vae", "finetuned-cvae", "finetuned-cgan",
            "pseudo-label")
    clean = _pools(train, fair + ("oracle-cvae",), tmp_path / "clean", budget_idx, val_idx)
    dirty = _pools(poisoned, fair + ("oracle-cvae",), tmp_path / "dirty", budget_idx, val_idx)
    for source in fair:
        assert _same(clean[source], dirty[source]), f"{source} read a label outside the budget"
    assert not _same(clean["oracle-cvae"], dirty["oracle-cvae"]), "the oracle sees every label"


def test_latent_variations_keep_the_labels_of_the_budget():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=8, n_classes=0, width=4))
    images, labels = torch.rand(12, 1, 8, 8), torch.tensor([3, 7] * 6)
    out, out_labels = latent_variations(vae, images, labels, 50, interpolation=1.0, seed=1)
    assert out.shape == (50, 1, 8, 8) and set(out_labels.tolist()) <= {3, 7}
    with pytest.raises(ValueError, match="unconditional"):
        latent_variations(VAE(VAEConfig(image_size=8, n_classes=10, width=4)), images, labels, 5)


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_a_conditional_twin_starts_as_its_unconditional_model(kind):
    torch.manual_seed(0)
    if kind == "vae":
        config = VAEConfig(image_size=8, n_classes=10, width=4)
        plain, twin = VAE(dataclasses.replace(config, n_classes=0)), VAE(config)
        conditional_from_unconditional(twin, plain)
        z = torch.randn(5, config.latent_dim)
        assert torch.equal(plain.decode(z), twin.decode(z, torch.arange(5)))
    else:
        config = GANConfig(image_size=8, n_classes=10, width=8)
        plain, twin = GAN(dataclasses.replace(config, n_classes=0)), GAN(config)
        conditional_from_unconditional(twin, plain)
        x = torch.rand(5, 1, 8, 8)
        plain.eval(), twin.eval()
        assert torch.allclose(plain.discriminator(x), twin.discriminator(x, torch.arange(5)))


def test_twins_must_match_apart_from_the_label():
    wide = VAE(VAEConfig(image_size=8, n_classes=0, width=8))
    with pytest.raises(ValueError, match="not an unconditional layer"):
        conditional_from_unconditional(VAE(VAEConfig(image_size=8, n_classes=10, width=4)), wide)


def test_a_threshold_filters_the_pool_and_an_empty_pool_means_real_images_only():
    pool = Pool(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3]),
                torch.tensor([0.2, 0.6, 0.95, 0.99]))
    assert pool.kept(0.9).labels.tolist() == [2, 3]
    assert len(pool.kept(None).labels) == 4
    data = load_dataset("digits", "train")
    recipe = recipe_for("filtered-cgan", data, {"filtered-cgan": pool}, {"filtered-cgan": 0.5},
                        {"filtered-cgan": 0.999})
    assert recipe.synthetic is None


def test_validation_chooses_a_ratio_and_threshold_pair_per_arm():
    sweep = [{"budget": 10, "method": "pseudo-label", "ratio": r, "threshold": t,
              "val_accuracy": acc}
             for r, t, acc in [(0.25, 0.5, 0.6), (0.25, 0.9, 0.8), (0.5, 0.9, 0.7)]]
    sweep.append({"budget": 10, "method": "cgan", "ratio": 0.5, "threshold": "",
                  "val_accuracy": 0.5})
    assert choose_ratios(sweep) == {10: {"pseudo-label": 0.25, "cgan": 0.5}}
    assert choose_thresholds(sweep) == {10: {"pseudo-label": 0.9}}


def test_methods_name_their_setting():
    assert parse_method("cgan+classical").setting == "labelled"
    assert parse_method("latent-vae").setting == "labelled + unlabelled"
    assert parse_method("oracle-cgan").setting == "reference"
    assert parse_method("none").source is None
    assert all(parse_method(s).source == s for s in SOURCES)
    add = parse_method("cgan+classical@add")
    assert (add.source, add.classical, add.mixing) == ("cgan", True, "add")
    assert parse_method("cgan").mixing == "replace"
    for wrong in ("none@add", "cgan@blend", "cgan@replace"):  # replace is the plain name
        with pytest.raises(ValueError, match="mixing mode"):
            parse_method(wrong)
    assert with_filtered(("none", "cvae", "cgan+classical")) == (
        "none", "cvae", "cgan+classical", "filtered-cvae")


@pytest.mark.parametrize("setting, value", [("thresholds", (1.5,)), ("thresholds", ()),
                                            ("n_unlabelled", 0), ("latent_interpolation", 2.0),
                                            ("latent_temperature", -1.0)])
def test_bad_arm_settings_are_refused(setting, value):
    with pytest.raises(ConfigError, match=setting):
        validate(dataclasses.replace(preset("digits"), **{setting: value}))


def test_pool_quality_tells_real_images_from_noise():
    test = load_dataset("digits", "test")
    judge = make_judge(preset("digits"), test)
    real = pool_quality(test.images, test.labels, judge)
    noise = pool_quality(torch.rand_like(test.images), test.labels, judge)
    assert real["pool_class_accuracy"] > 0.8 and real["pool_precision"] > 0.5
    assert noise["pool_class_accuracy"] < 0.4 and noise["pool_frechet"] > real["pool_frechet"]


def test_a_sweep_holds_only_arms_with_a_choice_to_make(tmp_path):
    fixed = preset("digits", ratio=0.25, methods=("none", "cvae", "pseudo-label"))
    rows = BudgetJob(fixed, 10, 0, tmp_path, sweep=True).candidates()
    assert [(c.method, c.threshold) for c in rows] == [
        ("none", None), ("pseudo-label", 0.5), ("pseudo-label", 0.9)]
    assert needs_sweep(fixed)
    assert not needs_sweep(dataclasses.replace(fixed, methods=("none", "cvae")))
    both = BudgetJob(dataclasses.replace(fixed, mixing="both"), 10, 0, tmp_path, sweep=True)
    assert [(c.method, c.threshold) for c in both.candidates()][3:] == [
        ("pseudo-label@add", 0.5), ("pseudo-label@add", 0.9)]


def test_an_arm_with_one_candidate_keeps_it_without_a_sweep():
    one = preset("digits", ratio=0.25, thresholds=(0.9,), methods=("none", "filtered-cgan"))
    assert not needs_sweep(one)
    per_budget = {b: ({"filtered-cgan": 0.25}, {"filtered-cgan": 0.9}) for b in one.budgets}
    ratios, thresholds, recipes = chosen_settings(one, [])
    assert {b: (ratios[b], thresholds[b]) for b in one.budgets} == per_budget
    assert all(not r for r in recipes.values())  # no method augments: no recipe to choose
    both = dataclasses.replace(one, mixing="both")  # each mixing mode is an arm of its own
    assert chosen_settings(both, [])[0][one.budgets[0]] == {"filtered-cgan": 0.25,
                                                           "filtered-cgan@add": 0.25}
