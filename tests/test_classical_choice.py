"""Classical augmentation's recipe is chosen on validation at each budget, as a generated share
is, and every '+classical' arm uses the recipe chosen for classical at its budget."""

import dataclasses
import json

import pytest
import torch

from genaug.augment import CLASSICAL_RECIPES, DEFAULT_RECIPE, config_for
from genaug.data import load_dataset
from genaug.experiment import (
    BudgetJob,
    arms,
    choose_ratios,
    choose_recipes,
    jobs,
    load_results,
    preset,
    recipe_for,
    run_experiment,
)
from genaug.experiment.choices import chosen_settings, needs_sweep
from genaug.report import settings_note

OLD_FOLDER = "results/fashion_mnist-cpu"  # written before the recipe was chosen


def _row(budget, method, acc, recipe="", ratio=0.0):
    return {"budget": budget, "method": method, "ratio": ratio, "threshold": "",
            "classical_recipe": recipe, "val_accuracy": acc}


def test_validation_takes_the_recipe_with_the_best_mean_score_at_each_budget():
    sweep = [_row(10, "none", 0.9), _row(10, "cgan", 0.4, ratio=0.25),
             _row(10, "classical", 0.7, "shift+flip"), _row(10, "classical", 0.5, "shift+flip"),
             _row(10, "classical", 0.65, "flip"), _row(10, "classical", 0.6, "flip"),
             _row(50, "classical", 0.8, "shift+flip"), _row(50, "classical", 0.7, "flip")]
    assert choose_recipes(sweep) == {10: {"classical": "flip"}, 50: {"classical": "shift+flip"}}
    assert choose_ratios(sweep) == {10: {"cgan": 0.25}, 50: {}}  # classical has no share
    config = preset("fashion_mnist", budgets=(10, 50), methods=("none", "classical"),
                    classical_recipes=("shift+flip", "flip"))
    assert needs_sweep(config) and chosen_settings(config, sweep)[2] == choose_recipes(sweep)
    one = dataclasses.replace(config, classical_recipes=("flip",))
    assert not needs_sweep(one)
    assert chosen_settings(one, [])[2] == {10: {"classical": "flip"}, 50: {"classical": "flip"}}


def test_the_sweep_tries_each_recipe_on_classical_and_the_combinations_use_its_choice(tmp_path):
    config = preset("fashion_mnist", ratio=0.25, classical_recipes=tuple(CLASSICAL_RECIPES),
                    methods=("none", "classical", "cgan", "cgan+classical"))
    sweep = BudgetJob(config, 10, 0, tmp_path, sweep=True).candidates()
    assert [(c.method, c.recipe) for c in sweep] == [
        ("none", None), *(("classical", r) for r in config.classical_recipes)]
    job = BudgetJob(config, 10, 0, tmp_path, {"cgan": 0.25}, recipes={"classical": "flip"})
    assert [(c.method, c.ratio, c.recipe) for c in job.candidates()] == [
        ("none", 0.0, None), ("classical", 0.0, "flip"), ("cgan", 0.25, None),
        ("cgan+classical", 0.25, "flip")]
    data = load_dataset("digits", "train")
    assert recipe_for("cgan+classical", data, {}, {}, classical="half-shift+flip").augment == \
        config_for("digits", 1, "half-shift+flip")
    assert recipe_for("cgan", data, {}, {}).augment is None


def _stub_training(monkeypatch) -> None:
    """Classifiers that score 0.9 minus their recipe's shift (0.5 unaugmented), and generators
    that draw noise: the choice, not the training, is under test."""
    def scores(stack, data):
        acc = [0.5 if r.augment is None else 0.9 - r.augment.translate for r in stack]
        return {"accuracy": acc, "balanced_accuracy": acc}

    def noise(model, n=None, seed=0, **_):
        return torch.rand(n, 1, 8, 8), torch.arange(n) % 10

    monkeypatch.setattr(jobs, "train_stack", lambda recipes, config, seed: list(recipes))
    monkeypatch.setattr(jobs, "score_each", scores)
    monkeypatch.setattr(arms, "train_generator", lambda *a, **k: (torch.nn.Identity(), False))
    monkeypatch.setattr(arms, "labelled_batch", noise)


