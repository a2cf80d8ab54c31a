"""genaug: generative models for data augmentation, the helper package of a runnable course.

Modules, in the order the course meets them: ``config`` (quick vs full mode), ``device``,
``data``, ``augment``, ``models``, ``train`` (its helpers in ``bookkeeping`` and ``evaluation``),
``checkpoint``, ``plots``, ``synthetic``, ``metrics``, ``experiment``, ``checks``. Import what
you use from its module, e.g. ``from genaug.data import load_dataset``. Only ``plots``,
``report`` and :func:`setup` load Matplotlib, so training from a script never needs it.
"""

__version__ = "0.1.0"

from genaug.config import pick  # noqa: E402  (the two names every notebook uses)
from genaug.session import setup  # noqa: E402

__all__ = ["__version__", "pick", "setup"]
