"""The experiment's statistics, batch recipes, runner and command line, on tiny settings."""

import dataclasses
import json
import math

import pytest
import torch

from genaug import report
from genaug.__main__ import main
from genaug.augment import config_for
from genaug.data import ImageDataset, load_dataset
from genaug.experiment import (
    BudgetJob,
    ImbalanceJob,
    Recipe,
    arms,
    choose_ratios,
    jobs,
    preset,
    recipe_for,
    run_experiment,
    runner,
    stacked_batches,
    train_generator,
)
from genaug.experiment.jobs import RUNS_CSV, SWEEP_CSV
from genaug.experiment.results_io import read_rows
from genaug.experiment.schedule import BudgetRuns
from genaug.stats import format_table, mean_ci, paired_differences, summarise


def test_mean_ci_matches_student_t():
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    half = 4.302653 * 1.0 / math.sqrt(3)  # t(0.975, 2 df) * sd / sqrt(n)
    assert mean == 2.0
    assert low == pytest.approx(2.0 - half, rel=1e-5)
    assert high == pytest.approx(2.0 + half, rel=1e-5)
    assert all(math.isnan(v) for v in mean_ci([5.0])[1:])  # one seed: no interval
    assert all(math.isnan(v) for v in mean_ci([0.5, 0.9])[1:])  # two seeds: no interval either
    with pytest.raises(ValueError, match="at least one"):
        mean_ci([])


def test_intervals_never_leave_the_metric_range():
    accuracies = [0.99, 1.0, 0.6]
    _, low, high = mean_ci(accuracies, bounds=(0.0, 1.0))
    assert mean_ci(accuracies)[2] > 1.0 and high == 1.0 and 0.0 <= low
    rows = [{"budget": 5, "seed": s, "method": m, "acc": a}
            for s, (x, y) in enumerate(((0.1, 0.95), (0.9, 0.2), (0.1, 0.99)))
            for m, a in (("none", x), ("cvae", y))]
    cvae = next(r for r in summarise(rows, "acc", ("none",)) if r["method"] == "cvae")
    assert -1.0 <= cvae["gain_vs_none_low"] and cvae["gain_vs_none_high"] <= 1.0
    assert 0.0 <= cvae["acc_low"] and cvae["acc_high"] <= 1.0


def _rows():
    """Two methods whose scores vary a lot by seed but differ by exactly 0.02 within a seed."""
    return [{"budget": 10, "seed": s, "method": m,
             "acc": base + s * 0.1 + (0.02 if m == "b" else 0)}
            for s in range(4) for m, base in (("a", 0.5), ("b", 0.5))]


def test_paired_gain_is_exact_and_narrower_than_separate_intervals():
    rows = _rows()
    diffs = paired_differences(rows, "b", "a", "acc", ("budget",))
    assert diffs[(10,)] == pytest.approx([0.02] * 4)
    summary = {r["method"]: r for r in summarise(rows, "acc", baselines=("a",))}
    b = summary["b"]
    assert b["gain_vs_a"] == pytest.approx(0.02)
    assert b["gain_vs_a_high"] - b["gain_vs_a_low"] == pytest.approx(0.0, abs=1e-9)
    assert b["acc_high"] - b["acc_low"] > 0.1  # seed-to-seed spread dominates the raw CI
    assert "gain_vs_a" not in summary["a"]


def test_format_table_prints_percentages_and_dashes():
    text = format_table([{"m": "x", "acc": 0.1234, "ci": math.nan}], ["m", "acc", "ci"],
                        percent=["acc"])
    assert "12.3" in text and "-" in text.splitlines()[-1] and "acc %" in text
    mixed = format_table([{"m": "a", "d": 20.0}, {"m": "b", "d": 0.212}], ["m", "d"])
    assert "20.00" in mixed and "0.21" in mixed  # one column, one number of decimals


def _tiny_data(n_per_class=6, size=8):
    labels = torch.arange(3).repeat_interleave(n_per_class)
    images = torch.rand(len(labels), 1, size, size)
    return ImageDataset(images, labels, ("a", "b", "c"), "digits")


def test_stacked_batches_are_paired_mixed_and_augmented_as_asked():
    data = _tiny_data()
    pool = (torch.zeros(10, 1, 8, 8), torch.full((10,), 2))
    recipes = [Recipe("none", data), Recipe("none", data),
               Recipe("cvae", data, synthetic=pool, ratio=0.25),
               Recipe("classical", data, augment=config_for("digits"))]
    x, y = next(stacked_batches(recipes, 16, seed=0))
    assert x.shape == (4, 16, 1, 8, 8) and y.shape == (4, 16)
    assert torch.equal(x[0], x[1])  # same real images for every recipe over the same data
    assert torch.equal(x[2][:12], x[0][:12]) and (x[2][12:] == 0).all()  # last quarter generated
    assert (y[2][12:] == 2).all()
    assert not torch.equal(x[3], x[0]) and torch.equal(y[3], y[0])  # augmented, same labels


