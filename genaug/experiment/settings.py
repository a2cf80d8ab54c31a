"""The experiment's settings: one frozen config holding every knob that shapes a result.

Everything the results folder records lives here, the generators' recipes included, so a
folder's ``config.json`` is all that is needed to reproduce (or refuse to resume) a run. The
two presets, quick and full, differ only in the values :func:`preset` picks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from genaug.augment import CLASSICAL_RECIPES, DEFAULT_RECIPE, recipes_for
from genaug.config import mode, pick
from genaug.data import DEFAULT_SIZE, FOLDER, ImageDataset, default_dataset, load_dataset

GENERATORS = ("cvae", "cgan", "cdiff")  # conditional generators trained on the budget alone
# Every arm that adds images to the classifier's batches, by the data it may see:
LABELLED_SOURCES = GENERATORS + tuple(f"filtered-{g}" for g in GENERATORS)
UNLABELLED_SOURCES = ("latent-vae", "finetuned-cvae", "finetuned-cgan", "pseudo-label")
REFERENCE_SOURCES = tuple(f"oracle-{g}" for g in GENERATORS)  # all labels: not a fair method
SOURCES = LABELLED_SOURCES + UNLABELLED_SOURCES + REFERENCE_SOURCES
THRESHOLDED = tuple(s for s in SOURCES if s.startswith("filtered-")) + ("pseudo-label",)
CLASSICAL = "classical"  # the method, and the key its recipe's choice is kept under
SETTINGS = {"labelled": ("none", CLASSICAL, *LABELLED_SOURCES),
            "labelled + unlabelled": UNLABELLED_SOURCES,
            "reference": REFERENCE_SOURCES}
METHODS = ("none", CLASSICAL, "cvae", "cgan", "cdiff",
           "cvae+classical", "cgan+classical", "cdiff+classical",
           *LABELLED_SOURCES[3:], *UNLABELLED_SOURCES, *REFERENCE_SOURCES)
FULL_METHODS = METHODS[:8] + UNLABELLED_SOURCES + REFERENCE_SOURCES  # --filter adds filtered-*
# Quick mode keeps the question's core (each generator against none and classical) and leaves
# diffusion and the '+classical' combinations to full mode: the two combinations alone added
# 40 s to the quick command's 6 minutes on a 2-core CPU, and 8 verdicts read at once mislead
# less than 16.
QUICK_METHODS = METHODS[:4]
IMBALANCE_METHODS = ("none", "oversample", "classical", "cvae", "cgan")
VAL_SEED = 10_000  # the validation set is the same for every seed and budget
# How an arm's generated images enter a batch of B real draws (genaug.experiment.stacks):
# "replace": the last round(r * B) real images give way to generated ones (B in all);
# "add": every real image stays and round(r * B / (1 - r)) generated ones are appended, so r
# is the generated share of the combined batch in both modes and every arm sees the same real
# images in the same steps. "both" runs each arm twice; an add-mode row is named "cgan@add".
MIXINGS = ("replace", "add")
MIXING_CHOICES = (*MIXINGS, "both")


@dataclass(frozen=True)
class Method:
    """A method name parsed once: the arm that feeds it extra images, whether it adds classical
    augmentation, and the setting (which labels and images) it belongs to."""

    name: str
    source: str | None  # an entry of SOURCES, or None for real labelled images only
    classical: bool  # classical augmentation on top
    setting: str  # "labelled", "labelled + unlabelled" or "reference"
    mixing: str = "replace"  # how its generated images enter a batch (MIXINGS)


def parse_method(name: str) -> Method:
    """``"cgan+classical"`` -> Method("cgan+classical", "cgan", True, "labelled"); a row of
    add mode is named with its mode: ``"cgan@add"`` -> Method(..., mixing="add")."""
    method, _, mixing = name.partition("@")
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose from {', '.join(METHODS)}.")
    base = method.removesuffix("+classical")
    source = base if base in SOURCES else None
    if mixing and (mixing not in MIXINGS[1:] or source is None):
        raise ValueError(f"{name!r}: only an arm with generated images takes a mixing mode, "
                         f"one of {', '.join(MIXINGS[1:])} (replace is the plain name).")
    setting = next(k for k, members in SETTINGS.items() if base in members)
    return Method(name, source, method.endswith("classical"), setting, mixing or MIXINGS[0])


def arm_label(name: str, mixing: str) -> str:
    """The name a method's rows carry in ``mixing`` mode: ``cgan`` (replace), ``cgan@add``."""
    return name if mixing == MIXINGS[0] else f"{name}@{mixing}"


