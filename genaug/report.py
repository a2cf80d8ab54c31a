"""Reading the experiment's results: a text report and the figures notebook 07 shows."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

from genaug.experiment import ExperimentConfig, Results, parse_method
from genaug.plots import plot_with_ci
from genaug.stats import MIN_SEEDS, format_table


def points(fraction: float, signed: bool = True) -> str:
    """A fraction in percent (or points), one decimal; more where one decimal would print a
    bound that is not 0 as 0.0 and so hide which side of 0 it lies on."""
    value, sign = 100 * fraction, "+" if signed else ""
    if value != 0 and abs(value) < 0.05:
        return f"{value:{sign}.1g}"
    return f"{value:{sign}.1f}"


def _pct(row: dict, key: str) -> str:
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
    """Test accuracy per budget and method of one setting, with its paired gains."""
    gains = [f"gain vs {b}" for b in GAIN_COLUMNS[setting]]
    rows = [{"budget": r["budget"], "method": r["method"],
             "test acc % [95% CI]": _pct(r, "test_accuracy"),
             **{g: _pct(r, g.replace(" ", "_")) for g in gains}}
            for r in in_setting(results.summary, setting)]
    return format_table(rows, ["budget", "method", "test acc % [95% CI]", *gains])


def imbalance_table(results: Results) -> str:
    rows = [{"method": r["method"], "minority recall %": _pct(r, "minority_recall"),
             "gain vs none": _pct(r, "gain_vs_none"),
             "balanced acc %": _pct(r, "balanced_accuracy"),
             "balanced gain vs none": _pct(r, "balanced_gain_vs_none")}
            for r in results.imbalance_summary]
    return format_table(rows, ["method", "minority recall %", "gain vs none", "balanced acc %",
                               "balanced gain vs none"])


def verdict(row: dict, baseline: str) -> str:
    """One sentence about ``row``'s paired gain over ``baseline``, read from its interval."""
    gain = row.get(f"gain_vs_{baseline}")
    low, high = row.get(f"gain_vs_{baseline}_low"), row.get(f"gain_vs_{baseline}_high")
    head = f"at {row['budget']} per class, {row['method']}'s gain over {baseline} is "
    if gain is None:
        return head + "not available."
    if low is None or math.isnan(low):
        return head + (f"{100 * gain:+.1f} points from {row['n_seeds']} seed(s): an interval "
                       f"needs {MIN_SEEDS} or more, so this is no evidence.")
    text = head + f"{100 * gain:+.1f} [{points(low)}, {points(high)}] points: "
    if low > 0:
        return text + "the interval excludes 0, so this is evidence of a gain."
    if high < 0:
        return text + "the interval excludes 0, so this is evidence of a loss."
    return text + "the interval includes 0: no evidence of a difference."


def classical_lost(summary: list[dict], budget: int) -> bool:
    """True where classical augmentation itself is evidently worse than none at ``budget``."""
    return any(r["method"] == "classical" and r["budget"] == budget
               and r.get("gain_vs_none_high", math.nan) < 0 for r in summary)


def verdicts(results: Results) -> list[str]:
    """Each arm's verdicts over its setting's baselines, with the caveats."""
    lines, n_intervals = [], 0
    for row in results.summary:
        method = parse_method(row["method"])
        if method.source is None:
            continue
        for baseline in GAIN_COLUMNS[method.setting]:
            if baseline != "none" and f"gain_vs_{baseline}" not in row:
                continue  # no such run to compare with ('none' says "not available")
            lost = baseline == "classical" and classical_lost(results.summary, row["budget"])
            lines.append(verdict(row, baseline) + (" (classical itself lost to none here: a "
                         "gain over it says little about the generator)" if lost else ""))
            n_intervals += not math.isnan(row.get(f"gain_vs_{baseline}_low", math.nan))
    if n_intervals > 1:
        lines.append(f"Caveat: {n_intervals} intervals are read at once; at 95% each, about "
                     f"{n_intervals / 20:.1f} would exclude 0 by chance alone if no method "
                     "mattered, so a single excluded 0 is weak evidence.")
    return lines


def _share_note(config: ExperimentConfig, ratios: dict[str, float]) -> str:
    """How each arm's generated share was set: fixed in advance, or chosen on validation."""
    if not ratios:
        return ""
    if config.ratio is not None:
        return f", generated share fixed at {config.ratio}"
    return f", generated share chosen on validation: {ratios}"


def experiment_report(results: Results) -> str:
    """The whole report the command line prints at the end of a run."""
    cfg = results.config
    parts = [
        f"\n{cfg.dataset}: {cfg.seeds} seeds, {cfg.classifier_steps} classifier steps per method"
        + _share_note(cfg, results.ratios)
        + (f", confidence thresholds: {results.thresholds}" if results.thresholds else ""),
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
    lines = verdicts(results)
    if lines:
        parts += ["\nVerdicts, read from the paired intervals:", *lines]
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
                 "labelled images per class", "test accuracy (%)",
                 title="Accuracy vs label budget (95% CI)", ax=left)
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
                                                      for m in methods}) > 1)
    return fig


SETTING_STYLES = {"labelled": "-", "labelled + unlabelled": "--", "reference": ":"}


def _legend_beside(fig: plt.Figure, left: plt.Axes, mixed_settings: bool) -> None:
    """The legends of both panels become one beside them; with arms of several settings, solid
    lines for labelled-only arms, dashed for those using unlabelled images, dotted for the
    oracle reference."""
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
    fig.subplots_adjust(right=0.8, wspace=0.25)
