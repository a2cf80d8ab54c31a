"""Paired p-values and Holm's adjustment: the numbers behind the report's adjusted verdicts."""

import math

import pytest
from scipy import stats as scipy_stats

from genaug.stats import holm, mean_ci, paired_t_pvalue, summarise


def test_holm_on_the_textbook_example():
    """Holm (1979) as Wikipedia's 'Holm-Bonferroni method' works it: four hypotheses at 0.05;
    0.005 < 0.05/4 and 0.01 < 0.05/3 are rejected, 0.03 > 0.05/2 stops the procedure."""
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [a < 0.05 for a in adjusted] == [True, False, False, True]


def test_holm_caps_at_one_never_decreases_and_leaves_one_comparison_alone():
    assert holm([0.02, 0.6, 0.7]) == pytest.approx([0.06, 1.0, 1.0])
    assert holm([0.04, 0.045]) == pytest.approx([0.08, 0.08])  # 0.045 x 1 is carried up to 0.08
    assert holm([0.03]) == [0.03]


def test_holm_skips_missing_p_values_without_counting_them():
    adjusted = holm([0.01, math.nan, 0.02])
    assert math.isnan(adjusted[1])
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.02)


def test_paired_p_value_is_the_t_test_behind_the_interval():
    diffs = [0.012, -0.004, 0.02, 0.009, 0.015]
    assert paired_t_pvalue(diffs) == pytest.approx(scipy_stats.ttest_1samp(diffs, 0).pvalue)
    _, low, high = mean_ci(diffs)
    assert (paired_t_pvalue(diffs) < 0.05) == (low > 0 or high < 0)
    assert math.isnan(paired_t_pvalue([0.1, 0.2]))  # too few seeds for a test, as for an interval
    assert paired_t_pvalue([0.01] * 4) == 0.0 and paired_t_pvalue([0.0] * 4) == 1.0


def test_the_interval_and_the_p_value_agree_on_every_side_of_zero():
    """Where the 95% interval just excludes 0 the p-value is just below 0.05, and vice versa."""
    edge = scipy_stats.t.ppf(0.975, 4) * 0.1 / math.sqrt(5)  # half-width when sd = 0.1
    spread = [0.1 * z for z in (-math.sqrt(2), 0.0, math.sqrt(2), 0.0, 0.0)]  # sd exactly 0.1
    for shift, excluded in ((-1e-4, False), (1e-4, True)):  # a hair inside, a hair outside
        diffs = [edge + shift + d for d in spread]
        _, low, _ = mean_ci(diffs)
        assert (low > 0) == excluded == (paired_t_pvalue(diffs) < 0.05)


def test_summarise_gives_each_paired_gain_its_p_value():
    rows = [{"budget": 10, "seed": s, "method": m, "acc": 0.6 + 0.05 * s + gain}
            for s in range(4) for m, gain in (("none", 0.0), ("cgan", 0.01 * (s % 2 + 1)))]
    cgan = next(r for r in summarise(rows, "acc", ("none",)) if r["method"] == "cgan")
    diffs = [0.01, 0.02, 0.01, 0.02]
    assert cgan["gain_vs_none_p"] == pytest.approx(scipy_stats.ttest_1samp(diffs, 0).pvalue)