class Option(NamedTuple):
    """What validation may choose for an arm: a share (and threshold), or classical's recipe."""

    ratio: float | None = None
    threshold: float | None = None
    recipe: str | None = None


def with_filtered(methods: tuple[str, ...]) -> tuple[str, ...]:
    """``methods`` plus a filtered twin of each generator arm in it (what ``--filter`` asks)."""
    twins = [f"filtered-{m}" for m in methods if m in GENERATORS]
    return methods + tuple(t for t in twins if t not in methods)


@dataclass(frozen=True)
class ExperimentConfig:
    """Every setting of one run; the defaults are the full-mode grid."""

    dataset: str = "fashion_mnist"  # a name of genaug.data.DATASETS, or "folder"
    data_root: str | None = None  # dataset "folder": the folder with a subfolder per class
    image_size: int | None = None  # dataset "folder": the side its images are resized to
    mode: str = "full"  # the preset the values came from; quick and full never share a folder
    budgets: tuple[int, ...] = (10, 50, 100, 500)  # labelled images per class
    methods: tuple[str, ...] = FULL_METHODS
    seeds: int = 5  # seeds 0..seeds-1; an interval needs at least 3
    sweep_seeds: int = 0  # the validation sweep's seeds, 0..sweep_seeds-1; 0: every seed
    # the classifier: identical for every method, so every method gets the same compute
    classifier_steps: int = 2000
    # a steps-per-budget rule: at least this many passes over a budget's labelled images, so
    # the classifier trains to its plateau at larger budgets too; 0: classifier_steps everywhere
    classifier_epochs: float = 0.0
    classifier_width: int = 32
    batch_size: int = 128
    # generated images in the classifier's batches
    ratios: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75)  # generated shares tried on val, per budget
    ratio: float | None = None  # a fixed generated share instead of the validation sweep
    mixing: str = "replace"  # "replace", "add" or "both": see MIXINGS
    thresholds: tuple[float, ...] = (0.5, 0.9)  # filtered-* and pseudo-label: the confidence
    # a classifier trained on the budget must give an image's label to keep it; tried on val
    # classical's recipes (genaug.augment) tried on val, per budget; '+classical' arms share it
    classical_recipes: tuple[str, ...] = tuple(CLASSICAL_RECIPES)
    n_synthetic: int = 5000  # images drawn once from each generator, then sampled per batch
    # the generators' recipes, trained on the labelled budget only
    generator_steps: int = 2000
    generator_batch_size: int = 64
    cvae_latent_dim: int = 16
    cvae_width: int = 32  # feature maps of the cVAE's first convolution
    cvae_lr: float = 2e-3
    gan_width: int = 64  # feature maps of the cGAN (G's last, D's first convolution)
    gan_loss: str = "hinge"  # full mode: hinge, TTUR and EMA, checked on a CPU at 100 per class
    gan_ema_decay: float = 0.995  # spans ~200 steps: a 0.999 EMA still holds 13% of step 0
    gan_lr_d: float = 1.5e-3  # D learns 3x faster than G (two time-scale update rule)
    gan_lr_g: float = 5e-4
    diffusion_width: int = 64  # feature maps of the denoiser at half size (notebook 08)
    diffusion_lr: float = 2e-3
    diffusion_sample_steps: int = 20  # Euler steps from noise to image
    diffusion_guidance: float = 2.0  # classifier-free guidance: class accuracy vs diversity
    # setting 2: the training split's images without their labels (the budget's labels only)
    n_unlabelled: int | None = None  # how many of them (drawn once per seed); None: all
    latent_temperature: float = 1.0  # latent-vae: z ~ N(mu, (t * sigma)^2) around an image
    latent_interpolation: float = 0.5  # latent-vae: share of same-class interpolations
    measure_pools: bool = True  # score each arm's pool with notebook 06's measures (a judge)
    # choices are made on a validation split held out of the training images
    val_per_class: int = 50
    # the class-imbalance study
    imbalance: bool = True
    imbalance_per_class: int = 200  # images of each majority class
    # the named datasets' minority classes (Fashion-MNIST: T-shirt, Pullover, Shirt, the tops
    # most often confused); preset() gives a folder minority_classes(its number of classes)
    imbalance_minority: tuple[int, ...] = (0, 2, 6)
    imbalance_fraction: float = 0.1  # the minority classes keep this share

    def load(self, split: str, device: torch.device | str | None = None) -> ImageDataset:
        """A split of this run's dataset (a folder's read from data_root at image_size)."""
        return load_dataset(self.dataset, split, root=self.data_root, size=self.image_size,
                            device=device)

    def fingerprint(self) -> str:
        """Eight hex digits that change with any setting: a cache folder named by them never
        holds another configuration's results, so editing a notebook's config starts afresh."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    def sources(self) -> tuple[str, ...]:
        """The arms this run's methods draw extra images from, in SOURCES order."""
        used = {parse_method(m).source for m in self.methods}
        return tuple(s for s in SOURCES if s in used)

    def classifier_steps_for(self, n_labelled: int) -> int:
        """The classifier's steps on ``n_labelled`` real images (every method the same): at
        least ``classifier_steps``, more where ``classifier_epochs`` passes need them."""
        passes = math.ceil(self.classifier_epochs * n_labelled / self.batch_size)
        return max(self.classifier_steps, passes)

    def mixings(self) -> tuple[str, ...]:
        """The mixing modes each generator arm runs in."""
        return MIXINGS if self.mixing == "both" else (self.mixing,)

    def candidates(self) -> dict[str, list[Option]]:
        """The options validation may choose between: classical's recipes (where a method uses
        it), each source's (ratio, threshold) pairs; a key with one option has nothing to choose."""
        ratios = self.ratios if self.ratio is None else (self.ratio,)
        found = {s: [Option(r, t) for r in ratios
                     for t in (self.thresholds if s in THRESHOLDED else (None,))]
                 for s in self.sources()}
        if any(parse_method(m).classical for m in self.methods):
            found = {CLASSICAL: [Option(recipe=r) for r in self.classical_recipes], **found}
        return found

    def arm_labels(self, key: str) -> tuple[str, ...]:
        """The rows a key of :meth:`candidates` runs as: 'cgan' and 'cgan@add'; classical once."""
        return tuple(arm_label(key, m) for m in self.mixings()) if key in SOURCES else (key,)


