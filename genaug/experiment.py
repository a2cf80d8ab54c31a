"""The downstream experiment: do generated images make a small-data classifier better?

The design, in the order the runner follows it:

1. A validation set is held out of the training split once (never the test set).
2. For every label budget (images per class) and seed, a labelled subset is drawn; the
   generators (conditional VAE and GAN) are trained on that subset **only**, never on more
   labels than the classifier sees.
3. The share of generated images in a batch is chosen per generator on the validation set,
   at the smallest budget (a short sweep), unless a ratio is fixed.
4. Every method trains the same classifier for the same number of steps. The methods of one
   seed start from the same weights and see the same real batches, so their differences are
   paired. They are trained side by side as one stacked model (see ``SmallCNN``).
5. Test accuracy per (method, budget, seed) goes to a CSV; the summary gives means with 95%
   confidence intervals and the paired gain over no augmentation and over classical
   augmentation.
6. A class-imbalance study compares no augmentation, oversampling, classical augmentation and
   generator rebalancing on the minority classes' recall and on balanced accuracy.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import multiprocessing
import os
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch
import torch.nn as nn

from genaug import __version__
from genaug.augment import AugmentConfig, augment, config_for
from genaug.checkpoint import CheckpointMismatchError, load_model, save_model
from genaug.config import pick
from genaug.data import ImageDataset, default_dataset, load_dataset, stratified_indices
from genaug.device import describe, get_device, make_generator
from genaug.models.classifier import ClassifierConfig, SmallCNN
from genaug.models.gan import GAN, GANConfig
from genaug.models.vae import VAE, VAEConfig
from genaug.stats import summarise
from genaug.synthetic import labelled_batch
from genaug.train import TrainingDivergedError, evaluate, fit_classifier, fit_gan, fit_vae, progress_bar

METHODS = ("none", "classical", "cvae", "cgan", "cvae+classical", "cgan+classical")
IMBALANCE_METHODS = ("none", "oversample", "classical", "cvae", "cgan")
GENERATORS = ("cvae", "cgan")
VAL_SEED = 10_000  # the validation set is the same for every seed and budget


@dataclass
class ExperimentConfig:
    dataset: str = "fashion_mnist"
    budgets: tuple[int, ...] = (10, 50, 100, 500)  # labelled images per class
    methods: tuple[str, ...] = METHODS
    seeds: int = 5
    classifier_steps: int = 2000  # identical for every method: equal compute
    classifier_width: int = 32
    batch_size: int = 128
    ratios: tuple[float, ...] = (0.25, 0.5, 0.75)  # generated share of a batch, tried on val
    ratio: float | None = None  # a fixed generated share instead of the validation sweep
    n_synthetic: int = 5000  # images drawn once from each generator, then sampled per batch
    generator_steps: int = 2000
    gan_width: int = 64  # feature maps of the cGAN (G's last, D's first convolution)
    val_per_class: int = 50  # held out of the training split for choices
    imbalance: bool = True  # also run the class-imbalance study
    imbalance_per_class: int = 200  # images of each majority class
    imbalance_minority: tuple[int, ...] = (0, 2, 6)  # Fashion-MNIST: T-shirt, Pullover, Shirt
    imbalance_fraction: float = 0.1  # the minority classes keep this share


def preset(dataset: str | None = None, **overrides) -> ExperimentConfig:
    """The course's experiment in the current mode: the full grid, or a CPU-sized quick one."""
    name = dataset or default_dataset()
    small = name == "digits"  # about 144 training images per class
    config = ExperimentConfig(
        dataset=name,
        budgets=pick(full=(10, 50, 100) if small else (10, 50, 100, 500), quick=(5, 20)),
        seeds=pick(full=5, quick=2),
        classifier_steps=pick(full=2000, quick=150),
        classifier_width=pick(full=32, quick=8),
        batch_size=pick(full=128, quick=32),
        ratios=pick(full=(0.25, 0.5, 0.75), quick=(0.25, 0.5)),
        n_synthetic=pick(full=5000, quick=500),
        generator_steps=pick(full=2000, quick=150),
        gan_width=32 if small else 64,
        val_per_class=pick(full=20 if small else 50, quick=10),
        imbalance_per_class=pick(full=100 if small else 200, quick=20),
        imbalance_fraction=pick(full=0.1, quick=0.25),
    )
    return dataclasses.replace(config, **overrides)


