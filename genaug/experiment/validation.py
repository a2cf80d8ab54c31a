"""Checking an experiment's settings before anything is trained or written.

A bad value must never turn into a table that looks like a result: ``--budgets -5`` once
trained on everything but 5 images per class, and ``classifier_steps=0`` reported chance as an
accuracy. :func:`validate` runs first, for the command line and the Python API alike, and
raises a :class:`ConfigError` whose one line names the value and the fix.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Sequence

from genaug.augment import CLASSICAL_RECIPES, recipes_for
from genaug.data import DATASETS, FOLDER
from genaug.experiment.settings import METHODS, MIXING_CHOICES, ExperimentConfig
from genaug.experiment.stacks import generated_count
from genaug.folder import MAX_SIZE
from genaug.models.gan import LOSSES

POSITIVE_INTS = ("seeds", "classifier_steps", "classifier_width", "batch_size", "n_synthetic",
                 "generator_steps", "generator_batch_size", "cvae_latent_dim", "cvae_width",
                 "gan_width", "diffusion_width", "diffusion_sample_steps", "val_per_class",
                 "imbalance_per_class")
POSITIVE_FLOATS = ("cvae_lr", "gan_lr_d", "gan_lr_g", "diffusion_lr", "diffusion_guidance",
                   "latent_temperature")


class ConfigError(ValueError):
    """A setting that cannot give a result; the message names it and the fix."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_share(name: str, value, config: ExperimentConfig) -> None:
    """A generated share of a batch: a finite number in (0, 1] (below 1 where generated images
    are added to the real ones) that brings in at least one generated image."""
    adds = "add" in config.mixings()
    _require(_is_number(value) and 0 < value <= 1,
             f"{name} must be a share of the batch in (0, 1], got {value!r}.")
    _require(not (adds and value == 1), f"{name}=1 in add mode would need endless generated "
                                        "images beside the real batch; use a share below 1.")
    fewest = min(generated_count(value, config.batch_size, m) for m in config.mixings())
    _require(fewest >= 1, f"{name}={value} of a batch of {config.batch_size} brings in no "
                          f"generated image; use at least {1 / config.batch_size:.3g}.")


def _check_unique(name: str, values: Sequence, allowed: Sequence | None = None) -> None:
    _require(len(values) > 0, f"{name} is empty; give at least one value.")
    repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
    _require(not repeated, f"{name} repeats {', '.join(repeated)}; give each value once.")
    if allowed is not None:
        unknown = [str(v) for v in values if v not in allowed]
        _require(not unknown, f"Unknown {name[:-1]} {', '.join(unknown)}; choose from "
                              f"{', '.join(map(str, allowed))}.")


def _check_counts(config: ExperimentConfig) -> None:
    for name in POSITIVE_INTS:
        value = getattr(config, name)
        _require(_is_int(value) and value > 0, f"{name} must be a positive whole number, got "
                                               f"{value!r}.")
    for name in POSITIVE_FLOATS:
        value = getattr(config, name)
        _require(_is_number(value) and value > 0, f"{name} must be a positive number, got "
                                                  f"{value!r}.")
    sweep = config.sweep_seeds
    _require(_is_int(sweep) and 0 <= sweep <= config.seeds, f"sweep_seeds must be a whole number "
             f"from 1 to seeds ({config.seeds}), or 0 for every seed, got {sweep!r}.")
    epochs = config.classifier_epochs
    _require(_is_number(epochs) and epochs >= 0, f"classifier_epochs must be a number of passes "
                                                  f"(0 for none), got {epochs!r}.")
    _check_unique("budgets", config.budgets)
    bad = [str(b) for b in config.budgets if not (_is_int(b) and b > 0)]
    _require(not bad, f"budgets must be positive whole numbers of images per class, got "
                      f"{', '.join(bad)}.")


def _check_choices(config: ExperimentConfig) -> None:
    _require(config.dataset in DATASETS + (FOLDER,), f"Unknown dataset {config.dataset!r}; "
                                                     f"choose from {', '.join(DATASETS)} or "
                                                     f"{FOLDER} (with data_root).")
    _check_folder(config)
    _require(config.mode in ("quick", "full"), f"mode must be 'quick' or 'full', got "
                                               f"{config.mode!r}.")
    _check_unique("methods", config.methods, METHODS)
    _check_recipes(config)
    _require(config.gan_loss in LOSSES, f"gan_loss must be one of {', '.join(LOSSES)}, got "
                                        f"{config.gan_loss!r}.")
    _require(_is_number(config.gan_ema_decay) and 0 <= config.gan_ema_decay < 1,
             f"gan_ema_decay must be in [0, 1), got {config.gan_ema_decay!r}.")
    _require(config.mixing in MIXING_CHOICES,
             f"mixing must be one of {', '.join(MIXING_CHOICES)}, got {config.mixing!r}.")
    for name in ("imbalance", "measure_pools"):
        value = getattr(config, name)
        _require(isinstance(value, bool), f"{name} must be True or False, got {value!r}.")