def test_oversampling_weights_balance_the_classes():
    labels = torch.tensor([0] * 90 + [1] * 10)
    data = ImageDataset(torch.rand(100, 1, 8, 8), labels, ("a", "b"), "digits")
    counts = torch.bincount(labels).float()
    recipe = Recipe("oversample", data, weights=1.0 / counts[labels])
    _, y = next(stacked_batches([recipe], 4000, seed=1))
    share = (y == 1).float().mean().item()
    assert 0.45 < share < 0.55, f"minority share {share} should be about one half"


def test_choose_ratios_takes_the_best_mean_validation_accuracy_at_each_budget():
    sweep = [{"budget": b, "method": m, "ratio": r, "val_accuracy": acc}
             for b, m, r, acc in ((10, "cvae", 0.25, 0.5), (10, "cvae", 0.5, 0.7),
                                  (10, "cvae", 0.5, 0.6), (10, "cvae", 0.75, 0.55),
                                  (50, "cvae", 0.1, 0.8), (50, "cvae", 0.5, 0.7),
                                  (50, "cvae@add", 0.5, 0.9), (50, "none", 0.0, 1.0))]
    assert choose_ratios(sweep) == {10: {"cvae": 0.5}, 50: {"cvae": 0.1, "cvae@add": 0.5}}


def _spy_generators(monkeypatch, seen: list) -> None:
    """Replace generator training by a spy that records what data each generator was given."""

    def spy(kind, data, config, seed, path=None, **_):
        seen.append((kind, len(data), sorted(data.class_counts().tolist())))
        return torch.nn.Identity(), False

    def fake_batch(model, n=None, counts=None, seed=0):
        labels = torch.arange(n) % 10 if n is not None else torch.repeat_interleave(
            torch.arange(len(counts)), torch.as_tensor(counts))
        return torch.rand(len(labels), 1, 8, 8), labels

    for module in (jobs, arms):  # the imbalance study's generators, and the grid's arms
        monkeypatch.setattr(module, "train_generator", spy)
        monkeypatch.setattr(module, "labelled_batch", fake_batch)


def test_generators_see_only_the_labelled_budget(monkeypatch, tmp_path):
    seen = []
    _spy_generators(monkeypatch, seen)
    config = preset("digits", budgets=(5,), seeds=1, classifier_steps=5,
                    methods=("none", "cvae", "cgan"), n_synthetic=20)
    rows = BudgetJob(config, 5, 0, tmp_path, {"cvae": 0.5, "cgan": 0.5}).run()
    assert [s[:2] for s in seen] == [("cvae", 50), ("cgan", 50)]  # 5 labelled x 10 classes
    assert [r["method"] for r in rows] == ["none", "cvae", "cgan"]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in rows)


def test_imbalance_job_cuts_the_minority_and_rebalances_with_generated_images(monkeypatch,
                                                                              tmp_path):
    seen = []
    _spy_generators(monkeypatch, seen)
    config = preset("digits", seeds=1, classifier_steps=5, imbalance_per_class=20,
                    imbalance_minority=(0, 3), imbalance_fraction=0.25)
    job = ImbalanceJob(config, 0, tmp_path)
    rows = job.run()
    # the generators saw the imbalanced set only: 8 classes of 20, two cut to 5
    assert seen == [(g, 170, [5, 5] + [20] * 8) for g in ("cvae", "cgan")]
    assert [r["method"] for r in rows] == ["none", "oversample", "classical", "cvae", "cgan"]
    assert all(0.0 <= r["minority_recall"] <= 1.0 for r in rows)
    balanced = job.recipe("cvae", _tiny_imbalanced())
    assert balanced.data.class_counts().tolist() == [9, 9, 9]  # filled up to the largest class


def _tiny_imbalanced() -> ImageDataset:
    labels = torch.tensor([0] * 9 + [1] * 3 + [2] * 1)
    return ImageDataset(torch.rand(len(labels), 1, 8, 8), labels, ("a", "b", "c"), "digits")


