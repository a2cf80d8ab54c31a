"""What a running experiment says: a line per finished job, and a line after a quiet minute.

Progress bars are hidden in stored notebook outputs and in logs (``GENAUG_PROGRESS=0``); these
lines are not, so a run never stays silent for long: with bars off, the full grid on a GPU
printed nothing for 400 s and its first (budget, seed) job alone took 76 s (issue 24).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable

from tqdm.auto import tqdm

QUIET_SECONDS = 60.0  # the longest a run stays silent


def duration(seconds: float) -> str:
    """``75`` -> ``'1 min 15 s'``; under a minute, whole seconds."""
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def say(line: str) -> None:
    """Print a line above any progress bar, flushed at once so a log file shows it live."""
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


class JobLog:
    """One phase's lines: a start line, one per finished job (which job, its seconds, the
    phase's elapsed time and an estimate of the time left) and, from a background thread,
    a "still running" line whenever nothing was printed for ``quiet`` seconds."""

    def __init__(self, desc: str, total: int, done: int = 0, quiet: float = QUIET_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.desc, self.total, self.done, self.quiet, self.clock = desc, total, done, quiet, clock
        self.finished_here = 0
        self.start = self.last = clock()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> JobLog:
        self.say(f"{self.desc}: {self.total - self.done} of {self.total} jobs to run")
        self._watcher.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._watcher.join()

    def finished(self, job: str, seconds: float) -> None:
        """Report a finished job; the time left assumes the rest go as fast as these did."""
        self.done += 1
        self.finished_here += 1
        elapsed = self.clock() - self.start
        left = elapsed / self.finished_here * (self.total - self.done)
        self.say(f"{self.desc} {self.done}/{self.total}: {job} took {duration(seconds)}; "
                 f"elapsed {duration(elapsed)}, about {duration(left)} left")

    def still_running(self) -> None:
        """Say the phase is still going if nothing was printed for ``quiet`` seconds."""
        if self.clock() - self.last >= self.quiet:
            self.say(f"{self.desc}: still running, {self.done}/{self.total} jobs done, elapsed "
                     f"{duration(self.clock() - self.start)}")

    def say(self, line: str) -> None:
        """Print ``line`` and remember when the run last spoke."""
        with self._lock:
            say(line)
            self.last = self.clock()

    def _watch(self) -> None:
        while not self._stop.wait(min(self.quiet, 5.0)):
            self.still_running()
