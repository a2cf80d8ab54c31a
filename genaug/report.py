"""Reading the experiment's results: a text report and the figures notebook 07 shows."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

from genaug.experiment import CLASSICAL, ExperimentConfig, Results, parse_method
from genaug.plots import plot_reference_lines, plot_with_ci
from genaug.stats import MIN_SEEDS, format_table
from genaug.verdicts import (
    points,
    verdict,  # noqa: F401  (the notebooks read it from here)
    verdict_lines,
)


def percent_with_ci(row: dict, key: str) -> str:
    """'72.3 [70.1, 74.5]': a mean and its interval, in percent."""
    mean, low, high = row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")
    signed = "gain" in key
    if mean is None:
        return ""
    shown = f"{100 * mean:{'+' if signed else ''}.1f}"  # a mean needs no more: only bounds do
    if low is None or math.isnan(low):
        return shown
    return f"{shown} [{points(low, signed)}, {points(high, signed)}]"


SETTING_TITLES = {
    "labelled": "Labelled images only (the budget)",
    "labelled + unlabelled": "Labelled budget + the training split's other images, unlabelled",
    "reference": "Reference, not a fair method: generators trained on every labelled image",
}
GAIN_COLUMNS = {"labelled": ("none", "classical"), "labelled + unlabelled": ("none",
                "pseudo-label"), "reference": ("none",)}


def in_setting(summary: list[dict], setting: str) -> list[dict]:
    """The summary rows of one setting; 'none' (the common baseline) leads every setting."""
    return [r for r in summary if parse_method(r["method"]).setting == setting
            or (r["method"] == "none" and setting != "labelled")]


def summary_table(results: Results, setting: str = "labelled") -> str:
    """Test accuracy per budget and method of one setting, with its paired gains (over a
    baseline's add-mode twin too, where the run has one)."""
    found = in_setting(results.summary, setting)
    bases = [b for base in GAIN_COLUMNS[setting] for b in (base, f"{base}@add")
             if any(f"gain_vs_{b}" in r for r in found)]
    gains = [f"gain vs {b}" for b in bases]
    rows = [{"budget": r["budget"], "method": r["method"],
             "test acc % [95% CI]": percent_with_ci(r, "test_accuracy"),
             **{g: percent_with_ci(r, g.replace(" ", "_")) for g in gains}}
            for r in found]
    return format_table(rows, ["budget", "method", "test acc % [95% CI]", *gains])


IMBALANCE_COLUMNS = ["method", "minority recall %", "gain vs none", "gain vs oversample",
                     "balanced acc %", "balanced gain vs none"]


def imbalance_rows(results: Results) -> list[dict]:
    """Minority recall and balanced accuracy per method, with paired gains over none (and, for
    recall, over oversampling), as text cells named by IMBALANCE_COLUMNS."""
    keys = ["minority_recall", "gain_vs_none", "gain_vs_oversample", "balanced_accuracy",
            "balanced_gain_vs_none"]
    return [{"method": r["method"], **{c: percent_with_ci(r, k) for c, k in
                                       zip(IMBALANCE_COLUMNS[1:], keys, strict=True)}}
            for r in results.imbalance_summary]


def imbalance_table(results: Results) -> str:
    """The imbalance study as a plain-text table."""
    return format_table(imbalance_rows(results), IMBALANCE_COLUMNS)


def classical_lost(summary: list[dict], budget: int) -> bool:
    """True where classical augmentation itself is evidently worse than none at ``budget``."""
    return any(r["method"] == "classical" and r["budget"] == budget
               and r.get("gain_vs_none_high", math.nan) < 0 for r in summary)


def verdicts(results: Results) -> list[str]:
    """The Holm-adjusted verdicts of the primary comparisons, the oracle arms' reference block,
    and what the gains over classical augmentation in the tables can say."""
    lines = verdict_lines(results.summary)
    if any("gain_vs_classical" in r for r in results.summary):
        lost = [b for b in sorted({r["budget"] for r in results.summary})
                if classical_lost(results.summary, b)]
        lines.append("\nOutside the family: the tables' gains over classical augmentation are "
                     "description, not verdicts" + (
                         f"; classical itself lost to none at {', '.join(map(str, lost))} per "
                         "class, so a gain over it there says little about a generator."
                         if lost else "."))
    return lines


def _chosen(choices: dict[int, dict[str, float]], swept: set) -> str:
    """Per-budget choices as text; a run that chose at fewer budgets (before per-budget sweeps:
    at the smallest) says where it chose and that every budget used that choice."""
    def listed(arms: dict[str, float]) -> str:
        return ", ".join(f"{arm} {value}" for arm, value in arms.items())

    if swept and swept != set(choices):
        at = ", ".join(map(str, sorted(swept)))
        return (f"chosen on validation at {at} per class, used at every budget: "
                f"{listed(choices[min(swept)])}")
    return "chosen on validation at each budget: " + "; ".join(
        f"{b} per class: {listed(arms)}" for b, arms in sorted(choices.items()))


MIXING_NOTES = {"replace": "generated images replace real ones",
                "add": "generated images added to a full real batch",
                "both": "both replace and add (rows ending in @add)"}


def _share_note(config: ExperimentConfig, ratios: dict[int, dict[str, float]],
                swept: set = frozenset()) -> str:
    """How each arm's generated share was set (fixed in advance, or chosen on validation at
    the ``swept`` budgets) and how it entered the batches."""
    if not any(ratios.values()):
        return ""
    mixing = MIXING_NOTES[config.mixing]
    if config.ratio is not None:
        return f", generated share fixed at {config.ratio}, {mixing}"
    return f", {mixing}, generated share {_chosen(ratios, swept)}"


def _recipe_note(results: Results) -> str:
    """Classical augmentation's recipe (every '+classical' arm's too): the only candidate, or
    the one chosen on validation at each budget; nothing for a folder that predates the choice."""
    chosen = {b: arms[CLASSICAL] for b, arms in sorted(results.recipes.items())
              if CLASSICAL in arms}
    candidates = results.config.classical_recipes
    if not chosen:
        return ""
    if len(candidates) == 1:
        return f", classical recipe {candidates[0]}"
    return (f", classical recipe chosen on validation per budget from {', '.join(candidates)}: "
            + ", ".join(f"{b} per class: {recipe}" for b, recipe in chosen.items()))


def settings_note(results: Results) -> str:
    """The run's classifier steps, generated share, mixing, thresholds and classical recipe, in
    one line."""
    swept = {r["budget"] for r in results.sweep}
    thresholds = (f", confidence thresholds {_chosen(results.thresholds, swept)}"
                  if any(results.thresholds.values()) else "")
    config = results.config
    chose_on = "seed 0" if config.sweep_seeds == 1 else f"seeds 0-{config.sweep_seeds - 1}"
    sweep_seeds = (f" (choices on validation from {chose_on})"
                   if 0 < config.sweep_seeds < config.seeds and swept else "")
    return (f"{config.seeds} seeds{sweep_seeds}, {_steps_note(results)} per method"
            + _share_note(config, results.ratios, swept) + thresholds + _recipe_note(results))


def _steps_note(results: Results) -> str:
    """The classifier's steps per method: one number, or one per budget under the steps rule."""
    steps = {r["budget"]: r["classifier_steps"] for r in results.runs if "classifier_steps" in r}
    if len(set(steps.values())) > 1:
        return "classifier steps per budget " + ", ".join(f"{b}: {n}" for b, n in
                                                           sorted(steps.items()))
    return f"{next(iter(steps.values()), results.config.classifier_steps)} classifier steps"


def experiment_report(results: Results) -> str:
    """The whole report the command line prints at the end of a run."""
    cfg = results.config
    parts = [
        f"\n{cfg.dataset}: {settings_note(results)}",
        "Test accuracy (mean over seeds, 95% CI) and paired gains in percentage points:",
    ]
    settings = [s for s in SETTING_TITLES
                if any(parse_method(r["method"]).setting == s for r in results.summary)]
    for setting in settings:
        if settings != ["labelled"]:  # one table per setting, never mixed in one claim
            parts.append(f"\n{SETTING_TITLES[setting]}:")
        parts.append(summary_table(results, setting))
    if cfg.seeds < MIN_SEEDS:
        parts.append(f"With {cfg.seeds} seed(s) the table shows means only: an interval needs "
                     f"{MIN_SEEDS} or more seeds (--seeds {MIN_SEEDS}).")
    parts += verdicts(results)
    if results.imbalance_summary:
        parts += [f"\nImbalance study: classes {list(cfg.imbalance_minority)} cut to "
                  f"{cfg.imbalance_fraction:.0%} of {cfg.imbalance_per_class} per class",
                  imbalance_table(results)]
    parts.append(f"\nFiles: {results.folder}/ (runs.csv, summary.csv, accuracy_vs_budget.png, ...)")
    plot_results(results).savefig(results.folder / "accuracy_vs_budget.png", dpi=100)
    plt.close("all")
    return "\n".join(parts)


def _bands(summary: list[dict], budgets: list, key: str, skip: str | None = None) -> dict:
    """Per method, (mean, low, high) of ``key`` in points over ``budgets``; a band collapses to
    the mean where there is no interval (fewer than 3 seeds)."""
    out = {}
    for method in dict.fromkeys(r["method"] for r in summary):
        rows = [next(r for r in summary if r["budget"] == b and r["method"] == method)
                for b in budgets]
        if method == skip or key not in rows[0]:
            continue
        mean = [100 * r[key] for r in rows]
        low = [100 * (r[key] if math.isnan(r[f"{key}_low"]) else r[f"{key}_low"]) for r in rows]
        high = [100 * (r[key] if math.isnan(r[f"{key}_high"]) else r[f"{key}_high"])
                for r in rows]
        out[method] = (mean, low, high)
    return out


def plot_results(results: Results) -> plt.Figure:
    """Accuracy vs budget per method, and the gain over no augmentation, with 95% CI bands."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    budgets = sorted({r["budget"] for r in results.summary})
    methods = list(dict.fromkeys(r["method"] for r in results.summary))
    plot_with_ci(budgets, _bands(results.summary, budgets, "test_accuracy"),
                 "labelled images per class", "test accuracy (%)", ax=left,
                 title="Accuracy vs label budget (95% CI)" if len(budgets) > 1
                 else "Test accuracy (95% CI)")
    # 'none' has no gain line: skip its colour so each method keeps one colour in both panels
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    right.set_prop_cycle(color=[palette[i % len(palette)] for i, m in enumerate(methods)
                                if m != "none"])
    gains = _bands(results.summary, budgets, "gain_vs_none", skip="none")
    if not gains:  # 'none' alone, or no 'none' to pair with
        right.text(0.5, 0.5, "no method to pair with 'none'", ha="center", va="center")
        right.set_axis_off()
        return fig
    plot_with_ci(budgets, gains, "labelled images per class",
                 "gain over no augmentation (points)", title="Paired gain (95% CI)", ax=right)
    right.axhline(0, color="black", linewidth=0.8)
    if len(methods) > 4:  # many arms: one legend beside the panels, never over the bars
        _legend_beside(fig, left, mixed_settings=len({parse_method(m).setting
                                                      for m in methods}) > 1,
                       named_axis=len(budgets) == 1)
    return fig


def plot_gains_by_setting(results: Results) -> plt.Figure:
    """One panel per fair setting and mixing mode: its arms' paired gains over none with 95%
    bands, and that mode's oracle arms as reference lines, each in its own colour and dash with
    its interval (notebook 09's figure). An arm with nothing generated (classical) is in every
    row; names drop the '@add' their row's title states, so one arm keeps one colour."""
    budgets = sorted({r["budget"] for r in results.summary})
    gains = _bands(results.summary, budgets, "gain_vs_none", skip="none")
    modes = list(dict.fromkeys(parse_method(m).mixing for m in gains
                               if parse_method(m).source)) or ["replace"]
    settings = [s for s in ("labelled", "labelled + unlabelled")
                if any(parse_method(m).setting == s for m in gains)] or ["labelled"]
    fig, axes = plt.subplots(len(modes), len(settings), sharey=True, squeeze=False,
                             figsize=(6.5 * len(settings), 4.5 * len(modes)))
    for row, mode in zip(axes, modes, strict=True):
        in_mode = {m.partition("@")[0]: g for m, g in gains.items()
                   if parse_method(m).source is None or parse_method(m).mixing == mode}
        reference = {m: g for m, g in in_mode.items() if parse_method(m).setting == "reference"}
        for ax, setting in zip(row, settings, strict=True):
            arms = {m: g for m, g in in_mode.items() if parse_method(m).setting == setting}
            title = SETTING_TITLES[setting] + (f"\n{MIXING_NOTES[mode]}" if len(modes) > 1 else "")
            plot_with_ci(budgets, arms, "labelled images per class",
                         "gain over no augmentation (points)", title=title, ax=ax)
            plot_reference_lines(budgets, reference, ax)
            ax.axhline(0, color="black", linewidth=0.8)
    return fig


SETTING_STYLES = {"labelled": "-", "labelled + unlabelled": "--", "reference": ":"}


def _legend_beside(fig: plt.Figure, left: plt.Axes, mixed_settings: bool,
                   named_axis: bool = False) -> None:
    """The legends of both panels become one beside them; with arms of several settings, solid
    lines for labelled-only arms, dashed for those using unlabelled images, dotted for the
    oracle reference. A ``named_axis`` (one budget: the methods named under it) gets room."""
    for ax in fig.axes:
        for line in ax.get_lines():
            if mixed_settings and not line.get_label().startswith("_"):
                line.set_linestyle(SETTING_STYLES[parse_method(line.get_label()).setting])
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    title = "solid: labelled only\ndashed: + unlabelled\ndotted: oracle" if mixed_settings else None
    fig.legend(*left.get_legend_handles_labels(), loc="center left", bbox_to_anchor=(0.81, 0.5),
               fontsize=8, title=title, title_fontsize=8)
    fig.set_layout_engine("none")  # the course style's tight layout would ignore the legend
    fig.subplots_adjust(right=0.8, wspace=0.25, bottom=0.3 if named_axis else None)
