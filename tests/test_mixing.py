"""What each arm's classifier trains on: generated images mixed in by replace (today's) or add,
and for how many steps.

In add mode every arm must see exactly the real images the `none` arm sees, in the same order
and number; replace mode must stay bit for bit what it was.
"""

import hashlib
import json

import pytest
import torch

from genaug.augment import config_for
from genaug.data import ImageDataset
from genaug.experiment import Recipe, preset, run_experiment, stacked_batches, stacks
from genaug.experiment.stacks import generated_count
from genaug.experiment.validation import ConfigError, validate
from genaug.models.stacked import copy_models


def _data() -> ImageDataset:
    """18 images whose pixels are their index (>= 0): a real image is recognisable anywhere."""
    labels = torch.arange(3).repeat_interleave(6)
    images = torch.arange(len(labels) * 64, dtype=torch.float32).view(-1, 1, 8, 8) / 1000
    return ImageDataset(images, labels, ("a", "b", "c"), "digits")


def _pool() -> tuple[torch.Tensor, torch.Tensor]:
    """10 generated images with negative pixels: never mistaken for a real one."""
    return -1 - torch.arange(10 * 64, dtype=torch.float32).view(10, 1, 8, 8), torch.arange(10) % 3


def test_replace_mode_draws_the_same_batches_as_before_add_mode_existed():
    """The SHA-256 of three steps' batches, recorded with the code before add mode was written."""
    data = _data()
    pool = (-torch.arange(10 * 64, dtype=torch.float32).view(10, 1, 8, 8), torch.arange(10) % 3)
    weights = torch.tensor([1.0] * 6 + [2.0] * 6 + [3.0] * 6)
    recipes = [Recipe("none", data), Recipe("cvae", data, synthetic=pool, ratio=0.25),
               Recipe("cgan", data, synthetic=pool, ratio=0.5), Recipe("o", data, weights=weights)]
    batches = stacked_batches(recipes, 16, seed=3)
    digest = hashlib.sha256()
    for _ in range(3):
        x, y = next(batches)
        digest.update(x.numpy().tobytes())
        digest.update(y.numpy().tobytes())
    assert digest.hexdigest() == "caee30800eaacd7746db971fa1146ea6428b41e38b2220002e428e49e2098abb"


def test_the_share_is_of_the_combined_batch_in_both_modes():
    assert generated_count(0.25, 64, "replace") == 16  # 48 real + 16 generated
    assert generated_count(0.25, 64, "add") == 21  # 64 real + 21 generated: 21 / 85 = 0.247
    assert generated_count(0.5, 64, "add") == 64 and generated_count(0.1, 64, "add") == 7
    with pytest.raises(ValueError, match="Unknown mixing 'blend'"):
        generated_count(0.25, 64, "blend")


def _spy_on_training(monkeypatch, steps: int) -> list:
    """Replace the classifier's training by a spy that keeps ``steps`` batches of each stack."""
    seen = []

    def spy(stack, batches, n_steps, seed, desc):
        seen.append([next(batches) for _ in range(steps)])

    monkeypatch.setattr(stacks, "fit_classifier", spy)
    return seen


def test_in_add_mode_every_arm_sees_the_real_images_of_none_in_the_same_steps(monkeypatch):
    data, pool, steps, real = _data(), _pool(), 6, 12
    config = preset("digits", batch_size=real, classifier_width=4)
    recipes = [Recipe("none", data), Recipe("classical", data, augment=config_for("digits")),
               Recipe("cvae@add", data, synthetic=pool, ratio=0.25, mixing="add"),
               Recipe("cgan@add", data, synthetic=pool, ratio=0.5, mixing="add"),
               Recipe("cgan@add", data, synthetic=pool, ratio=0.25, mixing="add")]
    seen = _spy_on_training(monkeypatch, steps)
    stacks.train_stack(recipes, config, seed=1)
    # one stack per batch size: 12 (none, classical), 16 (the two at 0.25), 24 (0.5, alone:
    # a stack of one takes no model axis)
    assert [tuple(s[0][0].shape[:2]) for s in seen] == [(2, 12), (2, 16), (24, 1)]
    none_x = [x[0] for x, _ in seen[0]]  # (B, C, H, W) per step
    none_y = [y[0] for _, y in seen[0]]
    for stack_steps, ratio in ((seen[1], 0.25), (seen[2], 0.5)):
        for step, (x, y) in enumerate(stack_steps):
            x, y = (x, y) if x.ndim == 5 else (x[None], y[None])
            for model in range(len(x)):
                assert torch.equal(x[model][:real], none_x[step])  # same images, same order
                assert torch.equal(y[model][:real], none_y[step])
                added = x[model][real:]
                assert len(added) == round(ratio * real / (1 - ratio)) and (added < 0).all()
    assert all((x[0] >= 0).all() for x in none_x)  # none never sees a generated image


