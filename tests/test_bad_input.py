"""Bad input never yields a wrong result: every case below exits 2 with one line naming the fix,
and leaves nothing behind; the valid edge cases beside them run."""

import csv
import json

import pytest

from genaug import experiment
from genaug.__main__ import main
from genaug.experiment import ConfigError, preset, read_rows, run_experiment

RUN = ["experiment", "--quick", "--dataset", "digits"]

# (case id, extra arguments after RUN, environment, words the one-line error must hold)
CLI_CASES = [
    ("negative budget", ["--budgets", "-5"], {}, "must be at least 1"),
    ("zero budget", ["--budgets", "0"], {}, "must be at least 1"),
    ("repeated budget", ["--budgets", "5", "5"], {}, "budgets repeats 5"),
    ("budget too big", ["--budgets", "500"], {}, "budget 500 does not fit digits"),
    ("budget not a number", ["--budgets", "x"], {}, "'x' is not a whole number"),
    ("zero seeds", ["--seeds", "0"], {}, "must be at least 1"),
    ("negative seeds", ["--seeds", "-1"], {}, "must be at least 1"),
    ("repeated method", ["--methods", "none", "none", "classical"], {}, "methods repeats none"),
    ("unknown method", ["--methods", "mixup"], {}, "Unknown method mixup"),
    ("ratio above 1", ["--ratio", "2"], {}, "ratio must be a share of the batch in (0, 1]"),
    ("negative ratio", ["--ratio", "-1"], {}, "ratio must be a share of the batch in (0, 1]"),
    ("zero ratio", ["--ratio", "0"], {}, "ratio must be a share of the batch in (0, 1]"),
    ("nan ratio", ["--ratio", "nan"], {}, "nan is not a finite number"),
    ("tiny ratio", ["--ratio", "0.001"], {}, "brings in no generated image"),
    ("zero classifier steps", ["--set", "classifier_steps=0"], {},
     "classifier_steps must be a positive whole number"),
    ("negative classifier steps", ["--set", "classifier_steps=-5"], {},
     "classifier_steps must be a positive whole number"),
    ("negative generator steps", ["--set", "generator_steps=-1"], {},
     "generator_steps must be a positive whole number"),
    ("negative imbalance share", ["--set", "imbalance_fraction=-1"], {},
     "imbalance_fraction must be a share in (0, 1]"),
    ("imbalance share above 1", ["--set", "imbalance_fraction=1.5"], {},
     "imbalance_fraction must be a share in (0, 1]"),
    ("imbalance maybe", ["--set", "imbalance=maybe"], {}, "--set imbalance needs true or false"),
    ("zero batch size", ["--set", "batch_size=0"], {}, "batch_size must be a positive"),
    ("zero synthetic images", ["--set", "n_synthetic=0"], {}, "n_synthetic must be a positive"),
    ("zero validation images", ["--set", "val_per_class=0"], {}, "val_per_class must be a"),
    ("validation too big", ["--set", "val_per_class=1000"], {}, "leaves no training image"),
    ("seeds twice", ["--seeds", "1", "--set", "seeds=1"], {}, "use the option --seeds"),
    ("budgets by --set", ["--set", "budgets=5"], {}, "use the option --budgets"),
    ("ratio by --set", ["--set", "ratio=0.5"], {}, "use the option --ratio"),
    ("mode by --set", ["--set", "mode=full"], {}, "use the option --quick"),
    ("unknown setting", ["--set", "nosuch=1"], {}, "--set takes NAME=VALUE with NAME one of"),
    ("setting without value", ["--set", "classifier_steps"], {}, "--set takes NAME=VALUE"),
    ("setting not a number", ["--set", "classifier_steps=many"], {},
     "--set classifier_steps needs an int, got 'many'"),
    ("setting given twice", ["--set", "batch_size=8", "--set", "batch_size=9"], {},
     "batch_size is set twice"),
    ("unknown gan loss", ["--set", "gan_loss=wasserstein"], {}, "gan_loss must be one of"),
    ("ema decay of 1", ["--set", "gan_ema_decay=1"], {}, "gan_ema_decay must be in [0, 1)"),
    ("zero learning rate", ["--set", "cvae_lr=0"], {}, "cvae_lr must be a positive number"),
    ("nan learning rate", ["--set", "gan_lr_d=nan"], {}, "gan_lr_d must be a positive number"),
    ("zero majority images", ["--set", "imbalance_per_class=0"], {},
     "imbalance_per_class must be a positive"),
    ("zero workers", ["--workers", "0"], {}, "must be at least 1"),
    ("negative workers", ["--workers", "-2"], {}, "must be at least 1"),
    ("unknown dataset", ["--dataset", "cifar"], {}, "invalid choice: 'cifar'"),
    ("quick perhaps", [], {"GENAUG_QUICK": "perhaps"}, "GENAUG_QUICK='perhaps' is not understood"),
    ("download maybe", [], {"GENAUG_DOWNLOAD": "maybe"}, "GENAUG_DOWNLOAD='maybe' is not"),
    ("progress loud", [], {"GENAUG_PROGRESS": "loud"}, "GENAUG_PROGRESS='loud' is not"),
    ("verify maybe", [], {"GENAUG_VERIFY_DATA": "maybe"}, "GENAUG_VERIFY_DATA='maybe' is not"),
    ("filter without a generator", ["--methods", "none", "classical", "--filter"], {},
     "--filter adds a filtered twin of each generator arm (cvae, cgan, cdiff), but the methods"),
    ("abbreviated option", ["--no-imb"], {}, "unrecognized arguments: --no-imb"),
    ("unknown classical recipe", ["--set", "classical_recipes=shift+flip,blur"], {},
     "Unknown classical_recipe blur; choose from shift+flip, half-shift+flip, flip."),
    ("flip alone on digits", ["--set", "classical_recipes=flip"], {},
     "classical recipe flip leaves the images of digits as they are"),
    ("minority not numbers", ["--set", "imbalance_minority=0,b"], {},
     "--set imbalance_minority needs whole numbers separated by commas, got 'b'"),
    ("minority outside the classes", ["--set", "imbalance_minority=0,12"], {},
     "imbalance_minority must name classes 0..9, got [0, 12]; name them with --set"),
]


