"""Running the experiment: phases in order, results in CSV files, and resuming where it stopped.

Every finished job's rows are written at once (atomically), so an interrupted run (a closed
laptop, a lost Colab session, Ctrl-C) resumes with the same command and gives the same CSVs as
an unbroken one. ``config.json`` records every setting, the mode, the code version and the
machine; a folder never mixes two configurations.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from genaug import __version__
from genaug.augment import DEFAULT_RECIPE
from genaug.device import describe, end_with_parent, get_device, keep_freed_cpu_memory
from genaug.experiment.choices import by_budget, chosen_settings, needs_sweep
from genaug.experiment.data_record import check_same_data, record_data
from genaug.experiment.joblog import JobLog, say
from genaug.experiment.jobs import IMBALANCE_CSV, RUNS_CSV, SWEEP_CSV, BudgetJob, ImbalanceJob
from genaug.experiment.results_io import read_rows, write_csv
from genaug.experiment.schedule import (
    BudgetRuns,
    Job,
    as_finished,
    job_key,
    row_key,
    sweep_jobs,
)
from genaug.experiment.settings import ExperimentConfig, arm_label
from genaug.experiment.validation import (
    ConfigError,
    check_fits_data,
    check_output_folder,
    validate,
)
from genaug.metrics import reference_classifier
from genaug.stats import summarise
from genaug.train import progress_bar

CHOICES = ("chosen_ratios", "chosen_thresholds", "chosen_recipes")  # config.json's keys
# what a folder from before a setting existed ran: classical had one recipe, config_for's
PREDATED = {"classical_recipes": [DEFAULT_RECIPE]}
# every method's paired gain is read against these, where the run has them: pseudo-labelling
# is the baseline a generative arm that uses unlabelled images must beat
BASELINES = ("none", "classical", "pseudo-label")


@dataclass
class Results:
    """Everything one run produced; the same tables are in CSV files in ``folder``."""

    config: ExperimentConfig
    folder: Path
    ratios: dict[int, dict[str, float]]  # per budget, the generated share of each arm
    runs: list[dict]  # one row per (budget, seed, method)
    sweep: list[dict]  # the validation sweep of the ratio
    imbalance: list[dict]  # one row per (seed, method) of the imbalance study
    summary: list[dict]  # per (budget, method): mean, CI, paired gains
    imbalance_summary: list[dict]
    thresholds: dict[int, dict[str, float]] = dataclasses.field(default_factory=dict)  # same
    recipes: dict[int, dict[str, str]] = dataclasses.field(default_factory=dict)  # classical's


def default_workers() -> int:
    """Parallel jobs: up to four, one per core (small models leave a GPU mostly idle).

    The experiment's models are small and one job's threads leave cores idle, so each core
    gets a one-thread job: the quick grid kept 1.86 of a 2-core CPU's cores busy this way. Four
    at most, since each process holds its own copy of the dataset (about 0.5 GB).
    """
    return min(4, os.cpu_count() or 1)


def _start_worker(threads: int) -> None:
    """Worker start-up: its share of the cores (never all of them), freed memory kept, and
    an end when the run that started it ends."""
    torch.set_num_threads(threads)
    keep_freed_cpu_memory()
    end_with_parent()


def prepare(config: ExperimentConfig, folder: Path) -> None:
    """Validate everything, then record the config: nothing is written for a bad setting."""
    validate(config)  # before loading: a bad dataset name fails at once
    check_fits_data(config, config.load("train").class_counts().tolist())
    check_output_folder(folder)
    data = check_same_data(config, folder)  # a resume on a changed folder stops here
    _record_config(folder, config)
    record_data(folder, data)


def run_experiment(config: ExperimentConfig, out: str | Path, workers: int | None = None
                   ) -> Results:
    """Run (or resume) the whole experiment, writing CSVs and a summary to ``out``.

    Jobs already in ``out``'s CSV files are not run again, so an interrupted run resumes where
    it stopped.
    """
    folder = Path(out)
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers must be a positive whole number, got {workers!r}.")
    prepare(config, folder)
    keep_freed_cpu_memory()  # for the jobs run in this process
    with _worker_pool(workers or default_workers()) as pool:  # one pool: workers start once
        sweep, imbalance, chosen, runs = _run_phases(config, folder, pool)
    summary = summarise(runs, "test_accuracy", baselines=baselines(config))
    imbalance_summary = _imbalance_summary(imbalance)
    write_csv(folder / "summary.csv", summary)
    write_csv(folder / "imbalance_summary.csv", imbalance_summary)
    meta = json.loads((folder / "config.json").read_text())
    meta |= dict(zip(CHOICES, chosen, strict=True))  # budgets become "10", ...
    (folder / "config.json").write_text(json.dumps(meta, indent=1) + "\n")
    ratios, thresholds, recipes = chosen
    return Results(config, folder, ratios, runs, sweep, imbalance, summary, imbalance_summary,
                   thresholds, recipes)


def _run_phases(config: ExperimentConfig, folder: Path, pool: ProcessPoolExecutor | None
                ) -> tuple[list[dict], list[dict], tuple[dict, dict, dict], list[dict]]:
    """The validation sweep at every budget where there is a choice to make, and every
    (budget, seed) with the settings its budget chose (ratios, thresholds, recipes), started
    as soon as that budget's own sweep is done: no worker waits for another budget's sweep.
    The imbalance study needs no choice and runs beside them. The longest jobs go first."""
    if config.measure_pools and config.sources():  # train the judge once, before the workers
        say("reference classifier: loaded, or trained once (it scores every pool)")
        reference_classifier(config.dataset, root=config.data_root, size=config.image_size)
    study = [ImbalanceJob(config, s, folder) for s in range(config.seeds)] \
        if config.imbalance else []
    sweep = sweep_jobs(config, folder) if needs_sweep(config) else []
    tables = _run_jobs(study + sweep, folder, pool, "experiment", BudgetRuns(config, folder))
    chosen = chosen_settings(config, tables.get(SWEEP_CSV, []))
    return tables.get(SWEEP_CSV, []), tables.get(IMBALANCE_CSV, []), chosen, tables[RUNS_CSV]


def baselines(config: ExperimentConfig) -> tuple[str, ...]:
    """The methods every paired gain is read against: none, classical, and pseudo-labelling in
    each mixing mode the run has (an unlabelled arm is read against its own mode's)."""
    return (*BASELINES[:2], *(arm_label(BASELINES[2], mode) for mode in config.mixings()))


def load_results(folder: str | Path) -> tuple[Results, dict]:
    """A finished run read back from its folder, and the metadata ``config.json`` recorded.

    Settings a folder predates (it was written before they existed) take their defaults, or
    what such a run did (:data:`PREDATED`), and are listed under ``meta["settings_not_recorded"]``.
    """
    folder = Path(folder)
    meta = json.loads((folder / "config.json").read_text())
    saved = meta["config"]
    fields = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
    meta["settings_not_recorded"] = sorted(set(fields) - set(saved))
    config = ExperimentConfig(**{k: tuple(v) if isinstance(v, list) else v
                                 for k, v in (PREDATED | saved).items() if k in fields})
    runs, imbalance = read_rows(folder / RUNS_CSV), read_rows(folder / IMBALANCE_CSV)
    _check_finished(folder, config, runs)
    ratios, thresholds, recipes = (by_budget(meta.get(key, {}), config.budgets)
                                   for key in CHOICES)
    results = Results(config, folder, ratios, runs, read_rows(folder / SWEEP_CSV), imbalance,
                      summarise(runs, "test_accuracy", baselines=baselines(config)),
                      _imbalance_summary(imbalance), thresholds, recipes)
    return results, meta


class UnfinishedRun(ValueError):
    """A results folder whose run has not written every (budget, seed) yet: no result to read."""


def _check_finished(folder: Path, config: ExperimentConfig, runs: list[dict]) -> None:
    """Refuse a folder that still lacks some (budget, seed) job, in one line naming the fix."""
    wanted = {(b, s) for b in config.budgets for s in range(config.seeds)}
    missing = wanted - {(r["budget"], r["seed"]) for r in runs}
    if missing:
        raise UnfinishedRun(f"{folder} is unfinished: {len(wanted) - len(missing)} of "
                            f"{len(wanted)} (budget, seed) jobs are in {RUNS_CSV}; run the "
                            f"command that started it again to resume it.")


def _imbalance_summary(imbalance: list[dict]) -> list[dict]:
    """Minority recall and balanced accuracy per method, each with its paired gain over none
    and over oversampling, the free remedy a generator must beat."""
    if not imbalance:
        return []
    recall = summarise(imbalance, "minority_recall", ("none", "oversample"), group=())
    balanced = summarise(imbalance, "balanced_accuracy", ("none", "oversample"), group=())
    return [{**r, **{k.replace("gain_", "balanced_gain_"): v for k, v in b.items()}}
            for r, b in zip(recall, balanced, strict=True)]


def _worker_pool(workers: int) -> ProcessPoolExecutor | contextlib.nullcontext:
    """``workers`` processes sharing the cores between them (spawned: CUDA cannot be forked),
    started as jobs arrive; with one worker, jobs run in this process (``nullcontext``)."""
    if workers == 1:
        return contextlib.nullcontext()
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker,
                               initargs=(max(1, (os.cpu_count() or 1) // workers),))


def _run_jobs(jobs: list[Job], folder: Path, pool: ProcessPoolExecutor | None, desc: str,
              later: BudgetRuns) -> dict[str, list[dict]]:
    """Run the jobs whose rows are not yet in their CSV files (in the pool's processes, where
    there is a pool), and the budget runs ``later`` releases as the sweep finishes, writing
    each job's rows and a line as it finishes; return every table's rows, in a fixed order
    (the order of ``jobs``, then of the budget runs) whatever order they finished in."""
    fields = {RUNS_CSV: BudgetJob.key_fields} | {job.table: job.key_fields for job in jobs}
    tables = {table: read_rows(folder / table, keys) for table, keys in fields.items()}
    done = {(table, row_key(row, fields[table])) for table, rows in tables.items()
            for row in rows}
    order = {key: i for i, key in enumerate([(job.table, job_key(job)) for job in jobs]
                                            + [(RUNS_CSV, key) for key in later.keys])}
    total = len(order)
    with (progress_bar(total, desc, initial=len(done)) as bar,
          JobLog(desc, total, len(done)) as log):
        for job, (new, seconds) in as_finished(jobs, pool, later, tables, done):
            t = job.table
            tables[t] = sorted(tables[t] + new, key=lambda r: order[(t, row_key(r, fields[t]))])
            write_csv(folder / t, tables[t])
            bar.update()
            log.finished(job.label, seconds)
    return tables


def _record_config(folder: Path, config: ExperimentConfig) -> None:
    """Refuse to mix results of two configurations in one folder; record the config."""
    path = folder / "config.json"
    wanted = json.loads(json.dumps(dataclasses.asdict(config)))  # tuples -> lists
    if path.is_file():
        saved = json.loads(path.read_text()).get("config", {})
        diffs = sorted(k for k in set(wanted) | set(saved) if saved.get(k) != wanted.get(k))
        if diffs:
            raise ConfigError(
                f"{folder} holds results of another configuration (it differs in: "
                f"{', '.join(diffs)}). Choose another --out folder, or delete this one.")
        return
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"config": wanted, "mode": config.mode, "genaug_version": __version__,
            "git_commit": _git_commit(), "device": describe(get_device()),
            "torch": torch.__version__, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.write_text(json.dumps(meta, indent=1) + "\n")


def _git_commit() -> str:
    """The code version the results came from (or 'unknown' outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