def test_run_experiment_writes_results_resumes_and_refuses_another_config(tmp_path):
    config = preset("digits", budgets=(5, 10), seeds=2, classifier_steps=30,
                    methods=("none", "classical"), imbalance=False)
    results = run_experiment(config, tmp_path, workers=1)
    assert len(results.runs) == 2 * 2 * 2
    assert {"config.json", "runs.csv", "summary.csv"} <= {p.name for p in tmp_path.iterdir()}
    assert results.summary[0]["n_seeds"] == 2
    again = run_experiment(config, tmp_path, workers=1)  # everything is in the CSV already
    assert [r["test_accuracy"] for r in again.runs] == [r["test_accuracy"] for r in results.runs]
    with pytest.raises(ValueError, match="another configuration.*seeds"):
        run_experiment(preset("digits", budgets=(5, 10), seeds=3, classifier_steps=30,
                              methods=("none", "classical"), imbalance=False), tmp_path)


def test_unknown_method_and_generator_are_refused():
    with pytest.raises(ValueError, match="Unknown method 'mixup'"):
        recipe_for("mixup", _tiny_data(), {}, {})
    with pytest.raises(ValueError, match="Unknown generator 'flow'"):
        train_generator("flow", load_dataset("digits"), preset("digits"), 0)


def test_cli_experiment_runs_and_prints_the_summary(tmp_path, capsys):
    code = main(["experiment", "--quick", "--dataset", "digits", "--budgets", "5", "--seeds", "2",
                 "--methods", "none", "classical", "--no-imbalance", "--out", str(tmp_path),
                 "--set", "classifier_steps=40", "--set", "gan_width=16"])
    out = capsys.readouterr().out
    assert code == 0
    assert "test acc % [95% CI]" in out and "classical" in out
    assert (tmp_path / "accuracy_vs_budget.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "config.json").read_text())["config"]
    assert saved["classifier_steps"] == 40 and saved["gan_width"] == 16


def test_cli_doctor_and_data(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "data: digits" in out and "Ready." in out
    assert main(["data"]) == 0
    assert "digits: 1438 train / 359 test images of 8x8" in capsys.readouterr().out


def test_cli_reports_bad_input_without_a_traceback(tmp_path, capsys):
    args = ["experiment", "--quick", "--dataset", "digits", "--budgets", "500", "--seeds", "1",
            "--methods", "none", "--no-imbalance", "--out", str(tmp_path)]
    assert main(args) == 2
    assert "budget 500 does not fit digits" in capsys.readouterr().err
    assert main(args[:-2] + ["--set", "budgets=5"]) == 2
    assert "use the option --budgets" in capsys.readouterr().err
    assert main(args[:-2] + ["--set", "classifier_steps=many"]) == 2
    assert "--set classifier_steps needs an int, got 'many'" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["cvae", "cgan", "cdiff"])
def test_every_generator_trains_with_the_recipe_the_config_records(kind, tmp_path):
    config = preset("digits", generator_steps=2, cvae_width=8, gan_width=8, diffusion_width=8)
    data = load_dataset("digits").subset(torch.arange(0, 1000, 20))
    model, diverged = train_generator(kind, data, config, 0, tmp_path / f"{kind}.pt")
    assert (tmp_path / f"{kind}.pt").is_file() and diverged is False
    images = model.sample(4, labels=torch.tensor([0, 1, 2, 3]))
    assert images.shape == (4, 1, 8, 8) and 0 <= images.min() and images.max() <= 1
    again, _ = train_generator(kind, data, config, 0, tmp_path / f"{kind}.pt")  # loads it
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values(), strict=True))


@pytest.mark.parametrize("ratio", [0.25, None])
def test_the_sweep_runs_first_only_when_there_is_a_choice(ratio, monkeypatch, tmp_path):
    config = preset("digits", budgets=(5, 10), seeds=3, methods=("none", "cvae"), ratio=ratio)
    started = []

    def record(jobs, folder, pool, desc, later):
        started.append([(type(j).__name__, getattr(j, "budget", None), getattr(j, "sweep", None))
                        for j in jobs])
        return {RUNS_CSV: []}

    monkeypatch.setattr(runner, "_run_jobs", record)
    runner._run_phases(config, tmp_path, None)
    study = [("ImbalanceJob", None, None)] * 3
    sweep = [("BudgetJob", b, True) for b in (10, 10, 10, 5, 5, 5)]  # the longest first
    assert started == [study + sweep if ratio is None else study]


