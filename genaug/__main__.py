"""The command line: ``python -m genaug {experiment,doctor,data,benchmark}``.

    python -m genaug experiment --quick      the course's experiment, CPU-sized (a few minutes)
    python -m genaug experiment              the full grid (a GPU is advised)
    python -m genaug doctor                  is this laptop ready for the workshop?
    python -m genaug data                    what each dataset holds and where it was found
    python -m genaug experiment --data PATH  the experiment on your own images (PATH/<class>/*.png)
    python -m genaug data --data PATH        what your folder holds, and where its test split is
    python -m genaug benchmark               on-device pipeline vs tutorial DataLoader
    python -m genaug pretrain NAME           retrain a shipped full-recipe model (resumable)
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

from genaug.config import check_environment, mode, set_quick


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and whole option names only: ``benchmark --data X`` is
    refused, not read as ``--dataset X`` (argparse's abbreviations, off for every subcommand)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def whole_number(minimum: int):
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} must be at least {minimum}")
        return value

    return parse


def finite_float(text: str) -> float:
    """argparse type: a finite number (NaN and infinity name no share of anything)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def _experiment(args: argparse.Namespace) -> int:
    from genaug.cli_settings import settings_from
    from genaug.experiment import GENERATORS, preset, run_experiment, validate, with_filtered
    from genaug.report import experiment_report

    dataset, where, label = _data_source(args)
    overrides = where | {k: v for k, v in {
        "budgets": tuple(args.budgets) if args.budgets else None,
        "methods": tuple(args.methods) if args.methods else None,
        "seeds": args.seeds, "ratio": args.ratio,
        "imbalance": False if args.no_imbalance else None,
    }.items() if v is not None} | ({"ratios": tuple(args.ratios), "ratio": None}
                                   if args.ratios else {})
    config = preset(dataset, **overrides, **settings_from(args.set or [], overrides))
    if args.filter:  # a filtered twin beside each generator arm, its threshold chosen on val
        if not set(config.methods) & set(GENERATORS):
            raise ValueError(f"--filter adds a filtered twin of each generator arm "
                             f"({', '.join(GENERATORS)}), but the methods "
                             f"({', '.join(config.methods)}) have none; add one to --methods or "
                             "drop --filter.")
        config = dataclasses.replace(config, methods=with_filtered(config.methods))
    validate(config)  # a bad setting gets its one line before the banner, not after
    out = Path(args.out or f"results/{mode()}-{label}")
    print(f"Running the experiment on {where.get('data_root', dataset)} in {mode()} mode; "
          f"results go to {out}/")
    try:
        results = run_experiment(config, out, workers=args.workers)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Finished jobs are saved in {out}/; run the same command again "
              "to resume where it stopped.", file=sys.stderr)
        return 130
    print(experiment_report(results))
    return 0


def _data_source(args: argparse.Namespace) -> tuple[str, dict, str]:
    """The dataset, the settings naming its folder (if it is one) and its results folder's name."""
    from genaug.data import FOLDER, default_dataset

    if args.data is not None:
        root = Path(args.data).expanduser().resolve()
        size = {"image_size": args.image_size} if args.image_size is not None else {}
        return FOLDER, {"data_root": str(root), **size}, root.name
    if args.image_size is not None:
        raise ValueError("--image-size resizes a folder's images; name the folder with --data.")
    dataset = args.dataset or default_dataset()
    if args.dataset is None and dataset == "digits":
        print("Notice: Fashion-MNIST was not found, so the experiment runs on scikit-learn's "
              "digits. Install Debian's dataset-fashion-mnist or see README.md to get it.")
    return dataset, {}, dataset


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

    if args.keep_split and args.data is None:
        raise ValueError("--keep-split keeps a folder's test split: name the folder with --data.")
    if args.keep_split:
        from genaug.folder import keep_split

        print(keep_split(Path(args.data)))
    if args.data is not None:
        return _describe_folder(Path(args.data), args.image_size)
    for name in DATASETS:
        try:
            train, test = load_dataset(name, "train"), load_dataset(name, "test")
        except DatasetNotFoundError:
            print(f"{name}: not found (python -m genaug doctor says how to get it)")
            continue
        counts = ", ".join(f"{c}: {n}" for c, n in
                           zip(train.classes, train.class_counts().tolist(), strict=True))
        print(f"{name}: {len(train)} train / {len(test)} test images of "  # one folder for both
              f"{train.image_size}x{train.image_size}, from {find_dataset(name)}\n  {counts}")
    return 0


