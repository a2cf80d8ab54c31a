"""Result plots draw what the numbers say: an interval's own ends, never a band past them."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from genaug.plots import plot_bars, plot_with_ci  # noqa: E402


def _error_bar_ends(ax) -> list[tuple[float, float]]:
    """(low, high) of every vertical error bar drawn on ``ax``."""
    ends = []
    for collection in ax.collections:
        for segment in collection.get_segments():
            if len(segment) == 2 and segment[0][0] == segment[1][0]:  # vertical
                ends.append((min(segment[:, 1]), max(segment[:, 1])))
    return ends


def test_bars_use_the_intervals_own_ends_so_a_clipped_interval_stays_in_range():
    ax = plot_bars({"none": 0.0, "cvae": 6.0}, "recall (%)",
                   intervals={"none": (0.0, 0.0), "cvae": (0.0, 14.5)})
    assert sorted(_error_bar_ends(ax)) == [(0.0, 0.0), (0.0, 14.5)]  # not 6.0 - 8.5 < 0
    plt.close("all")


def test_one_budget_gets_error_bars_side_by_side_instead_of_an_invisible_band():
    ax = plot_with_ci([20], {"a": ([50.0], [40.0], [60.0]), "b": ([55.0], [52.0], [58.0])},
                      "budget", "accuracy (%)")
    assert sorted(_error_bar_ends(ax)) == [pytest.approx((40.0, 60.0)),
                                           pytest.approx((52.0, 58.0))]
    xs = [line.get_xdata()[0] for line in ax.get_lines() if len(line.get_xdata()) == 1]
    assert len(set(xs)) == 2  # side by side, not on top of each other
    plt.close("all")
