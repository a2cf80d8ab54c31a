"""Importing genaug to train a model loads no plotting stack; only setup() and plots do (issue 10).

Each check runs in a fresh interpreter: in this one, other tests have long imported matplotlib.
"""

import os
import subprocess
import sys

TRAINING_MODULES = (
    "genaug", "genaug.train", "genaug.bookkeeping", "genaug.evaluation", "genaug.models.gan",
    "genaug.models.vae", "genaug.models.classifier", "genaug.data", "genaug.device",
)


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter on one thread and return what happened."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_training_modules_import_without_matplotlib():
    code = (f"import {', '.join(TRAINING_MODULES)}; import sys; "
            "loaded = sorted(m for m in sys.modules if m.startswith('matplotlib')); "
            "assert not loaded, loaded[:3]")
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_setup_still_sets_the_plot_defaults():
    code = ("import genaug; genaug.setup(device='cpu'); import matplotlib; "
            "assert matplotlib.rcParams['image.cmap'] == 'gray', matplotlib.rcParams['image.cmap']")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "genaug 0.1.0" in result.stdout
