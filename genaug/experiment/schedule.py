"""Which job runs when: the validation sweep first, and each budget's runs as soon as that
budget's own sweep is done.

A budget's (budget, seed) jobs need the settings its sweep chose, and nothing from another
budget, so they are released budget by budget: while the last sweep job of a small budget runs,
the workers it leaves free already train the larger budget's classifiers. (With one phase after
another, a 2-core CPU sat half idle for the length of a whole sweep job.)
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Iterator

from genaug.config import PROGRESS_ENV
from genaug.experiment.choices import chosen_settings, needs_sweep
from genaug.experiment.jobs import SWEEP_CSV, BudgetJob, ImbalanceJob
from genaug.experiment.settings import ExperimentConfig

Job = BudgetJob | ImbalanceJob


def sweep_seeds(config: ExperimentConfig) -> range:
    """The seeds validation chooses on: the first ``sweep_seeds`` (every seed when 0)."""
    return range(config.sweep_seeds or config.seeds)


def sweep_jobs(config: ExperimentConfig, folder: Path) -> list[BudgetJob]:
    """The validation sweep: every budget, largest first, on the sweep's seeds. Choosing on
    fewer seeds than the run reports keeps a sweep of many candidates at converged classifier
    steps affordable; the choice still sees no test image."""
    return [BudgetJob(config, b, s, folder, sweep=True)
            for b in sorted(config.budgets, reverse=True) for s in sweep_seeds(config)]


class BudgetRuns:
    """Each budget's (budget, seed) jobs, released once that budget's sweep has finished (at
    once where nothing is swept), with the settings its own sweep chose."""

    def __init__(self, config: ExperimentConfig, folder: Path) -> None:
        self.config, self.folder = config, folder
        self.waiting = sorted(config.budgets, reverse=True)  # largest (longest) first
        self.keys = [(b, s) for b in self.waiting for s in range(config.seeds)]  # rows' order

    def released(self, tables: dict[str, list[dict]]) -> list[BudgetJob]:
        """The jobs of every waiting budget whose sweep jobs all have rows in ``tables``."""
        swept = {(row["budget"], row["seed"]) for row in tables.get(SWEEP_CSV, [])}
        seeds = sweep_seeds(self.config) if needs_sweep(self.config) else range(0)
        ready = [b for b in self.waiting if all((b, s) in swept for s in seeds)]
        if not ready:
            return []
        ratios, thresholds, recipes = chosen_settings(self.config, tables.get(SWEEP_CSV, []))
        self.waiting = [b for b in self.waiting if b not in ready]
        return [BudgetJob(self.config, b, s, self.folder, ratios[b], thresholds=thresholds[b],
                          recipes=recipes[b]) for b in ready for s in range(self.config.seeds)]


def job_key(job: Job) -> tuple:
    """What identifies a job's rows in its CSV: (budget, seed), or (seed,)."""
    return tuple(getattr(job, f) for f in job.key_fields)


def row_key(row: dict, key_fields: tuple[str, ...]) -> tuple:
    """The key of the job a row came from (see :func:`job_key`)."""
    return tuple(row[f] for f in key_fields)


def as_finished(jobs: list[Job], pool: ProcessPoolExecutor | None, later: BudgetRuns,
                tables: dict[str, list[dict]], done: set[tuple]
                ) -> Iterator[tuple[Job, tuple[list[dict], float]]]:
    """Each job whose (table, key) is not in ``done`` with its rows and seconds, as soon as it
    finishes (in order, without a pool), followed by the budget runs ``later`` releases from
    ``tables``, which the caller updates with each job's rows before asking for the next."""
    def todo(batch: list[Job]) -> list[Job]:
        return [job for job in batch if (job.table, job_key(job)) not in done]

    queue, running = todo(jobs + later.released(tables)), {}
    while queue or running:
        if pool is None:
            job = queue.pop(0)
            yield job, run_quietly(job)
        else:
            running |= {pool.submit(run_quietly, job): job for job in queue}
            queue = []
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                yield running.pop(future), future.result()
        queue += todo(later.released(tables))


def run_quietly(job: Job) -> tuple[list[dict], float]:
    """Run one job with inner progress bars hidden (a worker process, or the main one); return
    its rows and its seconds."""
    previous = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = "0"
    start = time.perf_counter()
    try:
        return job.run(), time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop(PROGRESS_ENV)
        else:
            os.environ[PROGRESS_ENV] = previous
