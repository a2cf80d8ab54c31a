"""The report's verdicts: a family of primary comparisons, named before any of them is read, each
judged by its paired t-test after Holm's adjustment over the whole family.

Reading twenty 95% intervals at once, about one excludes 0 by chance alone; Holm's procedure
keeps the chance of any false verdict in the family at or below 5%. The family is fixed by
the run's methods, never by their results: each fair arm against no augmentation at each
budget, and each arm that reads unlabelled images against pseudo-labelling (in its own mixing
mode). Oracle arms saw every label: they are a reference line, reported in a block of their own
and never in a verdict. Gains over classical augmentation stay in the tables, as description.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from genaug.experiment import arm_label, parse_method
from genaug.stats import MIN_SEEDS, holm

LEVEL = 0.05  # a verdict of gain or loss needs an adjusted p-value below this


def points(fraction: float, signed: bool = True) -> str:
    """A fraction in percent (or points), one decimal; more where one decimal would print a
    bound that is not 0 as 0.0 and so hide which side of 0 it lies on."""
    value, sign = 100 * fraction, "+" if signed else ""
    if value != 0 and abs(value) < 0.05:
        return f"{value:{sign}.1g}"
    return f"{value:{sign}.1f}"


def p_number(p: float) -> str:
    """'0.012', with three decimals ('0.0497' where three would round it onto the 0.05 line);
    '< 0.001' below that."""
    if p < 0.001:
        return "< 0.001"
    return f"{p:.4f}" if f"{p:.3f}" == f"{LEVEL:.3f}" else f"{p:.3f}"


def p_value(p: float) -> str:
    """'p = 0.012', or 'p < 0.001'."""
    number = p_number(p)
    return f"p {number}" if number.startswith("<") else f"p = {number}"


def gain_text(row: dict, baseline: str) -> str:
    """'+3.6 [+1.1, +6.0]': a paired gain in points with its interval."""
    low, high = row[f"gain_vs_{baseline}_low"], row[f"gain_vs_{baseline}_high"]
    return f"{100 * row[f'gain_vs_{baseline}']:+.1f} [{points(low)}, {points(high)}]"


def verdict(row: dict, baseline: str) -> str:
    """One sentence about ``row``'s paired gain over ``baseline``, read from its raw interval."""
    gain = row.get(f"gain_vs_{baseline}")
    low = row.get(f"gain_vs_{baseline}_low")
    head = f"at {row['budget']} per class, {row['method']}'s gain over {baseline} is "
    if gain is None:
        return head + "not available."
    if low is None or math.isnan(low):
        return head + (f"{100 * gain:+.1f} points from {row['n_seeds']} seed(s): an interval "
                       f"needs {MIN_SEEDS} or more, so this is no evidence.")
    text = head + f"{gain_text(row, baseline)} points: "
    if low > 0:
        return text + "the interval excludes 0, so this is evidence of a gain."
    if row[f"gain_vs_{baseline}_high"] < 0:
        return text + "the interval excludes 0, so this is evidence of a loss."
    return text + "the interval includes 0: no evidence of a difference."


@dataclass(frozen=True)
class Judged:
    """One comparison of a family: its summary row, baseline, and Holm-adjusted p-value."""

    row: dict
    baseline: str
    adjusted: float  # NaN where there is no test (fewer than MIN_SEEDS seeds)
    family: int  # how many comparisons the adjustment was over

    @property
    def p(self) -> float:
        return self.row.get(f"gain_vs_{self.baseline}_p", math.nan)

    @property
    def outcome(self) -> str:
        """What the comparison shows after the adjustment, and where the raw interval alone
        would have said more."""
        if math.isnan(self.adjusted):
            return f"no test (fewer than {MIN_SEEDS} seeds)"
        if self.adjusted < LEVEL:
            side = "gain" if self.row[f"gain_vs_{self.baseline}"] > 0 else "loss"
            return f"evidence of a {side} after the adjustment"
        if self.p < LEVEL:
            return ("no evidence of a difference after the adjustment (the raw interval "
                    "excludes 0)")
        return "no evidence of a difference"

    def sentence(self) -> str:
        """The verdict after the adjustment, with the raw interval and both p-values beside."""
        if math.isnan(self.adjusted):
            return verdict(self.row, self.baseline)
        row, base = self.row, self.baseline
        return (f"at {row['budget']} per class, {row['method']}'s gain over {base} is "
                f"{gain_text(row, base)} points, {p_value(self.p)}, Holm-adjusted "
                f"{p_value(self.adjusted)}: {self.outcome}.")


def primary_comparisons(summary: list[dict]) -> list[tuple[dict, str]]:
    """The family, named from the run's methods alone: (summary row, baseline) for each fair
    arm against 'none' at each budget, and each arm reading unlabelled images against
    pseudo-labelling in its own mixing mode; never an oracle arm."""
    present = {(r["budget"], r["method"]) for r in summary}
    family = []
    for row in summary:
        method = parse_method(row["method"])
        if method.name == "none" or method.setting == "reference":
            continue
        family.append((row, "none"))
        rival = arm_label("pseudo-label", method.mixing)
        if (method.setting == "labelled + unlabelled" and method.source != "pseudo-label"
                and (row["budget"], rival) in present):
            family.append((row, rival))
    return family


def judge(comparisons: list[tuple[dict, str]]) -> list[Judged]:
    """Each comparison with its p-value adjusted by Holm's procedure over all of them."""
    p_values = [row.get(f"gain_vs_{base}_p", math.nan) for row, base in comparisons]
    family = sum(not math.isnan(p) for p in p_values)
    return [Judged(row, base, adjusted, family)
            for (row, base), adjusted in zip(comparisons, holm(p_values), strict=True)]


def reference_comparisons(summary: list[dict]) -> list[tuple[dict, str]]:
    """Each oracle arm against 'none' at each budget: a reference line, judged as a family of
    its own and never among the verdicts."""
    return [(r, "none") for r in summary if parse_method(r["method"]).setting == "reference"]


def verdict_lines(summary: list[dict]) -> list[str]:
    """The primary family's adjusted verdicts, then the reference block, each introduced."""
    judged = judge(primary_comparisons(summary))
    lines = []
    if judged:
        holm_text = (f"Holm's procedure over these {judged[0].family} keeps the chance of any "
                     f"false verdict at {LEVEL:.0%}; the raw interval is beside each"
                     if judged[0].family else f"no test: an interval needs {MIN_SEEDS} seeds")
        unlabelled = (", and each arm that reads unlabelled images against pseudo-labelling"
                      if any(j.baseline != "none" for j in judged) else "")
        lines += [f"\nPrimary comparisons, named before reading them: each fair arm against "
                  f"none at each budget{unlabelled}. {holm_text}:",
                  *(j.sentence() for j in judged)]
    reference = judge(reference_comparisons(summary))
    if reference:
        lines += [f"\nReference lines, not verdicts (oracle generators saw every label; Holm "
                  f"within these {reference[0].family} lines alone):",
                  *(j.sentence() for j in reference)]
    return lines
