"""Reading the experiment's results: a text report and the figures notebook 07 shows."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

from genaug.experiment import Results
from genaug.plots import plot_with_ci
from genaug.stats import format_table


def _pct(row: dict, key: str) -> str:
    """'72.3 [70.1, 74.5]': a mean and its interval, in percent."""
    mean, low, high = row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")
    if mean is None:
        return ""
    if low is None or math.isnan(low):
        return f"{100 * mean:+.1f}" if "gain" in key else f"{100 * mean:.1f}"
    sign = "+" if "gain" in key else ""
    return f"{100 * mean:{sign}.1f} [{100 * low:{sign}.1f}, {100 * high:{sign}.1f}]"


def summary_table(results: Results) -> str:
    """Test accuracy per budget and method, with the paired gains, as a text table."""
    rows = [{"budget": r["budget"], "method": r["method"],
             "test acc % [95% CI]": _pct(r, "test_accuracy"),
             "gain vs none": _pct(r, "gain_vs_none"),
             "gain vs classical": _pct(r, "gain_vs_classical")} for r in results.summary]
    return format_table(rows, ["budget", "method", "test acc % [95% CI]", "gain vs none",
                               "gain vs classical"])


def imbalance_table(results: Results) -> str:
    rows = [{"method": r["method"], "minority recall %": _pct(r, "minority_recall"),
             "gain vs none": _pct(r, "gain_vs_none"),
             "balanced acc %": _pct(r, "balanced_accuracy"),
             "balanced gain vs none": _pct(r, "balanced_gain_vs_none")}
            for r in results.imbalance_summary]
    return format_table(rows, ["method", "minority recall %", "gain vs none", "balanced acc %",
                               "balanced gain vs none"])


def experiment_report(results: Results) -> str:
    """The whole report the command line prints at the end of a run."""
    cfg = results.config
    parts = [
        f"\n{cfg.dataset}: {cfg.seeds} seeds, {cfg.classifier_steps} classifier steps per method, "
        f"generated share chosen on validation: {results.ratios or 'n/a'}",
        "Test accuracy (mean over seeds, 95% CI) and paired gains in percentage points:",
        summary_table(results),
    ]
    if results.imbalance_summary:
        parts += [f"\nImbalance study: classes {list(cfg.imbalance_minority)} cut to "
                  f"{cfg.imbalance_fraction:.0%} of {cfg.imbalance_per_class} per class",
                  imbalance_table(results)]
    parts.append(f"\nFiles: {results.folder}/ (runs.csv, summary.csv, accuracy_vs_budget.png, ...)")
    plot_results(results).savefig(results.folder / "accuracy_vs_budget.png", dpi=100)
    plt.close("all")
    return "\n".join(parts)


def plot_results(results: Results) -> plt.Figure:
    """Accuracy vs budget per method, and the gain over no augmentation, with 95% CI bands."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    budgets = sorted({r["budget"] for r in results.summary})
    methods = list(dict.fromkeys(r["method"] for r in results.summary))

    def series(key: str, skip: str | None = None) -> dict:
        out = {}
        for m in methods:
            rows = [next(r for r in results.summary if r["budget"] == b and r["method"] == m)
                    for b in budgets]
            if m == skip or key not in rows[0]:
                continue
            mean = [100 * r[key] for r in rows]
            low = [100 * r[f"{key}_low"] if not math.isnan(r[f"{key}_low"]) else 100 * r[key]
                   for r in rows]
            high = [100 * r[f"{key}_high"] if not math.isnan(r[f"{key}_high"]) else 100 * r[key]
                    for r in rows]
            out[m] = (mean, low, high)
        return out

    plot_with_ci(budgets, series("test_accuracy"), "labelled images per class",
                 "test accuracy (%)", title="Accuracy vs label budget (95% CI)", ax=left)
    # 'none' has no gain line: skip its colour so each method keeps one colour in both panels
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    right.set_prop_cycle(color=[palette[i % len(palette)] for i, m in enumerate(methods)
                                if m != "none"])
    plot_with_ci(budgets, series("gain_vs_none", skip="none"), "labelled images per class",
                 "gain over no augmentation (points)", title="Paired gain (95% CI)", ax=right)
    right.axhline(0, color="black", linewidth=0.8)
    return fig