def test_a_budget_runs_once_its_own_sweep_is_done_with_its_own_choices(tmp_path):
    config = preset("digits", budgets=(5, 10), seeds=3, methods=("none", "cvae"), ratio=None,
                    ratios=(0.1, 0.5), sweep_seeds=2)
    later = BudgetRuns(config, tmp_path)

    def row(budget, seed, ratio, accuracy):
        return {"budget": budget, "seed": seed, "method": "cvae", "ratio": ratio,
                "threshold": "", "classical_recipe": "", "val_accuracy": accuracy}

    sweep = [row(5, 0, 0.1, 0.9), row(5, 0, 0.5, 0.2), row(10, 0, 0.1, 0.2),
             row(10, 0, 0.5, 0.9)]
    assert later.released({SWEEP_CSV: sweep}) == []  # seed 1 of each budget is still running
    sweep += [row(5, 1, 0.1, 0.9), row(5, 1, 0.5, 0.2)]
    small = later.released({SWEEP_CSV: sweep})
    assert [(j.budget, j.seed, j.sweep) for j in small] == [(5, s, False) for s in range(3)]
    assert {j.ratios["cvae"] for j in small} == {0.1}
    assert later.released({SWEEP_CSV: sweep}) == []  # released once
    sweep += [row(10, 1, 0.1, 0.2), row(10, 1, 0.5, 0.9)]
    large = later.released({SWEEP_CSV: sweep})
    assert [(j.budget, j.seed) for j in large] == [(10, s) for s in range(3)]
    assert {j.ratios["cvae"] for j in large} == {0.5}  # its own sweep's choice, not budget 5's
    fixed = BudgetRuns(dataclasses.replace(config, ratio=0.25), tmp_path)  # nothing to choose
    assert [(j.budget, j.seed) for j in fixed.released({})] == [
        (10, 0), (10, 1), (10, 2), (5, 0), (5, 1), (5, 2)]


def test_quick_preset_fixes_the_generated_share_and_the_report_says_so(monkeypatch):
    monkeypatch.setenv("GENAUG_QUICK", "1")
    config = preset("digits")
    assert config.ratio == 0.25 and not runner.needs_sweep(config)
    assert config.mixing == "replace"  # the quick command keeps its grid and its time
    assert report._share_note(config, {5: {"cvae": 0.25}}).startswith(
        ", generated share fixed at 0.25")
    monkeypatch.setenv("GENAUG_QUICK", "0")
    full = preset("digits")
    assert 0.1 in full.ratios and full.ratio is None and full.mixing == "both"


def test_a_config_fingerprint_changes_with_any_setting():
    config = preset("digits")
    assert config.fingerprint() == preset("digits").fingerprint()
    assert len({config.fingerprint(), preset("digits", seeds=4).fingerprint(),
                preset("digits", ratio=None).fingerprint()}) == 3


@pytest.mark.parametrize("methods", [("none", "classical", "cvae", "cgan", "cvae+classical"),
                                     ("none", "cgan", "pseudo-label", "oracle-cgan", "cvae")])
def test_many_arms_share_one_legend_beside_the_panels(methods):
    import matplotlib.pyplot as plt

    from genaug.stats import summarise

    runs = [{"budget": b, "seed": s, "method": m, "test_accuracy": 0.6 + 0.01 * (s + i)}
            for b in (10, 50) for s in range(3) for i, m in enumerate(methods)]
    summary = summarise(runs, "test_accuracy", baselines=("none",))
    fig = report.plot_results(runner.Results(preset("digits"), None, {}, runs, [], [], summary, []))
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[0].get_lines()
              if not line.get_label().startswith("_")}
    mixed = "oracle-cgan" in methods  # styles tell settings apart only where there are several
    assert styles["cgan"] == "-" and styles.get("oracle-cgan", ":") == ":"
    assert (fig.legends[0].get_title().get_text() != "") == mixed
    plt.close(fig)


def test_a_bound_just_off_zero_is_printed_on_its_side_of_zero():
    row = {"budget": 10, "method": "cgan", "n_seeds": 5, "gain_vs_none": -0.006,
           "gain_vs_none_low": -0.012, "gain_vs_none_high": -0.00004}
    line = report.verdict(row, "none")
    assert "-0.6 [-1.2, -0.004] points" in line and "evidence of a loss" in line
    assert report.points(0.0) == "+0.0" and report.points(0.5, signed=False) == "50.0"


def test_two_workers_give_the_rows_one_gives_in_the_same_order(tmp_path):
    """Budget runs start as soon as their own sweep is done, whatever finishes first: the
    choices, rows and their order are those of one job after another."""
    config = preset("digits", budgets=(5, 10), seeds=2, sweep_seeds=1, classifier_steps=20,
                    methods=("none", "classical"), imbalance=False,
                    classical_recipes=("shift+flip", "half-shift+flip"))
    timings = ("generator_seconds", "classifier_seconds")

    def rows(folder):
        return {table: [{k: v for k, v in row.items() if k not in timings}
                        for row in read_rows(folder / table)]
                for table in (RUNS_CSV, SWEEP_CSV)}

    one = run_experiment(config, tmp_path / "one", workers=1)
    two = run_experiment(config, tmp_path / "two", workers=2)
    assert rows(tmp_path / "one") == rows(tmp_path / "two")
    assert two.recipes == one.recipes and len(two.runs) == 2 * 2 * 2