def _check_recipes(config: ExperimentConfig) -> None:
    """Classical recipes are names of CLASSICAL_RECIPES that move this dataset's images."""
    _check_unique("classical_recipes", config.classical_recipes, tuple(CLASSICAL_RECIPES))
    still = [r for r in config.classical_recipes if r not in recipes_for(config.dataset)]
    _require(not still, f"classical recipe {', '.join(still)} leaves the images of "
                        f"{config.dataset} as they are (a mirror image is another class, so "
                        "nothing flips): that is the method none; choose from "
                        f"{', '.join(recipes_for(config.dataset))}.")


def _check_folder(config: ExperimentConfig) -> None:
    """A folder needs data_root and a size the models take; the named datasets need neither."""
    if config.dataset != FOLDER:
        _require(config.data_root is None and config.image_size is None,
                 f"data_root and image_size are for dataset {FOLDER!r} only; {config.dataset} "
                 "brings its own files and size: drop them.")
        return
    _require(isinstance(config.data_root, str) and config.data_root != "",
             f"dataset {FOLDER!r} needs data_root, the folder with a subfolder of images per "
             "class (--data PATH).")
    size = config.image_size
    _require(_is_int(size) and 8 <= size <= MAX_SIZE and size % 4 == 0,
             f"image_size must be a multiple of 4 from 8 (the generators halve it twice) to "
             f"{MAX_SIZE}, got {size!r}.")


def _check_shares(config: ExperimentConfig) -> None:
    _check_unique("ratios", config.ratios)
    for value in config.ratios:
        _check_share("each of ratios", value, config)
    if config.ratio is not None:
        _check_share("ratio", config.ratio, config)
    fraction = config.imbalance_fraction
    _require(_is_number(fraction) and 0 < fraction <= 1,
             f"imbalance_fraction must be a share in (0, 1], got {fraction!r}.")
    _check_unique("thresholds", config.thresholds)
    bad = [str(t) for t in config.thresholds if not (_is_number(t) and 0 <= t < 1)]
    _require(not bad, f"thresholds are a classifier's confidence, each in [0, 1); got "
                      f"{', '.join(bad)}.")
    share = config.latent_interpolation
    _require(_is_number(share) and 0 <= share <= 1,
             f"latent_interpolation must be a share in [0, 1], got {share!r}.")
    n = config.n_unlabelled
    _require(n is None or (_is_int(n) and n > 0), f"n_unlabelled must be a positive whole "
                                                  f"number, or None for all, got {n!r}.")


def check_fits_data(config: ExperimentConfig, class_counts: Sequence[int]) -> None:
    """Budgets (and the imbalance study) must fit the smallest class beside the validation set."""
    room = min(class_counts) - config.val_per_class
    where, more = ((config.data_root, ", or add images to that class")
                   if config.dataset == FOLDER else (config.dataset, ""))
    _require(room > 0, f"val_per_class={config.val_per_class} leaves no training image in the "
                       f"smallest class of {where} ({min(class_counts)} images); lower it"
                       f"{more}.")
    largest = max(config.budgets)
    _require(largest <= room, f"budget {largest} does not fit {where}: its smallest "
                          f"class has {room} images beside the validation set; use budgets up "
                          f"to {room}{more}.")
    if not config.imbalance:
        return
    _require(config.imbalance_per_class <= room,
             f"imbalance_per_class={config.imbalance_per_class} does not fit: at most {room} "
             "(or skip the imbalance study with --no-imbalance).")
    k = len(class_counts)
    _check_unique("imbalance_minority", config.imbalance_minority)
    _require(all(_is_int(c) and 0 <= c < k for c in config.imbalance_minority),
             f"imbalance_minority must name classes 0..{k - 1}, got "
             f"{list(config.imbalance_minority)}; name them with --set imbalance_minority=0,1 "
             "(or skip the study with --no-imbalance).")
    _require(len(config.imbalance_minority) < k, "imbalance_minority names every class; leave "
                                                 "at least one majority class.")


def validate(config: ExperimentConfig, class_counts: Sequence[int] | None = None) -> None:
    """Raise :class:`ConfigError` for the first setting that cannot give a result.

    ``class_counts`` (training images per class) lets budgets be checked against the data.
    """
    _check_choices(config)
    _check_counts(config)
    _check_shares(config)
    if class_counts is not None:
        check_fits_data(config, class_counts)


def check_output_folder(folder: Path) -> None:
    """Refuse a results folder that is a file, lies under a file, or cannot be written."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} is a file; name a folder (it is created if missing).")
    existing = next(p for p in [folder, *folder.parents] if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"--out {folder} lies under the file {existing}; name a folder "
                          "elsewhere.")
    try:  # os.access says yes to root on a read-only file system: try a real write
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ConfigError(f"--out {folder} cannot be written ({error.strerror} in {existing}); "
                          "choose a folder you can write to.") from None