# ----------------------------------------------------------------------------------------
# Generators, trained on the labelled subset only


def train_generator(kind: str, data: ImageDataset, steps: int, seed: int,
                    path: Path | None = None, gan_width: int = 64) -> tuple[nn.Module, bool]:
    """A conditional VAE or GAN trained on ``data``; reuses ``path`` if it holds one already.

    Returns the model and whether training stopped early because the GAN diverged (the model
    is then used as it was: the experiment reports it rather than hiding it).
    """
    torch.manual_seed(seed)
    size, k = data.image_size, data.n_classes
    if kind == "cvae":
        model = VAE(VAEConfig(image_size=size, n_classes=k, latent_dim=16))
    elif kind == "cgan":
        # Full mode: notebook 05's final recipe (DCGAN, hinge loss, D learning 3x faster than
        # G, samples from an EMA of G). On Fashion-MNIST at 100 per class (CPU check, width 32)
        # its samples reached 0.46 class accuracy after 750 steps, where the slower SN-GAN
        # recipe (lr 1e-4 / 4e-4) was still at chance (0.10) after 500. The EMA must span a
        # small share of training: after 2000 steps a 0.999 EMA still holds 13% of the initial
        # weights. Quick mode's 100-150 CPU steps suit the plain non-saturating loss at a
        # higher learning rate and a short EMA.
        model = GAN(GANConfig(image_size=size, n_classes=k, loss=pick("hinge", "bce"),
                              ema_decay=pick(0.995, 0.93), width=gan_width))
    else:
        raise ValueError(f"Unknown generator {kind!r}; choose one of {GENERATORS}.")
    model = model.to(data.device)
    if path is not None and path.is_file():
        with contextlib.suppress(CheckpointMismatchError):
            return model, bool(load_model(model, path)["diverged"])
    diverged = False
    try:
        if kind == "cvae":
            # quick mode: at the default lr, 150 steps leave the cVAE short of its class means
            fit_vae(model, data, steps, batch_size=64, lr=pick(2e-3, 5e-3), seed=seed, desc="cVAE")
        else:
            fit_gan(model, data, steps, batch_size=64, lr_d=pick(1.5e-3, 2e-3),
                    lr_g=pick(5e-4, 2e-3), seed=seed, desc="cGAN")
    except TrainingDivergedError as error:
        print(f"Note: the cGAN of seed {seed} diverged; its samples are used anyway. ({error})")
        diverged = True
    if path is not None:
        save_model(model, path, diverged=diverged)
    return model, diverged


# ----------------------------------------------------------------------------------------
# Recipes: how each model of a stack builds its batches


@dataclass
class Recipe:
    """One method's batches: real images from ``data`` (drawn by ``weights``), a ``ratio`` share
    replaced by images from ``synthetic``, then classical augmentation if ``augment``."""

    method: str
    data: ImageDataset
    weights: torch.Tensor | None = None  # sampling weight per image; None: uniform
    synthetic: tuple[torch.Tensor, torch.Tensor] | None = None
    ratio: float = 0.0
    augment: bool = False