def _describe_folder(path: Path, size: int) -> int:
    """What ``data --data PATH`` prints: classes, images per split, colour, where the split is."""
    from genaug.data import FOLDER, load_dataset
    from genaug.folder import split_file, split_roots

    train, test = (load_dataset(FOLDER, s, root=path, size=size) for s in ("train", "test"))
    kind = "colour (RGB)" if train.channels == 3 else "grey"
    print(f"{path}: {len(train)} train / {len(test)} test {kind} images at {size}x{size}, "
          f"{train.n_classes} classes")
    for name, n_train, n_test in zip(train.classes, train.class_counts().tolist(),
                                     test.class_counts().tolist(), strict=True):
        print(f"  {name}: {n_train} train, {n_test} test")
    _, test_root = split_roots(path.expanduser().resolve())
    print(f"test split: {test_root or f'held out, listed in {split_file(path)}'}")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from genaug.benchmark import augmentation_only, run
    from genaug.data import default_dataset

    dataset = args.dataset or default_dataset()
    run(dataset, steps=args.steps, repeats=args.repeats, workers=args.workers)
    augmentation_only(dataset)
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    import json

    from genaug.pretraining import pretrain

    for name in args.names:
        facts = pretrain(name, out=Path(args.out) if args.out else None)
        print(f"{name}: {facts['wall_seconds']:.0f} s on {facts['hardware']}; quality "
              f"{json.dumps(facts['quality'])}")
    return 0


def _add_pretrain(sub) -> None:
    from genaug.pretrained import RECIPES

    pre = sub.add_parser("pretrain", help="retrain shipped full-recipe models from scratch "
                         "(a stopped run resumes)")
    pre.add_argument("names", nargs="+", choices=list(RECIPES), metavar="NAME",
                     help=f"one or more of: {', '.join(RECIPES)}")
    pre.add_argument("--out", help="folder for the weights and records (default: pretrained/)")
    pre.set_defaults(run=_pretrain)


def _add_experiment(sub) -> None:
    exp = sub.add_parser("experiment", help="run the augmentation experiment")
    source = exp.add_mutually_exclusive_group()
    source.add_argument("--dataset", choices=["fashion_mnist", "mnist", "digits", "cifar10"])
    source.add_argument("--data", metavar="PATH", help="your own images: a folder with a "
                        "subfolder of images per class (PATH/<class>/*.png)")
    exp.add_argument("--image-size", type=whole_number(8), help="side the folder's images are "
                     "resized to (default 32; a multiple of 4, at most 512)")
    exp.add_argument("--budgets", type=whole_number(1), nargs="+",
                     help="labelled images per class")
    exp.add_argument("--methods", nargs="+", help="labelled only: none classical cvae cgan "
                     "cdiff cvae+classical cgan+classical cdiff+classical filtered-cvae "
                     "filtered-cgan filtered-cdiff; labelled + unlabelled images: latent-vae "
                     "finetuned-cvae finetuned-cgan pseudo-label; reference (all labels): "
                     "oracle-cvae oracle-cgan oracle-cdiff. Quick mode runs the first six "
                     "unless others are named")
    exp.add_argument("--filter", action="store_true", help="add a filtered twin of each "
                     "generator arm: keep a sample only if a classifier trained on the budget "
                     "gives it its label with a confidence chosen on validation")
    exp.add_argument("--seeds", type=whole_number(1),
                     help="number of seeds (5; an interval needs 3 or more)")
    shares = exp.add_mutually_exclusive_group()
    shares.add_argument("--ratio", type=finite_float, help="fixed generated share of each "
                        "batch, in (0, 1] (default: chosen on the validation set)")
    shares.add_argument("--ratios", type=finite_float, nargs="+", help="the shares validation "
                        "chooses from at each budget (unfixes quick mode's 0.25)")
    exp.add_argument("--no-imbalance", action="store_true", help="skip the imbalance study")
    exp.add_argument("--set", action="append", metavar="NAME=VALUE",
                     help="override one setting of ExperimentConfig, e.g. classifier_steps=600")
    exp.add_argument("--quick", action="store_true", help="quick mode: CPU-sized, minutes")
    exp.add_argument("--workers", type=whole_number(1),
                     help="parallel one-thread jobs (default: one per CPU core, at most 4)")
    exp.add_argument("--out", help="results folder (default: results/<mode>-<dataset>)")
    exp.set_defaults(run=_experiment)


def _add_benchmark(sub) -> None:
    bench = sub.add_parser("benchmark", help="on-device pipeline vs tutorial DataLoader")
    bench.add_argument("--dataset", choices=["fashion_mnist", "mnist", "digits"])
    bench.add_argument("--steps", type=whole_number(1), default=200)
    bench.add_argument("--repeats", type=whole_number(1), default=3)
    bench.add_argument("--workers", type=whole_number(0), default=2,
                       help="DataLoader worker processes (0: in the main process)")
    bench.set_defaults(run=_benchmark)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m genaug", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_experiment(sub)
    sub.add_parser("doctor", help="check this machine is ready").set_defaults(run=_doctor)
    data = sub.add_parser("data", help="describe the datasets, or your folder with --data")
    data.add_argument("--data", metavar="PATH", help="a folder with a subfolder per class")
    data.add_argument("--image-size", type=whole_number(1), default=32,
                      help="side the images are resized to (at most 512)")
    data.add_argument("--keep-split", action="store_true", help="after the folder changed, keep "
                      "its saved test split on purpose (test images still there stay test "
                      "images, moved ones follow to their new class)")
    data.set_defaults(run=_data)
    _add_benchmark(sub)
    _add_pretrain(sub)
    args = parser.parse_args(argv)
    if getattr(args, "quick", False):
        set_quick(True)
    try:
        check_environment()
        return args.run(args)
    except (ValueError, OSError, RuntimeError) as error:  # our errors say the fix
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