def test_a_run_records_the_chosen_recipe_and_every_classical_arm_uses_it(monkeypatch, tmp_path):
    _stub_training(monkeypatch)
    config = preset("digits", budgets=(5, 8), seeds=2, ratio=0.25, imbalance=False,
                    methods=("none", "classical", "cvae+classical"), n_synthetic=20,
                    measure_pools=False, classical_recipes=("shift+flip", "half-shift+flip"))
    results = run_experiment(config, tmp_path, workers=1)
    chosen = {5: {"classical": "half-shift+flip"}, 8: {"classical": "half-shift+flip"}}
    assert results.recipes == chosen and load_results(tmp_path)[0].recipes == chosen
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["chosen_recipes"] == {"5": chosen[5], "8": chosen[8]}
    assert saved["config"]["classical_recipes"] == list(config.classical_recipes)
    assert {(r["method"], r["classical_recipe"]) for r in results.runs} == {
        ("none", ""), ("classical", "half-shift+flip"), ("cvae+classical", "half-shift+flip")}
    augmented = [r["test_accuracy"] for r in results.runs if r["method"] != "none"]
    assert augmented == pytest.approx([0.9 - 0.05] * 8)  # each trained with the shift it names
    assert ("classical recipe chosen on validation per budget from shift+flip, half-shift+flip: "
            "5 per class: half-shift+flip, 8 per class: half-shift+flip") in settings_note(results)


def test_a_folder_from_before_the_choice_reads_as_it_did():
    results, meta = load_results(OLD_FOLDER)
    assert results.config.classical_recipes == (DEFAULT_RECIPE,)  # what it ran
    assert "classical_recipes" in meta["settings_not_recorded"]
    assert not any(results.recipes.values()) and "recipe" not in settings_note(results)


def test_full_mode_sweeps_the_recipes_that_move_the_images_and_quick_mode_keeps_one(
        monkeypatch):
    monkeypatch.setenv("GENAUG_QUICK", "1")
    quick = preset("fashion_mnist")
    assert quick.classical_recipes == (DEFAULT_RECIPE,)
    assert quick.fingerprint() != dataclasses.replace(quick, classical_recipes=(
        "flip",)).fingerprint()
    monkeypatch.setenv("GENAUG_QUICK", "0")
    assert preset("fashion_mnist").classical_recipes == tuple(CLASSICAL_RECIPES)
    assert preset("digits").classical_recipes == ("shift+flip", "half-shift+flip")  # no flip


def test_the_sweep_runs_on_the_first_sweep_seeds_and_a_bad_count_is_refused(tmp_path):
    from genaug.experiment import ConfigError, validate
    from genaug.experiment.schedule import sweep_jobs

    config = preset("fashion_mnist", budgets=(10, 50), seeds=5, sweep_seeds=2)
    assert [(j.budget, j.seed) for j in sweep_jobs(config, tmp_path)] == [
        (50, 0), (50, 1), (10, 0), (10, 1)]
    every = dataclasses.replace(config, sweep_seeds=0)
    assert [j.seed for j in sweep_jobs(every, tmp_path)] == [0, 1, 2, 3, 4] * 2
    with pytest.raises(ConfigError, match="sweep_seeds must be .* from 1 to seeds \\(5\\)"):
        validate(dataclasses.replace(config, sweep_seeds=6))


@pytest.mark.parametrize("sweep_seeds, said", [(1, "(choices on validation from seed 0)"),
                                               (2, "(choices on validation from seeds 0-1)"),
                                               (0, "5 seeds, ")])
def test_the_note_names_the_seeds_validation_chose_on(sweep_seeds, said):
    results, _ = load_results(OLD_FOLDER)
    assert results.sweep, "the note speaks of a sweep only where there is one"
    config = dataclasses.replace(results.config, seeds=5, sweep_seeds=sweep_seeds)
    note = settings_note(dataclasses.replace(results, config=config))
    assert said in note and (sweep_seeds or "choices on validation from" not in note)