def preset(dataset: str | None = None, **overrides) -> ExperimentConfig:
    """The course's experiment in the current mode: the full grid, or a CPU-sized quick one.

    Quick mode keeps five seeds (an interval from two says nothing), the first two budgets of
    the full grid and small, short-trained networks; its cGAN is the plain non-saturating GAN
    at a high learning rate with a short EMA, which learns in ~150 CPU steps where the
    hinge/TTUR recipe needs thousands. On a folder (``data_root=PATH``) the preset sizes
    itself to the folder's training images: see :func:`fitted_to`.
    """
    name = dataset or default_dataset()
    small = name == "digits"  # about 144 training images per class
    config = ExperimentConfig(
        dataset=name,
        image_size=DEFAULT_SIZE if name == FOLDER else None,
        mode=mode(),
        methods=pick(full=FULL_METHODS, quick=QUICK_METHODS),
        budgets=pick(full=(10, 50, 100) if small else (10, 50, 100, 500), quick=(10, 50)),
        seeds=5,  # in both modes: an interval needs 3, and 5 make it about half as wide
        classifier_steps=pick(full=2000, quick=200),
        classifier_width=pick(full=32, quick=16),
        batch_size=pick(full=128, quick=64),
        **_validation_choices(name),
        mixing=pick(full="both", quick="replace"),  # quick keeps its 5-minute grid
        n_synthetic=pick(full=5000, quick=500),
        n_unlabelled=pick(full=None, quick=5000),
        measure_pools=pick(full=True, quick=False),  # the judge costs a CPU about a minute
        **_generator_recipes(small),
        val_per_class=pick(full=20 if small else 50, quick=20),
        imbalance_per_class=pick(full=100 if small else 200, quick=50),
        imbalance_fraction=pick(full=0.1, quick=0.2),
    )
    config = dataclasses.replace(config, **_known(overrides))
    if name == FOLDER and config.data_root is not None:
        counts = config.load("train").class_counts().tolist()
        config = fitted_to(config, counts, given=set(overrides))
    return config


