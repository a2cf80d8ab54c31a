"""A running experiment talks: a line per finished job, with progress bars off too, and a line
whenever it was quiet for a minute (issue 24: the full grid printed nothing for 400 s)."""

from dataclasses import dataclass
from types import SimpleNamespace

from genaug.experiment import preset, read_rows, run_experiment, runner
from genaug.experiment.joblog import JobLog


def job_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if " took " in line]


def test_a_quick_run_prints_a_line_per_finished_job(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENAUG_PROGRESS", "0")
    config = preset("digits", budgets=(5,), seeds=2, classifier_steps=5, methods=("none",),
                    imbalance=False)
    run_experiment(config, tmp_path, workers=1)
    lines = job_lines(capsys.readouterr().out)
    assert len(lines) == 2, lines
    for seed, line in enumerate(lines):
        assert f"budget 5, seed {seed} took" in line and "elapsed" in line and "left" in line
    run_experiment(config, tmp_path, workers=1)  # resumed: nothing left to run
    out = capsys.readouterr().out
    assert "0 of 2 jobs to run" in out and not job_lines(out)


@dataclass(frozen=True)
class FakeJob:
    seed: int
    table = "fake.csv"
    key_fields = ("seed",)

    @property
    def label(self) -> str:
        return f"fake job {self.seed}"

    def run(self) -> list[dict]:
        return [{"seed": self.seed, "part": part} for part in (0, 1)]


def test_rows_keep_the_jobs_order_when_jobs_finish_out_of_order(tmp_path, capsys, monkeypatch):
    def backwards(jobs, pool, later, tables, done):
        return ((job, (job.run(), 1.0)) for job in reversed(jobs))

    monkeypatch.setattr(runner, "as_finished", backwards)
    no_budgets = SimpleNamespace(keys=[], released=lambda tables: [])
    tables = runner._run_jobs([FakeJob(s) for s in range(3)], tmp_path, None, "fake phase",
                              no_budgets)
    expected = [(s, part) for s in range(3) for part in (0, 1)]
    assert [(r["seed"], r["part"]) for r in tables["fake.csv"]] == expected
    assert [(r["seed"], r["part"]) for r in read_rows(tmp_path / "fake.csv")] == expected
    lines = job_lines(capsys.readouterr().out)
    assert [line.split(":")[0] for line in lines] == [f"fake phase {i}/3" for i in (1, 2, 3)]
    assert "fake job 2 took 1 s" in lines[0]


def test_the_log_estimates_the_time_left_and_speaks_after_a_quiet_minute(capsys):
    now = [0.0]
    log = JobLog("budgets x seeds", total=4, done=1, quiet=60, clock=lambda: now[0])
    now[0] = 100.0
    log.finished("budget 10, seed 0", 95.0)
    assert capsys.readouterr().out == ("budgets x seeds 2/4: budget 10, seed 0 took 1 min 35 s; "
                                       "elapsed 1 min 40 s, about 3 min 20 s left\n")
    now[0] = 159.0
    log.still_running()
    assert capsys.readouterr().out == ""
    now[0] = 161.0
    log.still_running()
    assert capsys.readouterr().out == ("budgets x seeds: still running, 2/4 jobs done, elapsed "
                                       "2 min 41 s\n")
