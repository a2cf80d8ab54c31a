"""Checks for exercise 07: the paired gain with its t-interval, and the leaks of a design;
stretch: the Holm adjustment of several p-values."""

from __future__ import annotations

import math
from typing import Callable, Sequence

from genaug.checks.common import (
    CheckFailed,
    _close,
    _expect,
    _number,
    _ok,
    _passed,
    _run,
    _tuple,
    _your,
)

DESIGN_STEPS: dict[str, tuple[str, bool, str]] = {
    # letter: (the step, is it fair?, why)
    "A": ("Hold out 50 labelled images per class from the training split as a validation set.",
          True, "choices made on a validation set never touch the test set."),
    "B": ("Train the conditional GAN on the whole labelled training set (60,000 images), then "
          "use its samples to help a classifier that has 10 labels per class.",
          False, "the generator saw far more labels than the classifier's budget, so its "
          "samples smuggle in labels the method does not have."),
    "C": ("Try synthetic shares of 25%, 50% and 75% and keep the one with the best test "
          "accuracy.", False, "choosing on the test set makes the test score optimistic; "
          "choose on the validation set."),
    "D": ("Train every method's classifier for the same 2,000 steps with the same batch size.",
          True, "equal compute: a method cannot win by simply training longer."),
    "E": ("Run 5 seeds; report the best seed for the augmented method and the mean for the "
          "baseline.", False, "the best of 5 is biased upwards; report the same statistic "
          "(the mean with its interval) for every method."),
    "F": ("For each seed, give every method the same labelled subset and the same initial "
          "weights, and compare them seed by seed.", True, "this pairs the runs, so their "
          "differences cancel the luck of the subset: a narrower, honest interval."),
}
_QUESTIONS = {  # what to ask about a step the learner got wrong, without giving its verdict
    "A": "which data does it take, and does the test set play any part?",
    "B": "how many labels did the generator learn from, next to the classifier's budget?",
    "C": "on which data is the share chosen, and which score is reported afterwards?",
    "D": "does any method get more training than another?",
    "E": "is every method summarised by the same statistic?",
    "F": "what do the runs of one seed share, and what happens to that in their difference?",
}


def check_paired_gain(fn: Callable) -> None:
    """``fn(method_scores, baseline_scores)``: mean per-seed gain and its 95% t-interval."""
    from genaug.stats import mean_ci  # here, not at the top: scipy takes seconds to import

    method = [0.81, 0.78, 0.84, 0.80, 0.83]
    baseline = [0.78, 0.76, 0.80, 0.78, 0.79]
    out = _tuple(_run(fn, method, baseline), fn, 3,
                 "three numbers: (mean gain, low end, high end)")
    gain, low, high = (_number(v, fn) for v in out)
    diffs = [m - b for m, b in zip(method, baseline, strict=True)]
    want, want_low, want_high = mean_ci(diffs)
    _expect(not _close(gain, -want), f"your gain is {gain:.4g}, the baseline minus the method: "
            "the gain is method - baseline (positive when the method is better).")
    _expect(_close(gain, want), f"your mean gain is {gain:.4g}, expected {want:.4g}, the mean "
            "of the per-seed differences.")
    _ok(f"mean gain {gain:+.4f}")
    _expect(_close(low + high, 2 * gain, rtol=1e-3), "the interval is not centred on the mean "
            "gain: mean - half-width to mean + half-width.")
    _expect_t_interval((low, high), (want_low, want_high), diffs)
    _ok("the 95% interval is the paired t-interval")
    three = _tuple(_run(fn, [0.5, 0.7, 0.65], [0.45, 0.6, 0.66]), fn, 3, "three numbers")
    want_three = mean_ci([0.05, 0.1, -0.01])
    _expect(all(_close(_number(a, fn), b) for a, b in zip(three, want_three, strict=True)),
            "with 3 seeds your interval differs from the t-interval with 2 degrees of freedom: "
            "compute the t quantile from n, do not hard-code it.")
    _ok("it adapts to the number of seeds")
    _passed("the paired gain with its 95% confidence interval, as genaug.stats computes it.")


def _expect_t_interval(got: tuple[float, float], want: tuple[float, float],
                       diffs: Sequence[float]) -> None:
    """The learner's interval ``got`` is the paired t-interval ``want`` of ``diffs``."""
    n, mean = len(diffs), sum(diffs) / len(diffs)
    half, want_half = (got[1] - got[0]) / 2, (want[1] - want[0]) / 2
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    t = want_half * math.sqrt(n) / sd  # Student's quantile, t(0.975, n - 1)
    _expect(not _close(half, 1.96 * sd / math.sqrt(n), rtol=1e-3), "you used the normal "
            f"quantile 1.96; with {n} seeds use Student's t with n - 1 = {n - 1} degrees of "
            f"freedom, scipy.stats.t.ppf(0.975, {n - 1}) = {t:.3f}: the normal interval is too "
            "narrow.")
    _expect(not _close(half, want_half * math.sqrt((n - 1) / n), rtol=1e-3), "your standard "
            "deviation divides by n; the sample standard deviation divides by n - 1.")
    _expect(not _close(half, want_half * math.sqrt(n), rtol=1e-3), "your interval is as wide "
            "as one seed's spread: the standard error of the mean is sd / sqrt(n).")
    _expect(half < 1.5 * want_half, f"your interval (+-{half:.4f}) is much wider than the "
            f"paired one (+-{want_half:.4f}): the seeds pair the runs, so take the differences "
            "seed by seed first, then the t-interval of those differences.")
    _expect(_close(half, want_half, rtol=1e-3), f"your interval is [{got[0]:.4f}, "
            f"{got[1]:.4f}], expected [{want[0]:.4f}, {want[1]:.4f}] = mean +- t(0.975, n-1) "
            "* sd / sqrt(n) of the per-seed differences.")


