"""Test setup for unit tests and nbval alike: quick mode, no downloads, a fresh cache.

Environment variables set here are inherited by every notebook kernel nbval starts, so the
notebooks run in quick mode exactly as the unit tests do.
"""

import os
import tempfile

os.environ["GENAUG_QUICK"] = "1"
os.environ["GENAUG_DOWNLOAD"] = "0"  # tests never touch the network
os.environ["GENAUG_PROGRESS"] = "0"  # no progress bars in test logs
os.environ["GENAUG_CACHE"] = tempfile.mkdtemp(prefix="genaug-test-cache-")  # no stale checkpoints
os.environ.setdefault("MPLBACKEND", "Agg")

# Exercises stop at their first stub: tests/test_exercises.py runs them up to it.
collect_ignore_glob = ["exercises/*"]
