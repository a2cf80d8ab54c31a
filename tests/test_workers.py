"""The experiment's worker processes: they keep to their share of the machine and end with the
run that started them, even when it is killed (a closed terminal, a stopped Colab cell)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

PARENT = textwrap.dedent("""
    import os, sys, time
    from genaug.experiment import runner

    if __name__ == "__main__":
        pool = runner._worker_pool(2)
        pids = set()
        while len(pids) < 2:  # a pid comes back only once its worker's start-up has run
            pids |= {job.result() for job in [pool.submit(os.getpid) for _ in range(4)]}
        jobs = [pool.submit(time.sleep, 120) for _ in pids]  # busy: they would finish, then wait
        print(*pids, flush=True)
        time.sleep(120)
""")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to be reaped has ended)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux lets a child ask for this")
def test_workers_end_when_the_run_that_started_them_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = tmp_path / "stderr.txt"  # the killed run's resource tracker complains there
    with log.open("w") as stderr:
        parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                                  stderr=stderr, text=True, env=env)
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(map(alive, workers)), log.read_text()
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 20
    while any(map(alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:  # clean up before failing: never leave them to slow the other tests
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived the killed run"