def test_replace_mode_trains_one_stack_and_gives_up_real_images(monkeypatch):
    data, pool, real = _data(), _pool(), 12
    config = preset("digits", batch_size=real, classifier_width=4)
    seen = _spy_on_training(monkeypatch, 2)
    stacks.train_stack([Recipe("none", data), Recipe("cvae", data, synthetic=pool, ratio=0.25)],
                       config, seed=1)
    assert len(seen) == 1  # every recipe comes to the same batch size: one stack, as before
    x, _ = seen[0][0]
    assert torch.equal(x[1][:9], x[0][:9]) and (x[1][9:] < 0).all()  # 3 real images given up


def test_separate_stacks_start_from_the_same_weights_and_rejoin_in_order(monkeypatch):
    data, pool = _data(), _pool()
    config = preset("digits", batch_size=12, classifier_width=4)
    _spy_on_training(monkeypatch, 1)  # no training: every model must still hold the start
    recipes = [Recipe("cvae@add", data, synthetic=pool, ratio=0.5, mixing="add"),
               Recipe("none", data), Recipe("cgan@add", data, synthetic=pool, ratio=0.25,
                                            mixing="add")]
    stack = stacks.train_stack(recipes, config, seed=2)
    assert stack.config.n_models == 3
    for tensor in list(stack.parameters()) + list(stack.buffers()):
        if tensor.ndim > 0:
            slices = tensor.unflatten(0, (3, -1))
            assert torch.equal(slices[1], slices[0]) and torch.equal(slices[2], slices[0])


def test_copy_models_moves_one_model_between_stacks():
    from genaug.models.classifier import ClassifierConfig, SmallCNN

    source = SmallCNN(ClassifierConfig(n_classes=3, width=4, n_models=3))
    target = SmallCNN(ClassifierConfig(n_classes=3, width=4, n_models=2))
    copy_models(source, 3, target, 2, [(2, 0)])
    x = torch.rand(5, 1, 8, 8)
    source.eval(), target.eval()
    with torch.no_grad():
        assert torch.allclose(source(x.expand(3, -1, -1, -1, -1))[0][2],
                              target(x.expand(2, -1, -1, -1, -1))[0][0])


def test_add_mode_needs_a_share_below_one_and_a_known_mode():
    with pytest.raises(ConfigError, match="ratio=1 in add mode"):
        validate(preset("digits", mixing="add", ratio=1.0))
    with pytest.raises(ConfigError, match="mixing must be one of replace, add, both"):
        validate(preset("digits", mixing="blend"))
    validate(preset("digits", mixing="replace", ratio=1.0))  # replace may use every place


def test_a_run_in_both_modes_records_each_row_s_mode(tmp_path):
    config = preset("digits", budgets=(5,), seeds=1, classifier_steps=3, generator_steps=2,
                    methods=("none", "cvae"), mixing="both", ratio=0.25, imbalance=False,
                    cvae_width=4, n_synthetic=20, measure_pools=False)
    results = run_experiment(config, tmp_path, workers=1)
    assert [(r["method"], r["mixing"]) for r in results.runs] == [
        ("none", ""), ("cvae", "replace"), ("cvae@add", "add")]
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["config"]["mixing"] == "both"
    assert saved["chosen_ratios"] == {"5": {"cvae": 0.25, "cvae@add": 0.25}}
    header = (tmp_path / "runs.csv").read_text().splitlines()[0].split(",")
    assert "mixing" in header and "classifier_steps" in header


def test_the_steps_rule_gives_larger_budgets_more_steps_and_every_method_the_same():
    config = preset("digits", classifier_steps=400, batch_size=64, classifier_epochs=100.0)
    assert config.classifier_steps_for(100) == 400  # 10 per class: the floor is more
    assert config.classifier_steps_for(500) == 782  # 50 per class: 100 passes of 500 images
    assert preset("digits", classifier_steps=400).classifier_steps_for(5000) == 400  # rule off
    with pytest.raises(ConfigError, match="classifier_epochs must be a number of passes"):
        validate(preset("digits", classifier_epochs=-1.0))


def test_the_command_line_sweeps_the_shares_it_is_given_at_every_budget(tmp_path):
    from genaug.__main__ import main

    code = main(["experiment", "--quick", "--dataset", "digits", "--budgets", "5", "8",
                 "--seeds", "1", "--methods", "none", "cvae", "--no-imbalance", "--workers", "1",
                 "--ratios", "0.1", "0.25", "--out", str(tmp_path), "--set", "mixing=add",
                 "--set", "classifier_steps=3", "--set", "generator_steps=2",
                 "--set", "n_synthetic=20", "--set", "cvae_width=4"])
    assert code == 0
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["config"]["ratio"] is None and saved["config"]["ratios"] == [0.1, 0.25]
    assert set(saved["chosen_ratios"]) == {"5", "8"}  # a choice at each budget
    sweep = (tmp_path / "ratio_sweep.csv").read_text()
    assert ",cvae@add,labelled,add,0.1," in sweep and ",cvae@add,labelled,add,0.25," in sweep
