"""The downstream experiment: do generated images make a small-data classifier better?

The design, in the order the runner follows it:

1. Every setting is checked before anything is trained or written (``validation``).
2. A validation set is held out of the training split once (never the test set).
3. For every label budget (images per class) and seed, a labelled subset is drawn. Each arm
   builds its pool of extra images from what its setting may see (``arms``): the labelled
   budget only (conditional VAE, GAN or diffusion model, and their filtered twins); the budget
   plus the training split's other images without their labels (latent variations, fine-tuned
   generators, pseudo-labels); or, as a reference line only, every label (oracle generators).
4. The share of generated images in a batch (and an arm's confidence threshold) is chosen on
   the validation set at each budget (a short sweep, ``choices``), unless a ratio is fixed; so
   is classical augmentation's recipe, which every '+classical' arm of that budget shares.
   Generated images replace real ones in each batch, or are added beside a full real batch
   (``mixing``; see ``stacks``), or both, each mode an arm of its own. A budget's runs start
   as soon as its own sweep is done, while other budgets' sweeps go on (``schedule``).
5. Every method trains the same classifier for the same number of steps. The methods of one
   seed start from the same weights and see the same real batches, so their differences are
   paired. They are trained side by side as one stacked model (see ``SmallCNN``).
6. Test accuracy per (method, budget, seed) goes to a CSV; the summary gives means with 95%
   confidence intervals and the paired gain over no augmentation and over classical
   augmentation, each with its paired t-test p-value (``runner``, ``genaug.stats``); the report
   adjusts the p-values of its primary comparisons with Holm's procedure (``genaug.verdicts``).
7. Each arm's pool can be scored beside its gain (``quality``): notebook 06's measures on the
   very images the classifier drew from.
8. A class-imbalance study compares no augmentation, oversampling, classical augmentation and
   generator rebalancing on the minority classes' recall and on balanced accuracy.

Every setting lives in one frozen :class:`ExperimentConfig` (``settings``), recorded in the
results folder's ``config.json``.
"""

from genaug.experiment.arms import ArmData, Pool, PoolMaker, arm_data
from genaug.experiment.choices import choose_ratios, choose_recipes, choose_thresholds
from genaug.experiment.generators import build_generator, train_generator
from genaug.experiment.jobs import BudgetJob, ImbalanceJob, recipe_for
from genaug.experiment.results_io import read_rows
from genaug.experiment.runner import (
    Results,
    UnfinishedRun,
    default_workers,
    load_results,
    run_experiment,
)
from genaug.experiment.settings import (
    CLASSICAL,
    GENERATORS,
    IMBALANCE_METHODS,
    METHODS,
    MIXINGS,
    SETTINGS,
    SOURCES,
    VAL_SEED,
    ExperimentConfig,
    Method,
    arm_label,
    minority_classes,
    parse_method,
    preset,
    with_filtered,
)
from genaug.experiment.stacks import Recipe, stacked_batches, train_stack
from genaug.experiment.validation import ConfigError, validate

__all__ = [
    "CLASSICAL", "GENERATORS", "IMBALANCE_METHODS", "METHODS", "MIXINGS", "SETTINGS", "SOURCES",
    "VAL_SEED", "ArmData", "arm_data", "arm_label", "BudgetJob", "build_generator",
    "choose_ratios", "choose_recipes", "choose_thresholds", "ConfigError", "default_workers",
    "ExperimentConfig", "ImbalanceJob", "load_results", "Method", "minority_classes",
    "parse_method", "Pool", "PoolMaker", "preset", "read_rows", "Recipe", "recipe_for",
    "Results", "run_experiment", "stacked_batches", "train_generator", "train_stack",
    "UnfinishedRun", "validate", "with_filtered",
]