def _exit_code(argv: list[str]) -> int:
    """main's exit code, whether it returned it or argparse exited with it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def _one_line_error(capsys, code: int, words: str) -> None:
    err = capsys.readouterr().err.strip()
    assert code == 2, f"exit code {code}, stderr: {err}"
    assert words in err, err
    assert "\n" not in err and "Traceback" not in err, err


@pytest.mark.parametrize("args, env, words", [c[1:] for c in CLI_CASES],
                         ids=[c[0] for c in CLI_CASES])
def test_bad_command_line_input_gives_one_line_and_writes_nothing(
        args, env, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default --out lies here: nothing may appear
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run = [a for a in RUN if a != "--quick"] if "GENAUG_QUICK" in env else RUN
    budget = [] if "--budgets" in args else ["--budgets", "5"]
    code = _exit_code(run + budget + args + ["--out", str(tmp_path / "out")])
    _one_line_error(capsys, code, words)
    assert list(tmp_path.iterdir()) == [], "a rejected run must leave nothing behind"


def test_out_naming_a_file_a_path_under_a_file_or_a_read_only_place(tmp_path, capsys):
    a_file = tmp_path / "results.txt"
    a_file.write_text("mine")
    for out, words in ((a_file, "is a file"), (a_file / "sub", "lies under the file"),
                       ("/proc/genaug-results", "cannot be written")):
        code = _exit_code(RUN + ["--budgets", "5", "--out", str(out)])
        _one_line_error(capsys, code, words)
    assert [p.name for p in tmp_path.iterdir()] == ["results.txt"]
    assert a_file.read_text() == "mine"


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_cache_variable_naming_a_file_is_named_in_the_error(where, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "cache"
    a_file.write_text("")
    monkeypatch.setenv("GENAUG_CACHE", str(a_file if where == "a file" else a_file / "x"))
    code = _exit_code(RUN + ["--budgets", "5", "--out", str(tmp_path / "out")])
    _one_line_error(capsys, code, "GENAUG_CACHE=")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, words", [
    (["benchmark", "--data", "x"], "unrecognized arguments: --data x"),  # not --dataset x
    (["data", "--image", "32"], "unrecognized arguments: --image 32"),  # not --image-size 32
    (["experiment", "--quick", "--dataset", "digits", "--work", "1"], "unrecognized arguments"),
], ids=["benchmark --data", "data --image", "experiment --work"])
def test_abbreviated_options_are_refused_in_every_subcommand(argv, words, tmp_path, monkeypatch,
                                                             capsys):
    monkeypatch.chdir(tmp_path)
    _one_line_error(capsys, _exit_code(argv), words)
    assert list(tmp_path.iterdir()) == []


def test_doctor_refuses_a_verify_flag_it_does_not_understand(monkeypatch, capsys):
    monkeypatch.setenv("GENAUG_VERIFY_DATA", "maybe")
    _one_line_error(capsys, _exit_code(["doctor"]), "GENAUG_VERIFY_DATA='maybe' is not")


@pytest.mark.parametrize("args, words", [(["--repeats", "0"], "must be at least 1"),
                                         (["--steps", "-1"], "must be at least 1"),
                                         (["--workers", "-1"], "must be at least 0")])
def test_benchmark_refuses_counts_below_their_minimum(args, words, capsys):
    _one_line_error(capsys, _exit_code(["benchmark", "--dataset", "digits"] + args), words)


@pytest.mark.parametrize("overrides, words", [
    ({"seeds": 0}, "seeds must be a positive whole number"),
    ({"budgets": ()}, "budgets is empty"),
    ({"methods": ("none", "none")}, "methods repeats none"),
    ({"ratios": (0.25, 1.5)}, "each of ratios must be a share"),
    ({"imbalance": "maybe"}, "imbalance must be True or False"),
    ({"imbalance_minority": (0, 12)}, "imbalance_minority must name classes 0..9"),
    ({"classifier_steps": 2.5}, "classifier_steps must be a positive whole number"),
    ({"seeds": True}, "seeds must be a positive whole number"),
])
def test_python_api_validates_before_writing(overrides, words, tmp_path):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(".", r"\.")):
        run_experiment(preset("digits", **overrides), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_setting_in_preset_is_named():
    with pytest.raises(ValueError, match="Unknown experiment setting.*classifer_steps"):
        preset("digits", classifer_steps=5)


def test_a_rejected_run_leaves_the_default_command_usable(tmp_path, monkeypatch, capsys):
    """config.json is written only after validation, so a typo cannot block the next run."""
    monkeypatch.chdir(tmp_path)
    assert _exit_code(RUN + ["--budgets", "5", "--methods", "mixup"]) == 2
    assert not (tmp_path / "results").exists()


def test_quick_mode_from_the_environment_files_results_as_quick(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENAUG_QUICK", "1")
    code = main(["experiment", "--dataset", "digits", "--budgets", "5", "--seeds", "1",
                 "--methods", "none", "--no-imbalance", "--set", "classifier_steps=5"])
    assert code == 0
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["quick-digits"]
    meta = json.loads((tmp_path / "results" / "quick-digits" / "config.json").read_text())
    assert meta["mode"] == "quick" and meta["config"]["gan_loss"] == "bce"


TINY = ["--set", "classifier_steps=5", "--set", "generator_steps=3", "--set", "n_synthetic=20"]


@pytest.mark.parametrize("args", [
    ["--methods", "none", "--seeds", "1", "--budgets", "5", "--no-imbalance"],
    ["--methods", "cvae", "--ratio", "0.5", "--seeds", "1", "--budgets", "5", "--no-imbalance"],
    ["--methods", "classical", "none", "--seeds", "2", "--budgets", "5", "--no-imbalance"],
], ids=["one method", "a fixed ratio with one generator", "two seeds"])
def test_valid_edge_inputs_run_and_print_means_without_intervals(args, tmp_path, capsys):
    code = main(RUN + args + TINY + ["--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "an interval needs 3 or more seeds" in out
    table = out.split("paired gains in percentage points:")[1].split("With")[0]
    assert "[" not in "".join(table.strip().splitlines()[2:])  # no interval below the header
    assert read_rows(tmp_path / "runs.csv")


def test_ctrl_c_ends_with_one_line_that_says_how_to_resume(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("genaug.experiment.run_experiment", interrupted)
    code = main(RUN + ["--budgets", "5", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 130 and "run the same command again to resume" in err
    assert "\n" not in err and "Traceback" not in err


def test_a_torn_last_row_is_dropped_with_its_job(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["budget", "seed", "method", "test_accuracy"])
        writer.writerows([[5, 0, "none", 0.8], [5, 0, "classical", 0.82], [5, 1, "none", 0.7]])
    path.write_text(path.read_text() + "5,1,classi")  # a crash mid-write
    rows = read_rows(path, ("budget", "seed"))
    assert [(r["seed"], r["method"]) for r in rows] == [(0, "none"), (0, "classical")]
    assert "incomplete row" in capsys.readouterr().out
    path.write_text(path.read_text()[: -len("5,1,classi")] + "5,1,classical,0.7")  # no newline
    assert len(read_rows(path, ("budget", "seed"))) == 2  # digits may be missing: job reruns


def test_configs_are_frozen_and_never_shared():
    config = preset("digits")
    with pytest.raises(AttributeError):
        config.seeds = 1
    assert experiment.ExperimentConfig().budgets == (10, 50, 100, 500)
