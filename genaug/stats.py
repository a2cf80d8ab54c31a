"""Means with confidence intervals, and paired differences: how the experiment reports numbers.

With a handful of seeds a mean alone says little; a 95% interval from Student's t says how
sure we are. Methods trained with the same seed share their labelled subset, initial weights
and real batches, so their differences are *paired*: the interval of the per-seed differences
is much narrower than the two intervals side by side would suggest.

Two rules keep the numbers honest: an interval needs at least ``MIN_SEEDS`` seeds (from two, a
t-interval is a number with no meaning: its width rests on one degree of freedom), and it never
leaves the metric's range (an accuracy stays in [0, 1], a gain in accuracy in [-1, 1]).

A paired gain also gets the p-value of the paired t-test on the same per-seed differences (below
0.05 exactly where its 95% interval excludes 0), and :func:`holm` adjusts a family of them, so
that reading many comparisons at once keeps the chance of any false "it helps" at or below 5%.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable, Mapping, Sequence

from scipy import stats as _scipy_stats

MIN_SEEDS = 3  # fewer values give a mean but no interval
ACCURACY_RANGE = (0.0, 1.0)


def mean_ci(values: Sequence[float], level: float = 0.95,
            bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """Mean and the two ends of its ``level`` confidence interval (Student's t).

    The ends are NaN for fewer than ``MIN_SEEDS`` values, and clipped to ``bounds`` (the
    metric's range) when given.
    """
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci needs at least one value.")
    mean = sum(values) / n
    if n < MIN_SEEDS:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = _scipy_stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, float(low), float(high)


def paired_t_pvalue(diffs: Sequence[float]) -> float:
    """Two-sided p-value of the paired t-test that the mean difference is 0 (Student's t, the
    test behind :func:`mean_ci`'s interval); NaN for fewer than ``MIN_SEEDS`` differences."""
    n = len(diffs)
    if n < MIN_SEEDS:
        return math.nan
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd == 0:  # every seed gave the same difference: the interval is the point itself
        return 1.0 if mean == 0 else 0.0
    return float(2 * _scipy_stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (Holm, 1979), in the order of the comparisons given.

    The k-th smallest p-value (k = 0, 1, ...) is multiplied by m - k, an adjusted value never
    falls below the one before it in that order, and none exceeds 1: a comparison whose adjusted
    value is below 0.05 keeps the chance of any false discovery in the family at or below 5%.
    NaN p-values (too few seeds) stay NaN and do not count in m.
    """
    places = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    order = sorted(places, key=lambda i: p_values[i])  # smallest first
    adjusted, largest = [math.nan] * len(p_values), 0.0
    for k, i in enumerate(order):  # k = 0: the smallest pays for all m comparisons
        largest = max(largest, min(1.0, (len(order) - k) * p_values[i]))
        adjusted[i] = largest
    return adjusted


def paired_differences(
    rows: Iterable[Mapping], method: str, baseline: str, metric: str, group: Sequence[str]
) -> dict[tuple, list[float]]:
    """Per group (e.g. budget), the list over seeds of ``metric[method] - metric[baseline]``."""
    by_key: dict[tuple, dict[str, float]] = defaultdict(dict)
    for row in rows:
        key = tuple(row[g] for g in group) + (row["seed"],)
        by_key[key][row["method"]] = float(row[metric])
    diffs: dict[tuple, list[float]] = defaultdict(list)
    for key, scores in sorted(by_key.items()):
        if method in scores and baseline in scores:
            diffs[key[:-1]].append(scores[method] - scores[baseline])
    return dict(diffs)


def _gains(rows: Sequence[Mapping], method: str, key: tuple, metric: str,
           baselines: Sequence[str], group: Sequence[str], bounds: tuple[float, float]) -> dict:
    """The paired gain of ``method`` over each baseline in one group, with its interval."""
    gain_bounds = (bounds[0] - bounds[1], bounds[1] - bounds[0])  # a difference of two values
    out = {}
    for base in baselines:
        diffs = paired_differences(rows, method, base, metric, group).get(key, [])
        if base != method and diffs:
            gain, low, high = mean_ci(diffs, bounds=gain_bounds)
            out.update({f"gain_vs_{base}": gain, f"gain_vs_{base}_low": low,
                        f"gain_vs_{base}_high": high,
                        f"gain_vs_{base}_p": paired_t_pvalue(diffs)})
    return out


def summarise(
    rows: Sequence[Mapping],
    metric: str,
    baselines: Sequence[str],
    group: Sequence[str] = ("budget",),
    bounds: tuple[float, float] = ACCURACY_RANGE,
) -> list[dict]:
    """One row per (group, method): mean and 95% CI of ``metric``, and the paired gain (with
    its CI and paired t-test p-value) over each baseline method; every interval stays inside
    the metric's ``bounds``."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    groups = sorted({tuple(r[g] for g in group) for r in rows})
    summary = []
    for key in groups:
        for method in methods:
            values = [float(r[metric]) for r in rows
                      if r["method"] == method and tuple(r[g] for g in group) == key]
            if not values:
                continue
            mean, low, high = mean_ci(values, bounds=bounds)
            summary.append({**dict(zip(group, key, strict=True)), "method": method,
                            "n_seeds": len(values), metric: mean, f"{metric}_low": low,
                            f"{metric}_high": high,
                            **_gains(rows, method, key, metric, baselines, group, bounds)})
    return summary


def format_table(rows: Sequence[Mapping], columns: Sequence[str],
                 percent: Sequence[str] = ()) -> str:
    """A plain-text table; columns named in ``percent`` print as percentages (0.1234 -> 12.3,
    headed 'name %'), other numbers with the same decimals down a column (two, or one from
    100 up), so 20.04 never stands beside a bare 20."""

    def decimals(col: str) -> int:
        values = [abs(r[col]) for r in rows if isinstance(r.get(col), float)
                  and not math.isnan(r[col])]
        return 1 if col in percent or (values and max(values) >= 100) else 2

    places = {col: decimals(col) for col in columns}

    def cell(row: Mapping, col: str) -> str:
        value = row.get(col, "")
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            return f"{(100 if col in percent else 1) * value:.{places[col]}f}"
        return str(value)

    header = [f"{col} %" if col in percent else col for col in columns]
    table = [header] + [[cell(r, c) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = ["  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)) for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
