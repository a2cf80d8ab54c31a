"""Benchmark: one classifier training step, alone, stacked with others, or compiled.

    python benchmarks/stack_benchmark.py [--models 1 4 24] [--compile] [--steps 50]

The experiment trains a job's classifiers as one stacked ``SmallCNN`` (grouped convolutions,
``genaug.models.stacked``) so that a GPU runs them in one model's time; ``--compile`` wraps the
model in ``torch.compile``, the route issue 24 names for CUDA graphs. Each line gives the
one-off cost (first two steps: compiling, allocating) and the milliseconds per step, in all
and per model, on the current device with random 28x28 images, batch 64 per model.
"""

from __future__ import annotations

import argparse
import time

import torch

from genaug.device import get_device, synchronize
from genaug.models.classifier import ClassifierConfig, SmallCNN


def time_steps(n_models: int, compiled: bool, steps: int, device: torch.device) -> str:
    """One line: the warm-up's seconds and the milliseconds per step of ``n_models`` stacked."""
    torch.manual_seed(0)
    model = SmallCNN(ClassifierConfig(n_classes=10, width=16, n_models=n_models)).to(device)
    lead = (n_models,) if n_models > 1 else ()
    images = torch.rand(*lead, 64, 1, 28, 28, device=device)
    labels = torch.randint(0, 10, (*lead, 64), device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    forward = torch.compile(model, dynamic=False) if compiled else model  # one shape each

    def step() -> None:
        _, loss = forward(images, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(device)

    start = time.perf_counter()
    step(), step()
    warm = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = 1000 * (time.perf_counter() - warm) / steps
    return (f"{n_models:>3} model(s){' compiled' if compiled else ''}: warm-up "
            f"{warm - start:.1f} s, {per_step:.1f} ms a step, {per_step / n_models:.1f} per model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--models", type=int, nargs="+", default=[1, 4, 24])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    device = get_device()
    print(f"device {device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}")
    for n_models in args.models:
        for compiled in (False, True) if args.compile else (False,):
            print(time_steps(n_models, compiled, args.steps, device), flush=True)


if __name__ == "__main__":
    main()
