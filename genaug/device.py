"""Where tensors live and how randomness is controlled: the only module that chooses a device."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
from typing import Callable, Iterator

import numpy as np
import torch

DEVICE_ENV = "GENAUG_DEVICE"


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the fastest available device: CUDA, then Apple MPS, then the CPU.

    ``prefer`` (or the ``GENAUG_DEVICE`` variable) overrides the choice, e.g. ``"cpu"`` to
    compare speeds; asking for a device this machine lacks is an error, not a silent fallback.
    """
    choice = prefer or os.environ.get(DEVICE_ENV)
    if choice:
        device = torch.device(choice)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"Device {choice!r} was asked for, but PyTorch sees no CUDA GPU here. "
                f"Use 'cpu', unset {DEVICE_ENV}, or on Colab pick Runtime > Change runtime "
                "type > GPU."
            )
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(f"Device {choice!r} was asked for, but Apple MPS is not available.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


def describe(device: torch.device) -> str:
    """A one-line human description of a device, e.g. ``cuda (NVIDIA H100 80GB HBM3)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work, so a timer measures the work rather than its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (every device) so a run can be repeated number for number."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS


def make_generator(seed: int) -> torch.Generator:
    """A CPU random generator for one purpose (batch order, augmentation, noise).

    Draws are made on the CPU and moved to the device, so the same seed gives the same
    numbers on a laptop and on a GPU, and two purposes never disturb each other's stream.
    """
    return torch.Generator().manual_seed(seed)


def draw(sampler: Callable[..., torch.Tensor], *args, generator: torch.Generator | None,
         device: torch.device | str, **kwargs) -> torch.Tensor:
    """``sampler(*args, **kwargs)`` drawn where ``generator`` lives, then moved to ``device``.

    torch refuses a generator that lives elsewhere than the draw ("Expected a 'cpu' device type
    for generator but found 'cuda'"), so every seeded draw in genaug goes through here and
    works whatever generator a caller passes: a CPU one (``make_generator``) draws on the CPU,
    the same numbers on every machine, and a CUDA one on its GPU. Without a generator it draws
    from torch's global CPU stream, as ``torch.randn`` does by default, so ``torch.manual_seed``
    alone repeats it on any device. ``sampler`` is a torch factory that takes ``device=``:
    ``torch.randn``, ``torch.rand``, ``torch.randint`` or ``torch.randperm``.
    """
    source = generator.device if generator is not None else torch.device("cpu")
    return sampler(*args, generator=generator, device=source, **kwargs).to(device)


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """cuDNN limited to deterministic kernels, without autotuning, inside the block; restored after.

    The same seed must give the same samples (notebook 05 asserts it), yet on a GPU the same
    noise gave different images: a transposed convolution runs as a convolution's backward
    pass, whose fast cuDNN kernels may add in a varying order, and autotuning may pick another
    kernel. The samplers run under this; training keeps the fast kernels. It leaves
    ``torch.use_deterministic_algorithms`` off: that makes cuBLAS demand CUBLAS_WORKSPACE_CONFIG
    before CUDA starts and raises on ops without a deterministic kernel, while cuBLAS on one
    stream already repeats its bits. A CPU's kernels are deterministic: there it changes nothing.
    """
    cudnn = torch.backends.cudnn
    saved = cudnn.deterministic, cudnn.benchmark
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark = saved


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision where it is safe and free: bfloat16 on CUDA GPUs that support it.

    bfloat16 keeps float32's range, so no loss scaling is needed; on CPU, MPS and older GPUs
    this is a no-op and everything stays float32.
    """
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def keep_freed_cpu_memory() -> bool:
    """Let this process reuse the memory it frees instead of handing it back to the system.

    Every training step allocates and frees the same large activations. By default glibc
    returns blocks that large to the system and the next step faults in fresh zeroed pages:
    on a 2-core CPU that made a third of the quick experiment's time system time (one
    (budget, seed) job took 74 s, 47 s with this). The price is a higher resident peak.
    Returns whether it applied (glibc only: elsewhere nothing changes).
    """
    mallopt = _c_library_function("mallopt")
    if mallopt is None:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h> names
    return bool(mallopt(m_trim_threshold, 2**30)) and bool(mallopt(m_mmap_threshold, 2**30))


def end_with_parent() -> bool:
    """Ask Linux to stop this process when the one that started it dies, even by SIGKILL.

    Without it, an experiment's workers outlive a killed run: each finishes its job and then
    waits forever, holding its memory. Returns whether it applied (Linux only).
    """
    prctl = _c_library_function("prctl")
    if prctl is None:
        return False
    pr_set_pdeathsig = 1  # <linux/prctl.h>
    return prctl(pr_set_pdeathsig, signal.SIGTERM) == 0


def _c_library_function(name: str) -> Callable | None:
    """The C library's function ``name``, or None where it has none (macOS, Windows)."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (AttributeError, OSError, TypeError):
        return None
