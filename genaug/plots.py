"""Figures the course draws again and again: image grids, training curves, latent maps, results.

Each function draws on a Matplotlib axis (a new figure unless ``ax`` is given) and returns it,
so a notebook can add a title or put two plots side by side.
"""

from __future__ import annotations

from itertools import cycle
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import NullFormatter

from genaug.history import History

COURSE_STYLE = {"figure.dpi": 80, "figure.autolayout": True, "image.cmap": "gray"}
# reference lines (the oracle arms): each its own dash and a colour the default cycle lacks
REFERENCE_STYLES = ((":", "black"), ("-.", "tab:brown"), ((0, (6, 2)), "tab:gray"),
                    ((0, (1, 1, 3, 1)), "darkgoldenrod"))


def use_course_style() -> None:
    """Small, tightly laid out figures with grey images: what every notebook's setup sets."""
    plt.rcParams.update(COURSE_STYLE)


def _axis(ax, figsize) -> plt.Axes:
    """The given axis, or a new figure's of ``figsize``, so every plot can share a figure."""
    return ax if ax is not None else plt.subplots(figsize=figsize)[1]


def tile(images: torch.Tensor, nrow: int, pad: int = 1, pad_value: float = 1.0) -> torch.Tensor:
    """Tile images (N, C, H, W) into one (H', W', C) picture, ``nrow`` per row, with gaps."""
    n, c, h, w = images.shape
    rows = -(-n // nrow)
    canvas = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), pad_value)
    for i, image in enumerate(images):
        top, left = pad + (i // nrow) * (h + pad), pad + (i % nrow) * (w + pad)
        canvas[:, top: top + h, left: left + w] = image
    return canvas.permute(1, 2, 0)  # (H', W', C), as imshow wants


def show_grid(
    images: torch.Tensor,
    nrow: int = 8,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
    scale: float = 0.45,
) -> plt.Axes:
    """Images (N, C, H, W) in [0, 1] as a grid of ``nrow`` per row, with optional labels."""
    images = images.detach().float().cpu().clamp(0, 1)
    n_rows = -(-images.shape[0] // nrow)
    grid = tile(images, nrow)
    ax = _axis(ax, (scale * nrow + (1.2 if row_labels else 0), scale * n_rows + 0.4))
    ax.imshow(grid.squeeze(-1).numpy(), interpolation="nearest", cmap="gray", vmin=0, vmax=1)
    step_y, step_x = images.shape[-2] + 1, images.shape[-1] + 1
    ax.set_yticks([1 + step_y * (i + 0.5) for i in range(len(row_labels))] if row_labels else [])
    ax.set_yticklabels(row_labels or [])
    ax.set_xticks([1 + step_x * (i + 0.5) for i in range(len(col_labels))] if col_labels else [])
    ax.set_xticklabels(col_labels or [], rotation=45, ha="right")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    return ax


def show_by_class(
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: Sequence[str],
    per_class: int = 8,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """One row per class with its name, showing the first ``per_class`` images of that class."""
    labels = labels.cpu()
    rows = []
    for c in range(len(classes)):
        members = images[(labels == c).nonzero().flatten()[:per_class].to(images.device)]
        blank = torch.ones(per_class - len(members), *images.shape[1:], device=images.device)
        rows.append(torch.cat([members, blank]))  # pad a short class with white squares
    return show_grid(torch.cat(rows), nrow=per_class, row_labels=list(classes), title=title, ax=ax)


def plot_history(
    history: History,
    keys: Sequence[str],
    title: str | None = None,
    ax: plt.Axes | None = None,
    logy: bool = False,
) -> plt.Axes:
    """Logged values against training step, one line per key."""
    ax = _axis(ax, (5, 3.2))
    for key in keys:
        ax.plot(history.steps[key], history[key], label=key)
    ax.set_xlabel("step")
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_with_ci(
    x: Sequence[float],
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    logx: bool = True,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """One line per series with a shaded band: ``series[name] = (mean, low, high)`` over ``x``;
    with a single x, an error bar per series on a named axis instead (see _one_x)."""
    ax = _axis(ax, (6, 4))
    if len(x) == 1:  # one x has no band to shade
        _one_x(ax, series, f"at {x[0]:g} {xlabel}")
    else:
        for name, (mean, low, high) in series.items():
            (line,) = ax.plot(x, mean, marker="o", label=name)
            ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
        ax.set_xlabel(xlabel)
    if logx and len(x) > 1:
        ax.set_xscale("log")
        ax.set_xticks(list(x))
        ax.set_xticklabels([str(v) for v in x])
        ax.xaxis.set_minor_formatter(NullFormatter())  # no "6x10^0" labels between the budgets
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def _one_x(ax: plt.Axes, series: Mapping, axis_label: str, looks: Mapping | None = None) -> None:
    """A single x value (one budget): an error bar per series at its own position, named on an
    axis whose label gives that value (after the names it already holds under that label), so
    bars side by side never read as several values of x, as on a log axis they did."""
    names = ([t.get_text() for t in ax.get_xticklabels()]
             if ax.get_xlabel() == axis_label else [])
    for i, (name, (mean, low, high)) in enumerate(series.items(), len(names)):
        ax.errorbar([i], mean, yerr=[[mean[0] - low[0]], [high[0] - mean[0]]], label=name,
                    **{"marker": "o", "capsize": 4, **(looks or {}).get(name, {})})
    names += list(series)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_xlabel(axis_label)


def plot_reference_lines(
    x: Sequence[float],
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    ax: plt.Axes,
    suffix: str = " (reference)",
) -> plt.Axes:
    """Reference lines beside a plot's methods: ``series[name] = (mean, low, high)`` over
    ``x``, each in its own colour and dash with its interval as error bars (nudged apart along
    x), so no two look alike and none looks like a method's solid line and band."""
    styles = cycle(REFERENCE_STYLES)
    if len(x) == 1:  # after the methods plot_with_ci named on its axis for the one x
        looks = {f"{name}{suffix}": {"linestyle": dash, "color": colour, "marker": "s"}
                 for name, (dash, colour) in zip(series, styles, strict=False)}
        _one_x(ax, {f"{n}{suffix}": v for n, v in series.items()}, ax.get_xlabel(), looks)
    for i, (name, (mean, low, high)) in enumerate(series.items() if len(x) > 1 else []):
        dash, colour = next(styles)
        nudge = 1 + 0.03 * (i - (len(series) - 1) / 2)  # a factor: the budgets' axis is log
        ax.errorbar([v * nudge for v in x], mean, capsize=3, marker="s", markersize=4,
                    yerr=[[m - lo for m, lo in zip(mean, low, strict=True)],
                          [hi - m for m, hi in zip(mean, high, strict=True)]],
                    linestyle=dash, color=colour, label=f"{name}{suffix}")
    ax.legend(fontsize=8)
    return ax


def plot_latent_map(
    z: torch.Tensor,
    labels: torch.Tensor,
    classes: Sequence[str],
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """A 2-D latent code (N, 2) as a scatter plot coloured by class."""
    z, labels = z.detach().float().cpu().numpy(), labels.cpu().numpy()
    ax = _axis(ax, (5.5, 4.5))
    cmap = plt.get_cmap("tab10")
    for c, name in enumerate(classes):
        pts = z[labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=4, alpha=0.6, color=cmap(c % 10), label=name)
    ax.legend(markerscale=3, fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    if title:
        ax.set_title(title)
    return ax


def plot_bars(
    values: Mapping[str, float],
    ylabel: str,
    title: str | None = None,
    errors: Mapping[str, float] | None = None,
    ax: plt.Axes | None = None,
    intervals: Mapping[str, tuple[float, float]] | None = None,
) -> plt.Axes:
    """A bar per name, with optional error bars: symmetric ``errors`` (half-widths), or the
    ``intervals``' own (low, high) ends, which a clipped interval needs."""
    ax = _axis(ax, (max(4, 0.9 * len(values)), 3.2))
    names = list(values)
    err = [errors[n] for n in names] if errors else None
    if intervals:  # (2, N): distances below and above each bar
        err = [[values[n] - intervals[n][0] for n in names],
               [intervals[n][1] - values[n] for n in names]]
    ax.bar(names, [values[n] for n in names], yerr=err, capsize=3, color="tab:blue", alpha=0.8)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=30)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_histogram(
    values: Mapping[str, np.ndarray | torch.Tensor],
    xlabel: str,
    bins: int = 30,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Overlaid histograms, one per named set of values (e.g. nearest-neighbour distances)."""
    ax = _axis(ax, (5, 3.2))
    for name, v in values.items():
        v = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        ax.hist(v, bins=bins, alpha=0.5, label=name, density=True)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