def _validation_choices(name: str) -> dict:
    """What validation chooses between in the current mode, on dataset ``name``."""
    return dict(
        ratios=pick(full=(0.1, 0.25, 0.5, 0.75), quick=(0.25, 0.5)),
        # quick mode fixes the share: its 200 validation images could not tell 0.25 from 0.5
        # (cVAE 68.6% vs 69.0%, cGAN 67.6% vs 66.8%, seeds spread over 9 points), and the sweep
        # cost the quick command 46 s of its 5 min 25 s on a 2-core CPU; every larger sweep
        # here chose 0.25
        ratio=pick(full=None, quick=0.25),
        # quick mode keeps config_for's recipe: with the share fixed its methods choose nothing
        # on validation, and a recipe choice would add that phase (10 jobs) to its 5 minutes
        classical_recipes=pick(full=recipes_for(name), quick=(DEFAULT_RECIPE,)),
    )


def _generator_recipes(small: bool) -> dict:
    """The generators' steps and recipes in the current mode (``small``: the 8x8 digits)."""
    return dict(
        generator_steps=pick(full=2000, quick=150),
        cvae_width=pick(full=32, quick=16),
        cvae_lr=pick(full=2e-3, quick=5e-3),
        gan_width=32 if small else pick(full=64, quick=32),
        gan_loss=pick(full="hinge", quick="bce"),
        gan_ema_decay=pick(full=0.995, quick=0.93),
        gan_lr_d=pick(full=1.5e-3, quick=2e-3),
        gan_lr_g=pick(full=5e-4, quick=2e-3),
        diffusion_width=pick(full=64, quick=16),
        diffusion_lr=pick(full=2e-3, quick=3e-3),
        diffusion_sample_steps=pick(full=20, quick=10),
    )


def minority_classes(n_classes: int) -> tuple[int, ...]:
    """The imbalance study's minority classes for data of ``n_classes`` classes: every third
    class from the first, a third of them and at least one (2 classes: (0,); 10: (0, 3, 6);
    100: 0, 3, ..., 96), so a majority class always remains."""
    return tuple(range(0, 3 * max(1, n_classes // 3), 3))


def fitted_to(config: ExperimentConfig, counts: list[int], given: set[str] = frozenset()
              ) -> ExperimentConfig:
    """The config's sizes cut to data whose classes hold ``counts`` training images, settings
    named in ``given`` kept as they are: validation takes at most a quarter of the smallest
    class, the budgets are those that fit beside it (else all that is left), the imbalance
    study's classes hold as many at most, and its minority classes are minority_classes'."""
    val = (config.val_per_class if "val_per_class" in given
           else max(1, min(config.val_per_class, min(counts) // 4)))
    room = min(counts) - val  # below 1, validation names the problem
    fitted = {"val_per_class": val, "imbalance_minority": minority_classes(len(counts))}
    if room >= 1:
        fitted["budgets"] = tuple(b for b in config.budgets if b <= room) or (room,)
        fitted["imbalance_per_class"] = min(config.imbalance_per_class, room)
    return dataclasses.replace(config, **{k: v for k, v in fitted.items() if k not in given})


def _known(overrides: dict) -> dict:
    """``overrides`` if every name is a setting, else an error naming the unknown ones."""
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(ExperimentConfig)})
    if unknown:
        raise ValueError(f"Unknown experiment setting(s): {', '.join(unknown)}; the settings "
                         "are the fields of genaug.experiment.ExperimentConfig.")
    return overrides