def stacked_batches(recipes: Sequence[Recipe], batch_size: int, seed: int,
                    aug: AugmentConfig) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches for a stack of models: images (M, B, C, H, W) and labels (M, B).

    One set of uniform draws per step is shared by all recipes and mapped through each
    recipe's sampling distribution, so recipes over the same data see the same real images:
    the comparison between methods is paired.
    """
    device = recipes[0].data.device
    shared = make_generator(seed)
    own = [make_generator(seed + 1 + i) for i in range(len(recipes))]
    aug_gen = make_generator(seed + len(recipes) + 1)
    cdfs = []
    for r in recipes:  # cumulative sampling distribution over each recipe's images
        w = r.weights if r.weights is not None else torch.ones(len(r.data))
        cdfs.append((w.double().cumsum(0) / w.sum()).float().cpu())
    augmented = [i for i, r in enumerate(recipes) if r.augment]
    while True:
        u = torch.rand(batch_size, generator=shared)
        xs, ys = [], []
        for r, cdf, gen in zip(recipes, cdfs, own):
            idx = torch.searchsorted(cdf, u).clamp(max=len(cdf) - 1).to(device)
            x, y = r.data.images[idx], r.data.labels[idx]
            n_syn = round(r.ratio * batch_size) if r.synthetic is not None else 0
            if n_syn:
                pool_x, pool_y = r.synthetic
                j = torch.randint(len(pool_y), (n_syn,), generator=gen).to(device)
                x = torch.cat([x[: batch_size - n_syn], pool_x[j]])
                y = torch.cat([y[: batch_size - n_syn], pool_y[j]])
            xs.append(x)
            ys.append(y)
        x, y = torch.stack(xs), torch.stack(ys)  # (M, B, C, H, W), (M, B)
        if augmented:
            picked = x[augmented]  # (A, B, C, H, W)
            x[augmented] = augment(picked.flatten(0, 1), aug_gen, aug).view_as(picked)
        yield x, y


def train_stack(recipes: Sequence[Recipe], config: ExperimentConfig, seed: int) -> SmallCNN:
    """Train one classifier per recipe, side by side, from identical initial weights."""
    data = recipes[0].data
    torch.manual_seed(seed)
    stack = SmallCNN(ClassifierConfig(n_classes=data.n_classes, width=config.classifier_width,
                                      n_models=len(recipes))).to(data.device)
    stack.share_initial_weights()
    batches = stacked_batches(recipes, config.batch_size, seed, config_for(config.dataset))
    fit_classifier(stack, batches, config.classifier_steps, seed=seed, desc="classifiers")
    return stack


def _recipe(method: str, data: ImageDataset, pools: dict, ratios: dict[str, float]) -> Recipe:
    """The Recipe for a method name such as 'none', 'classical' or 'cgan+classical'."""
    generator = next((g for g in GENERATORS if method.startswith(g)), None)
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose from {', '.join(METHODS)}.")
    return Recipe(method, data, synthetic=pools.get(generator),
                  ratio=ratios.get(generator, 0.0), augment=method.endswith("classical"))


# ----------------------------------------------------------------------------------------
# Jobs: one (budget, seed) cell of the grid, or one seed of the imbalance study


def _splits(config: ExperimentConfig, device: torch.device):
    train = load_dataset(config.dataset, "train", device=device)
    test = load_dataset(config.dataset, "test", device=device)
    val_idx = stratified_indices(train.labels, config.val_per_class, VAL_SEED)
    return train, train.subset(val_idx), test, val_idx


def budget_job(config: ExperimentConfig, budget: int, seed: int, sweep: bool,
               ratios: dict[str, float], folder: Path) -> list[dict]:
    """Train the generators and the classifier stack for one (budget, seed); return its rows.

    With ``sweep`` the stack holds each generator at every candidate ratio (plus 'none') and
    rows carry validation accuracy, for choosing the ratio; otherwise one model per method.
    """
    device = get_device()
    train, val, test, val_idx = _splits(config, device)
    labelled = train.subset(stratified_indices(train.labels, budget, seed, exclude=val_idx))
    methods = ("none",) + GENERATORS if sweep else config.methods
    needed = [g for g in GENERATORS if any(m.startswith(g) for m in methods)]
    start = time.perf_counter()
    pools, diverged = {}, {}
    for g in needed:
        model, diverged[g] = train_generator(g, labelled, config.generator_steps, seed,
                                             folder / "generators" / f"{g}-b{budget}-s{seed}.pt",
                                             gan_width=config.gan_width)
        pools[g] = labelled_batch(model, n=config.n_synthetic, seed=seed)
    gen_seconds = time.perf_counter() - start
    if sweep:
        recipes = [_recipe("none", labelled, pools, {})] + [
            _recipe(g, labelled, pools, {g: r}) for g in GENERATORS for r in config.ratios]
    else:
        recipes = [_recipe(m, labelled, pools, ratios) for m in methods]
    start = time.perf_counter()
    stack = train_stack(recipes, config, seed)
    clf_seconds = time.perf_counter() - start
    val_scores, test_scores = evaluate(stack, val), evaluate(stack, test)
    rows = []
    for i, r in enumerate(recipes):
        generator = next((g for g in GENERATORS if r.method.startswith(g)), None)
        rows.append({
            "dataset": config.dataset, "budget": budget, "seed": seed, "method": r.method,
            "ratio": r.ratio, "val_accuracy": val_scores["accuracy"][i],
            "test_accuracy": test_scores["accuracy"][i],
            "test_balanced_accuracy": test_scores["balanced_accuracy"][i],
            "generator_diverged": bool(diverged.get(generator, False)),
            "generator_seconds": round(gen_seconds, 2), "classifier_seconds": round(clf_seconds, 2),
        })
    return rows


def imbalance_job(config: ExperimentConfig, seed: int, folder: Path) -> list[dict]:
    """One seed of the imbalance study: minority classes cut, then four ways to cope."""
    device = get_device()
    train, val, test, val_idx = _splits(config, device)
    balanced = train.subset(stratified_indices(train.labels, config.imbalance_per_class, seed,
                                               exclude=val_idx))
    keep = torch.ones(len(balanced), dtype=torch.bool)
    generator = make_generator(seed)
    for c in config.imbalance_minority:  # cut each minority class to its fraction
        members = torch.nonzero(balanced.labels.cpu() == c).flatten()
        n_keep = max(1, round(len(members) * config.imbalance_fraction))
        keep[members[torch.randperm(len(members), generator=generator)[n_keep:]]] = False
    data = balanced.subset(torch.nonzero(keep).flatten())
    counts = data.class_counts().cpu()
    recipes = []
    for method in IMBALANCE_METHODS:
        if method in GENERATORS:  # fill every class up to the largest with generated images
            model, _ = train_generator(method, data, config.generator_steps, seed,
                                       folder / "generators" / f"{method}-imbalance-s{seed}.pt",
                                       gan_width=config.gan_width)
            images, labels = labelled_batch(model, counts=(counts.max() - counts).tolist(),
                                            seed=seed)
            union = ImageDataset(torch.cat([data.images, images]),
                                 torch.cat([data.labels, labels]), data.classes, data.name)
            recipes.append(Recipe(method, union))
        elif method == "oversample":  # draw every class equally often
            recipes.append(Recipe(method, data, weights=1.0 / counts[data.labels.cpu()].float()))
        else:
            recipes.append(Recipe(method, data, augment=method == "classical"))
    stack = train_stack(recipes, config, seed)
    scores = evaluate(stack, test)
    minority = list(config.imbalance_minority)
    return [{
        "dataset": config.dataset, "seed": seed, "method": r.method,
        "test_accuracy": scores["accuracy"][i],
        "balanced_accuracy": scores["balanced_accuracy"][i],
        "minority_recall": sum(scores["recall"][i][c] for c in minority) / len(minority),
    } for i, r in enumerate(recipes)]


def _job(args: tuple) -> list[dict]:
    """Run one job with inner progress bars hidden (a worker process, or the main one)."""
    kind, *rest = args
    previous = os.environ.get("GENAUG_PROGRESS")
    os.environ["GENAUG_PROGRESS"] = "0"
    try:
        return budget_job(*rest) if kind == "budget" else imbalance_job(*rest)
    finally:
        if previous is None:
            os.environ.pop("GENAUG_PROGRESS")
        else:
            os.environ["GENAUG_PROGRESS"] = previous


# ----------------------------------------------------------------------------------------
# The runner: phases, files, resuming


@dataclass
class Results:
    """Everything one run produced; the same tables are in CSV files in ``folder``."""

    config: ExperimentConfig
    folder: Path
    ratios: dict[str, float]  # the generated share chosen for each generator
    runs: list[dict]  # one row per (budget, seed, method)
    sweep: list[dict]  # the validation sweep of the ratio
    imbalance: list[dict]  # one row per (seed, method) of the imbalance study
    summary: list[dict]  # per (budget, method): mean, CI, paired gains
    imbalance_summary: list[dict]


def default_workers() -> int:
    """Parallel jobs: several on a GPU (small models leave it idle), one on a CPU."""
    return min(4, os.cpu_count() or 1) if get_device().type == "cuda" else 1


def run_experiment(config: ExperimentConfig, out: str | Path, workers: int | None = None
                   ) -> Results:
    """Run (or resume) the whole experiment, writing CSVs, a summary and plots to ``out``.

    Jobs already in ``out``'s CSV files are not run again, so an interrupted run (a closed
    laptop, a lost Colab session) resumes where it stopped.
    """
    folder = Path(out)
    _check_config(folder, config)
    workers = workers or default_workers()
    generators = [g for g in GENERATORS if any(m.startswith(g) for m in config.methods)]
    seeds = range(config.seeds)
    sweep: list[dict] = []
    if config.ratio is not None:
        ratios = {g: config.ratio for g in generators}
    elif generators:
        jobs = [("budget", config, min(config.budgets), s, True, {}, folder) for s in seeds]
        sweep = _run_jobs(jobs, folder / "ratio_sweep.csv", workers, "ratio sweep (validation)")
        ratios = choose_ratios(sweep)
    else:
        ratios = {}
    jobs = [("budget", config, b, s, False, ratios, folder) for s in seeds for b in config.budgets]
    runs = _run_jobs(jobs, folder / "runs.csv", workers, "budgets x seeds")
    imbalance = []
    if config.imbalance:
        jobs = [("imbalance", config, s, folder) for s in seeds]
        imbalance = _run_jobs(jobs, folder / "imbalance.csv", workers, "imbalance study")
    summary = summarise(runs, "test_accuracy", baselines=("none", "classical"))
    imbalance_summary = [  # minority recall and balanced accuracy, each with its own gain
        {**recall, **{k.replace("gain_", "balanced_gain_"): v for k, v in balanced.items()}}
        for recall, balanced in zip(
            summarise(imbalance, "minority_recall", ("none",), group=()),
            summarise(imbalance, "balanced_accuracy", ("none",), group=()))
    ] if imbalance else []
    _write_csv(folder / "summary.csv", summary)
    if imbalance_summary:
        _write_csv(folder / "imbalance_summary.csv", imbalance_summary)
    meta = json.loads((folder / "config.json").read_text())
    meta["chosen_ratios"] = ratios
    (folder / "config.json").write_text(json.dumps(meta, indent=1) + "\n")
    return Results(config, folder, ratios, runs, sweep, imbalance, summary, imbalance_summary)


def choose_ratios(sweep: list[dict]) -> dict[str, float]:
    """For each generator, the generated share with the best mean validation accuracy."""
    chosen = {}
    for g in GENERATORS:
        by_ratio: dict[float, list[float]] = {}
        for row in sweep:
            if row["method"] == g:
                by_ratio.setdefault(float(row["ratio"]), []).append(float(row["val_accuracy"]))
        if by_ratio:
            chosen[g] = max(by_ratio, key=lambda r: sum(by_ratio[r]) / len(by_ratio[r]))
    return chosen


def _job_key(args: tuple) -> tuple:
    return (args[2], args[3]) if args[0] == "budget" else (args[2],)


def _row_key(row: dict, kind: str) -> tuple:
    return (row["budget"], row["seed"]) if kind == "budget" else (row["seed"],)


def _run_jobs(jobs: list[tuple], path: Path, workers: int, desc: str) -> list[dict]:
    """Run the jobs not yet in ``path`` (in parallel processes if workers > 1), appending rows."""
    rows = read_rows(path)
    done = {_row_key(r, jobs[0][0]) for r in rows} if jobs else set()
    todo = [job for job in jobs if _job_key(job) not in done]
    with progress_bar(len(jobs), desc, initial=len(jobs) - len(todo)) as bar:
        if workers > 1 and len(todo) > 1:
            context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context) as pool:
                for new in pool.map(_job, todo):
                    rows += new
                    _write_csv(path, rows)
                    bar.update()
        else:
            for job in todo:
                rows += _job(job)
                _write_csv(path, rows)
                bar.update()
    return rows


def _check_config(folder: Path, config: ExperimentConfig) -> None:
    """Refuse to mix results of two configurations in one folder; record the config."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    wanted = json.loads(json.dumps(dataclasses.asdict(config)))  # tuples -> lists
    if path.is_file():
        saved = json.loads(path.read_text()).get("config", {})
        diffs = sorted(k for k in wanted if saved.get(k) != wanted[k])
        if diffs:
            raise ValueError(
                f"{folder} holds results of another configuration (it differs in: "
                f"{', '.join(diffs)}). Choose another --out folder, or delete this one."
            )
        return
    meta = {"config": wanted, "genaug_version": __version__, "git_commit": _git_commit(),
            "device": describe(get_device()), "torch": torch.__version__,
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.write_text(json.dumps(meta, indent=1) + "\n")


def _git_commit() -> str:
    """The code version the results came from (or 'unknown' outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    columns = list(dict.fromkeys(k for row in rows for k in row))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a results CSV with numbers and booleans turned back into Python values."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _parse(value: str):
    if value in ("True", "False"):
        return value == "True"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
