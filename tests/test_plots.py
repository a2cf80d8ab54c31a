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


def _gains_figure(methods: tuple[str, ...]):
    """Notebook 09's gains figure for planted runs of ``methods``: 3 seeds, budgets 10 and 50."""
    from genaug import report
    from genaug.experiment import preset, runner
    from genaug.stats import summarise

    runs = [{"budget": b, "seed": s, "method": m,
             "test_accuracy": 0.6 + 0.01 * i + 0.003 * s * (i % 3)}
            for b in (10, 50) for s in range(3) for i, m in enumerate(methods)]
    summary = summarise(runs, "test_accuracy", baselines=("none",))
    return report.plot_gains_by_setting(runner.Results(preset("digits"), None, {}, runs, [], [],
                                                       summary, []))


def test_oracle_lines_differ_from_each_other_and_carry_their_intervals():
    fig = _gains_figure(("none", "cgan", "latent-vae", "oracle-cvae", "oracle-cgan",
                         "oracle-cdiff"))
    assert len(fig.axes) == 2  # labelled, and labelled + unlabelled
    for ax in fig.axes:
        oracle = [c for c in ax.containers if c.get_label().startswith("oracle-")]
        assert len(oracle) == 3
        looks = {(c.lines[0].get_color(), str(c.lines[0].get_linestyle())) for c in oracle}
        assert len(looks) == 3 and all(style != "-" for _, style in looks)
        assert all(c.has_yerr for c in oracle)  # each with its interval
        assert not any(colour == "grey" for colour, _ in looks)
        heights = [abs(seg[1][1] - seg[0][1])
                   for c in oracle for seg in c.lines[2][0].get_segments()]
        assert max(heights) > 0  # an interval of real width, not a bare line
    plt.close(fig)


def test_both_mixing_modes_get_a_row_each_with_their_own_arms_and_oracles():
    fig = _gains_figure(("none", "classical", "cgan", "cgan@add", "pseudo-label",
                         "pseudo-label@add", "oracle-cgan", "oracle-cgan@add"))
    assert len(fig.axes) == 4  # (replace, add) x (labelled, labelled + unlabelled)
    replace, add = fig.axes[0], fig.axes[2]
    assert "replace" in replace.get_title() and "added" in add.get_title()
    for ax in (replace, add):  # the same names in both rows, so an arm keeps its colour
        assert sorted(line.get_label() for line in ax.get_lines()
                      if not line.get_label().startswith("_")) == ["cgan", "classical"]
        assert [c.get_label() for c in ax.containers] == ["oracle-cgan (reference)"]
    gain = {ax: next(line for line in ax.get_lines() if line.get_label() == "cgan").get_ydata()
            for ax in (replace, add)}
    assert list(gain[add]) != list(gain[replace])  # the add row draws cgan@add's gains
    plt.close(fig)


def test_a_single_budget_is_one_named_point_per_method_not_a_log_budget_axis():
    """One budget on a log budget axis read as four budgets (issue 28): with one x, each series
    is its own named position on a linear axis that says which budget it is."""
    import matplotlib.pyplot as plt

    from genaug.plots import plot_with_ci

    series = {"none": ([0.70], [0.68], [0.72]), "cgan": ([0.71], [0.69], [0.73])}
    ax = plot_with_ci([20], series, xlabel="labelled images per class", ylabel="accuracy")
    assert ax.get_xscale() == "linear"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["none", "cgan"]
    assert "20" in ax.get_xlabel()
    plt.close(ax.figure)
