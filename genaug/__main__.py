"""The command line: ``python -m genaug {experiment,doctor,data,benchmark}``.

    python -m genaug experiment --quick      the course's experiment, CPU-sized (a few minutes)
    python -m genaug experiment              the full grid (a GPU is advised)
    python -m genaug doctor                  is this laptop ready for the workshop?
    python -m genaug data                    what each dataset holds and where it was found
    python -m genaug benchmark               on-device pipeline vs tutorial DataLoader
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genaug.config import set_quick


def _experiment(args: argparse.Namespace) -> int:
    from genaug.data import default_dataset
    from genaug.experiment import preset, run_experiment
    from genaug.report import experiment_report

    dataset = args.dataset or default_dataset()
    if args.dataset is None and dataset == "digits":
        print("Notice: Fashion-MNIST was not found, so the experiment runs on scikit-learn's "
              "digits. Install Debian's dataset-fashion-mnist or see README.md to get it.")
    overrides = {k: v for k, v in {
        "budgets": tuple(args.budgets) if args.budgets else None,
        "methods": tuple(args.methods) if args.methods else None,
        "seeds": args.seeds, "ratio": args.ratio,
        "imbalance": False if args.no_imbalance else None,
    }.items() if v is not None}
    config = preset(dataset, **overrides, **_settings(args.set or []))
    out = Path(args.out or f"results/{'quick' if args.quick else 'full'}-{dataset}")
    print(f"Running the experiment on {dataset}; results go to {out}/")
    results = run_experiment(config, out, workers=args.workers)
    print(experiment_report(results))
    return 0


def _settings(pairs: list[str]) -> dict:
    """``["classifier_steps=600", ...]`` as ExperimentConfig overrides of the right types."""
    import dataclasses

    from genaug.experiment import ExperimentConfig

    defaults = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)}
    settings = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        default = defaults.get(name)
        if not text or not isinstance(default, (bool, int, float)):
            scalars = sorted(k for k, v in defaults.items() if isinstance(v, (bool, int, float)))
            raise ValueError(f"--set takes NAME=VALUE with NAME one of {', '.join(scalars)}; got "
                             f"{pair!r} (budgets, methods and seeds have their own options).")
        if isinstance(default, bool):
            settings[name] = text.lower() in ("1", "true", "yes")
        else:
            try:
                settings[name] = type(default)(text)
            except ValueError:
                raise ValueError(f"--set {name} needs a{'n int' if isinstance(default, int) else ' float'}"
                                 f", got {text!r}.") from None
    return settings


def _doctor(args: argparse.Namespace) -> int:
    import torch

    from genaug.device import get_device
    from genaug.models.classifier import SmallCNN
    from genaug.session import environment_report

    rows = environment_report()
    width = max(len(k) for k, _ in rows)
    for what, found in rows:
        print(f"{what:<{width}}  {found}")
    device = get_device()
    logits, _ = SmallCNN().to(device)(torch.rand(2, 1, 28, 28, device=device))
    print(f"{'model check':<{width}}  a forward pass on {device.type} gave {tuple(logits.shape)}")
    if dict(rows).get("data: fashion_mnist") == "not found":
        print("\nFashion-MNIST is missing. Get it one of three ways: run a notebook online "
              "(torchvision downloads it), `sudo apt-get install dataset-fashion-mnist`, or copy "
              "its four IDX files into $GENAUG_DATA/FashionMNIST/raw. Until then the "
              "notebooks fall back to scikit-learn's digits.")
    print("\nReady." if logits.shape == (2, 10) else "\nSomething is wrong: see above.")
    return 0


def _data(args: argparse.Namespace) -> int:
    from genaug.data import DATASETS, DatasetNotFoundError, find_dataset, load_dataset

    for name in DATASETS:
        try:
            train, test = load_dataset(name, "train"), load_dataset(name, "test")
        except DatasetNotFoundError:
            print(f"{name}: not found (python -m genaug doctor says how to get it)")
            continue
        counts = ", ".join(f"{c}: {n}" for c, n in zip(train.classes, train.class_counts().tolist()))
        print(f"{name}: {len(train)} train / {len(test)} test images of "
              f"{train.image_size}x{train.image_size}, from {find_dataset(name)}\n  {counts}")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from genaug.benchmark import augmentation_only, run
    from genaug.data import default_dataset

    dataset = args.dataset or default_dataset()
    run(dataset, steps=args.steps, repeats=args.repeats, workers=args.workers)
    augmentation_only(dataset)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genaug", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    exp = sub.add_parser("experiment", help="run the augmentation experiment")
    exp.add_argument("--dataset", choices=["fashion_mnist", "mnist", "digits"])
    exp.add_argument("--budgets", type=int, nargs="+", help="labelled images per class")
    exp.add_argument("--methods", nargs="+", help="subset of: none classical cvae cgan "
                     "cvae+classical cgan+classical")
    exp.add_argument("--seeds", type=int, help="number of seeds (full: 5, quick: 2)")
    exp.add_argument("--ratio", type=float, help="fixed generated share of each batch "
                     "(default: chosen on the validation set)")
    exp.add_argument("--no-imbalance", action="store_true", help="skip the imbalance study")
    exp.add_argument("--set", action="append", metavar="NAME=VALUE",
                     help="override one setting of ExperimentConfig, e.g. classifier_steps=600")
    exp.add_argument("--quick", action="store_true", help="quick mode: CPU-sized, minutes")
    exp.add_argument("--workers", type=int, help="parallel jobs (default: 4 on a GPU, 1 on CPU)")
    exp.add_argument("--out", help="results folder (default: results/<mode>-<dataset>)")
    exp.set_defaults(run=_experiment)

    sub.add_parser("doctor", help="check this machine is ready").set_defaults(run=_doctor)
    sub.add_parser("data", help="describe the datasets").set_defaults(run=_data)

    bench = sub.add_parser("benchmark", help="on-device pipeline vs tutorial DataLoader")
    bench.add_argument("--dataset", choices=["fashion_mnist", "mnist", "digits"])
    bench.add_argument("--steps", type=int, default=200)
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    bench.set_defaults(run=_benchmark)

    args = parser.parse_args(argv)
    if getattr(args, "quick", False):
        set_quick(True)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:  # our errors say the fix
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