def check_unfair_steps(fn: Callable) -> None:
    """``fn()`` returns the set of letters of DESIGN_STEPS that make the comparison unfair."""
    answer = _run(fn)
    _expect(isinstance(answer, (set, frozenset, list, tuple, str)), f"{_your(fn)} should "
            "return a set of letters, e.g. {'A', 'B'}.")
    chosen = {str(a).strip().upper() for a in answer}
    unknown = chosen - set(DESIGN_STEPS)
    _expect(not unknown, f"there is no step {sorted(unknown)}: the steps are "
            f"{', '.join(DESIGN_STEPS)}.")
    _expect_no_slip(chosen)
    for k, (_, fair, why) in DESIGN_STEPS.items():
        _ok(f"{k} {'fair' if fair else 'UNFAIR'}: {why}")
    _passed("you found every leak and no false alarm.")


def _expect_no_slip(chosen: set[str]) -> None:
    """Say how many steps are misjudged and question the first, without giving every verdict."""
    missed = [k for k, (_, fair, _) in DESIGN_STEPS.items() if not fair and k not in chosen]
    alarms = [k for k, (_, fair, _) in DESIGN_STEPS.items() if fair and k in chosen]
    if not missed and not alarms:
        return
    first = min(missed + alarms)
    raise CheckFailed(
        f"not quite: unfair steps missing from your set: {len(missed)}; fair steps in it: "
        f"{len(alarms)}. Start with step {first}: {_QUESTIONS[first]} Then run this check again."
    )


def check_holm(fn: Callable) -> None:
    """``fn(p_values)``: Holm-adjusted p-values, in the order the p-values were given (the
    expected values come from ``genaug.stats.holm``, which the experiment's report uses)."""
    from genaug.stats import holm  # here, not at the top: scipy takes seconds to import

    p = [0.01, 0.04, 0.03, 0.005]
    out = _run(fn, list(p))
    _expect(isinstance(out, (list, tuple)) and len(out) == len(p), f"{_your(fn)} should "
            f"return a list of {len(p)} adjusted p-values, one per comparison.")
    got = [_number(v, fn) for v in out]
    slips = {
        (0.04, 0.16, 0.12, 0.02): "you multiplied every p-value by m: that is Bonferroni. Holm "
        "is kinder to all but the smallest: the k-th smallest pays for the m - k + 1 tests "
        "still standing.",
        (0.03, 0.04, 0.06, 0.02): "an adjusted p-value fell below the one before it in the "
        "sorted order (0.06, then 0.04): Holm stops at the first comparison it cannot reject, "
        "so carry the largest value so far forward.",
        (0.02, 0.03, 0.06, 0.06): "your adjusted values are sorted, not in the order of the "
        "comparisons: give each back in its comparison's place.",
        (0.02, 0.16, 0.09, 0.005): "the smallest p-value should pay for all m tests, the next "
        "for m - 1: your multipliers run the wrong way.",
    }
    for wrong, message in slips.items():
        _expect(not all(_close(a, b) for a, b in zip(got, wrong, strict=True)), message)
    want = holm(p)  # (0.03, 0.06, 0.06, 0.02)
    _expect(all(_close(a, b) for a, b in zip(got, want, strict=True)), f"for p-values {p} your "
            f"adjusted values are {got}, expected {list(want)}.")
    _ok("sorted, multiplied by m, m - 1, ..., 1, never decreasing, back in their places")
    capped = [_number(v, fn) for v in _run(fn, [0.02, 0.6, 0.7])]
    _expect(max(capped) <= 1.0, f"an adjusted p-value came out as {max(capped):.2f}: a "
            "probability is at most 1; cap each at 1.")
    _expect(all(_close(a, b) for a, b in zip(capped, holm([0.02, 0.6, 0.7]), strict=True)),
            f"for p-values [0.02, 0.6, 0.7] you got {capped}, expected [0.06, 1.0, 1.0].")
    _ok("capped at 1")
    single = _number(_run(fn, [0.03])[0], fn)
    _expect(_close(single, 0.03), "with one comparison there is nothing to adjust: Holm "
            f"should return the p-value itself, 0.03, not {single:.3g}.")
    _ok("one comparison is left as it is")
    _passed("the Holm adjustment: at most a 5% chance of any false 'it helps' among all.")
