"""Chart helpers for the lessons: each draws one idea, labels its axes, saves a PNG and returns the
``matplotlib.figure.Figure``.

Where figures go (``figures/NN_name.png``) and how they are saved is :mod:`elmo_lib.figure_files`;
the pictures of the model (:func:`bilm_architecture`, :func:`scalar_mix_diagram`) are drawn by
:mod:`elmo_lib.diagrams` and re-exported here, so a lesson calls every figure as
``el.plotting.<helper>``. Introduced in lesson 01.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from elmo_lib.diagrams import bilm_architecture, char_id_heatmap, scalar_mix_diagram
from elmo_lib.figure_files import PathLike, check_name, figures_dir, plt, save, set_title

__all__ = [
    "accuracy_chart",
    "bar_chart",
    "bilm_architecture",
    "binomial_error",
    "char_id_heatmap",
    "figures_dir",
    "heatmap",
    "histogram",
    "layer_weights",
    "line_curves",
    "plot_history",
    "scalar_mix_diagram",
    "scatter_2d",
]

def heatmap(matrix, name: PathLike, *, xlabel: str, ylabel: str, colorbar_label: str,
            xticklabels: Sequence[str] | None = None, yticklabels: Sequence[str] | None = None,
            title: str | None = None, cmap: str = "viridis", annotate: bool = False,
            figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """A labelled heatmap of a 2-D array with a colour bar.

    Args:
        matrix: array ``[rows, columns]``.
        name: file name (without ``.png``) in the figures directory, or a path.
        xlabel, ylabel: axis labels (with units where there are any).
        colorbar_label: what a colour means.
        xticklabels, yticklabels: optional tick labels, one per column / row.
        title: optional title.
        cmap: matplotlib colour map.
        annotate: write each value in its cell (for small matrices).
        figures_dir: save here instead of the default figures directory.
        show: display the figure (in a notebook).

    Returns:
        The Figure.
    """
    check_name(name)
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"`matrix` must be 2-D, received shape {matrix.shape}")
    rows, columns = matrix.shape
    fig, ax = plt.subplots(figsize=(min(12, 2 + 0.22 * columns), min(8, 1.5 + 0.32 * rows)))
    image = ax.imshow(matrix, aspect="auto", cmap=cmap, interpolation="nearest")
    fig.colorbar(image, ax=ax, label=colorbar_label)
    if xticklabels is not None:
        ax.set_xticks(range(columns), labels=list(xticklabels), rotation=90)
    if yticklabels is not None:
        ax.set_yticks(range(rows), labels=list(yticklabels))
    if annotate:
        for r in range(rows):
            for c in range(columns):
                ax.text(c, r, f"{matrix[r, c]:g}", ha="center", va="center", fontsize=6,
                        color="white")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    set_title(ax, title, fig.get_figwidth())
    return save(fig, name, figures_dir, show)


def histogram(values, name: PathLike, *, xlabel: str, ylabel: str = "count", bins=50,
              log_y: bool = False, vline: float | None = None, vline_label: str | None = None,
              title: str | None = None, figures_dir: PathLike | None = None,
              show: bool = True) -> Figure:
    """A histogram of ``values``, optionally with a vertical marker line (e.g. a limit).

    Args:
        values: 1-D numbers.
        name: file name or path.
        xlabel, ylabel: axis labels.
        bins: as ``matplotlib.axes.Axes.hist``.
        log_y: logarithmic count axis (for long tails).
        vline: x position of a dashed marker; ``vline_label`` labels it in the legend.
        title, figures_dir, show: as in :func:`heatmap`.

    Returns:
        The Figure.
    """
    check_name(name)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.hist(np.asarray(values).ravel(), bins=bins, color="tab:blue", edgecolor="white")
    if log_y:
        ax.set_yscale("log")
    if vline is not None:
        ax.axvline(vline, color="tab:red", linestyle="--", label=vline_label)
        if vline_label:
            ax.legend()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    set_title(ax, title, fig.get_figwidth())
    return save(fig, name, figures_dir, show)


def scatter_2d(points, name: PathLike, *, labels: Sequence | None = None, xlabel: str,
               ylabel: str, highlight: Mapping[str, Sequence[float]] | None = None,
               title: str | None = None, alpha: float = 0.7, figures_dir: PathLike | None = None,
               show: bool = True) -> Figure:
    """Points in 2-D (e.g. a PCA projection), coloured by a categorical label.

    Args:
        points: array ``[N, 2]``.
        name: file name or path.
        labels: optional ``N`` category labels (one colour and legend entry per category).
        xlabel, ylabel: axis labels (e.g. ``"PC 1"``).
        highlight: optional ``{text: (x, y)}`` special points drawn as large black stars.
        title, figures_dir, show: as in :func:`heatmap`.
        alpha: point opacity.

    Returns:
        The Figure.
    """
    check_name(name)
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"`points` must be [N, 2], received shape {points.shape}")
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=14, alpha=alpha)
    else:
        labels = np.asarray(labels, dtype=object)
        if len(labels) != len(points):
            raise ValueError(f"`labels` has {len(labels)} entries for {len(points)} points")
        for category in dict.fromkeys(labels.tolist()):  # first-seen order
            chosen = labels == category
            ax.scatter(points[chosen, 0], points[chosen, 1], s=14, alpha=alpha,
                       label=f"{category} ({int(chosen.sum())})")
    for text, (x, y) in (highlight or {}).items():
        ax.scatter([x], [y], marker="*", s=260, color="black", zorder=5, label=text)
    if labels is not None or highlight:
        ax.legend(fontsize=8, loc="best")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    set_title(ax, title, fig.get_figwidth())
    return save(fig, name, figures_dir, show)


def _draw_curves(ax, x, curves: Mapping[str, Sequence[float]], *, bands=None, hlines=None,
                 markers: bool = True, log_x: bool = False, log_y: bool = False) -> None:
    for label, ys in curves.items():
        ys = np.asarray(ys, dtype=float)
        if ys.shape != x.shape:
            raise ValueError(f"curve {label!r} has shape {ys.shape}, x has shape {x.shape}")
        (line,) = ax.plot(x, ys, marker="o" if markers else None, label=label)
        if bands and label in bands:
            half = np.asarray(bands[label], dtype=float)
            ax.fill_between(x, ys - half, ys + half, color=line.get_color(), alpha=0.2)
    styles = [("--", "0.35"), (":", "tab:red"), ("-.", "tab:green"), ((0, (5, 1, 1, 1)), "tab:purple")]
    for index, (label, y) in enumerate((hlines or {}).items()):  # each reference line its own style
        linestyle, colour = styles[index % len(styles)]
        ax.axhline(y, linestyle=linestyle, color=colour, linewidth=1.5, label=label)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def line_curves(x, curves: Mapping[str, Sequence[float]], name: PathLike, *, xlabel: str,
                ylabel: str, log_x: bool = False, log_y: bool = False,
                bands: Mapping[str, Sequence[float]] | None = None,
                hlines: Mapping[str, float] | None = None, title: str | None = None,
                markers: bool = True, figures_dir: PathLike | None = None,
                show: bool = True) -> Figure:
    """Several curves over a shared x axis (loss curves, rates against a size, ...).

    Args:
        x: the shared x values.
        curves: ``{label: y values}``.
        name: file name or path.
        xlabel, ylabel: axis labels with units.
        log_x, log_y: logarithmic axes.
        bands: optional ``{label: half-widths}`` drawn as shaded ``y ± band`` around that curve.
        hlines: optional ``{label: y}`` horizontal reference lines (dashed).
        title, figures_dir, show: as in :func:`heatmap`.
        markers: draw a marker at every point.

    Returns:
        The Figure.
    """
    check_name(name)
    if not curves:
        raise ValueError("`curves` is empty: nothing to plot")
    x = np.asarray(x, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    _draw_curves(ax, x, curves, bands=bands, hlines=hlines, markers=markers, log_x=log_x,
                 log_y=log_y)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    set_title(ax, title, fig.get_figwidth())
    return save(fig, name, figures_dir, show)


def plot_history(history, keys: Sequence[str] | Mapping[str, Sequence[str]], name: PathLike, *,
                 xlabel: str = "epoch", ylabel: str | Mapping[str, str] = "loss (nats per token)",
                 log_y: bool = False, title: str | None = None,
                 figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """Training curves from a Keras ``History`` (or its ``.history`` dict), on one or more panels.

    Numbers that are not the same quantity never share an axis: pass ``keys`` as
    ``{panel title: [keys]}`` and each panel gets its own y axis, e.g. a sampled-softmax training
    loss beside a full-softmax validation loss (they differ by more than the model's progress)::

        plot_history(history, {"training (sampled softmax)": ["loss"],
                               "validation (full softmax)": ["val_loss"]}, "04_loss_curves")

    Args:
        history: ``keras.callbacks.History`` or ``{metric: [value per epoch]}``.
        keys: the metrics to plot on one panel, e.g. ``["loss", "val_loss"]``, or
            ``{panel title: [metrics]}`` for one panel each, side by side.
        name: file name or path.
        xlabel: the shared x label.
        ylabel: the y label, or ``{panel title: y label}`` (a missing panel gets the default).
        log_y, title, figures_dir, show: as in :func:`line_curves` (``title`` spans the figure).

    Returns:
        The Figure.

    Raises:
        ValueError: if a key is missing from the history, or ``keys`` is empty.
    """
    check_name(name)
    values = getattr(history, "history", history)
    panels = dict(keys) if isinstance(keys, Mapping) else {None: list(keys)}
    every_key = [key for panel in panels.values() for key in panel]
    if not every_key:
        raise ValueError("`keys` is empty: nothing to plot")
    missing = [key for key in every_key if key not in values]
    if missing:
        raise ValueError(f"keys {missing} are not in the history; available: {sorted(values)}")
    length = max(len(values[key]) for key in every_key)
    x = np.arange(1, length + 1, dtype=float)
    fig, axes = plt.subplots(1, len(panels), figsize=(6 if len(panels) == 1 else 4.6 * len(panels),
                                                      3.8), squeeze=False)
    for ax, (panel, panel_keys) in zip(axes[0], panels.items()):
        curves = {}
        for key in panel_keys:
            ys = np.full(length, np.nan)
            ys[: len(values[key])] = values[key]
            curves[key] = ys
        _draw_curves(ax, x, curves, markers=length <= 30, log_y=log_y)
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        label = ylabel.get(panel, "loss (nats per token)") if isinstance(ylabel, Mapping) else ylabel
        ax.set_ylabel(label)
        if panel is not None:
            set_title(ax, panel, fig.get_figwidth() / len(panels))
    if len(panels) == 1:
        set_title(axes[0, 0], title, fig.get_figwidth())
    else:
        set_title(fig, title, fig.get_figwidth())
    return save(fig, name, figures_dir, show)


def _wrap_label(label: str, width: int = 18) -> str:
    """A category label broken into lines of at most ``width`` characters (given breaks kept)."""
    return "\n".join("\n".join(textwrap.wrap(line, width)) or line for line in label.split("\n"))


def _legend_outside(ax) -> None:
    """A legend to the right of the axes: it never hides a bar, a point or a value label."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def bar_chart(labels: Sequence[str], values, name: PathLike, *, xlabel: str, ylabel: str,
              errors=None, series: Sequence[str] | None = None, title: str | None = None,
              value_format: str | None = None, hlines: Mapping[str, float] | None = None,
              figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """Bars for categories, optionally grouped (several series) and with error bars.

    Bars start at zero, so use them for amounts (counts, weights, losses); for accuracies that
    differ by a few points use :func:`accuracy_chart`, whose axis is zoomed to the data.

    Args:
        labels: one label per category (x axis).
        values: ``[categories]`` or, with ``series``, ``[len(series), categories]``.
        name: file name or path.
        xlabel, ylabel: axis labels.
        errors: optional error half-widths, same shape as ``values``.
        series: names of the groups (legend) when ``values`` is 2-D.
        title, figures_dir, show: as in :func:`heatmap`.
        value_format: e.g. ``"{:.1f}"`` writes each value above its bar.
        hlines: optional ``{label: y}`` horizontal reference lines (dashed).

    Returns:
        The Figure.
    """
    check_name(name)
    values = np.atleast_2d(np.asarray(values, dtype=float))
    errors = None if errors is None else np.atleast_2d(np.asarray(errors, dtype=float))
    if values.shape[1] != len(labels):
        raise ValueError(f"`values` has {values.shape[1]} categories for {len(labels)} labels")
    if series is not None and len(series) != values.shape[0]:
        raise ValueError(f"`series` has {len(series)} names for {values.shape[0]} rows of values")
    if errors is not None and errors.shape != values.shape:
        raise ValueError(f"`errors` has shape {errors.shape}, `values` {values.shape}")
    groups = values.shape[0]
    width = 0.8 / groups
    positions = np.arange(len(labels))
    legend_inches = 1.8 if series is not None or hlines else 0.0  # the legend sits outside
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(labels) * max(1, groups / 2))
                                    + legend_inches, 3.8))
    for g in range(groups):
        offset = (g - (groups - 1) / 2) * width
        bars = ax.bar(positions + offset, values[g], width,
                      yerr=None if errors is None else errors[g], capsize=3,
                      label=None if series is None else series[g])
        if value_format:
            ax.bar_label(bars, labels=[value_format.format(v) for v in values[g]], fontsize=7,
                         padding=2)
    styles = [("--", "0.35"), (":", "tab:red"), ("-.", "tab:green"), ((0, (5, 1, 1, 1)), "tab:purple")]
    for index, (label, y) in enumerate((hlines or {}).items()):  # each reference line its own style
        linestyle, colour = styles[index % len(styles)]
        ax.axhline(y, linestyle=linestyle, color=colour, linewidth=1.5, label=label)
    ax.margins(y=0.12)  # headroom for the value labels
    ax.set_xticks(positions, labels=[_wrap_label(label) for label in labels])
    if series is not None or hlines:
        _legend_outside(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    set_title(ax, title, fig.get_figwidth())
    return save(fig, name, figures_dir, show)


def binomial_error(accuracy, n):
    """The standard error of an accuracy measured on ``n`` independent examples:
    ``sqrt(p (1 - p) / n)`` (same units as ``accuracy``: pass a fraction, or scale the result).

    Example:
        >>> round(float(binomial_error(0.9, 1_000)), 4)
        0.0095
    """
    accuracy, n = np.asarray(accuracy, dtype=float), np.asarray(n, dtype=float)
    if np.any(accuracy < 0) or np.any(accuracy > 1) or np.any(n <= 0):
        raise ValueError(f"`accuracy` must be a fraction in [0, 1] and `n` positive, received "
                         f"accuracy={accuracy!r}, n={n!r}")
    return np.sqrt(accuracy * (1 - accuracy) / n)


def accuracy_chart(labels: Sequence[str], means, name: PathLike, *, errors=None,
                   chance: float | None = None, majority: float | None = None,
                   series: Sequence[str] | None = None, xlabel: str,
                   ylabel: str = "accuracy (%)", limits: tuple[float, float] = (0.0, 100.0),
                   value_format: str | None = "{:.1f}", title: str | None = None,
                   figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """Accuracies as points with error bars, a chance and a majority-class line, and a y axis
    zoomed to the data (points ± errors), not to 0-100.

    A reference line within twice the data's span of the points is inside the axis; one further
    away (chance at 6% under accuracies near 90%) would leave the axis mostly empty, so its legend
    entry gives its value and says it is below (or above) the axis.

    Points rather than bars because the axis does not start at zero: a bar's length would lie.

    Args:
        labels: one label per method / layer (x axis).
        means: ``[methods]`` or, with ``series``, ``[len(series), methods]`` (e.g. dev and test).
        name: file name or path.
        errors: optional half-widths, same shape as ``means``: the standard deviation over seeds
            or the binomial standard error (:func:`binomial_error`, scaled to the units of
            ``means``).
        chance: the accuracy of a uniform guess (e.g. 50 for two balanced classes); dashed line.
        majority: the accuracy of always predicting the most frequent class; dotted line.
        series: names of the rows of ``means`` (legend).
        xlabel, ylabel: axis labels (``ylabel`` says the units: % or fraction).
        limits: the range the metric can take; the zoomed axis never leaves it.
        value_format: writes each mean beside its point (``None``: no labels).
        title, figures_dir, show: as in :func:`heatmap`.

    Returns:
        The Figure.
    """
    check_name(name)
    means = np.atleast_2d(np.asarray(means, dtype=float))
    errors = np.zeros_like(means) if errors is None else np.atleast_2d(
        np.asarray(errors, dtype=float))
    if means.shape[1] != len(labels):
        raise ValueError(f"`means` has {means.shape[1]} methods for {len(labels)} labels")
    if errors.shape != means.shape:
        raise ValueError(f"`errors` has shape {errors.shape}, `means` {means.shape}")
    if series is not None and len(series) != means.shape[0]:
        raise ValueError(f"`series` has {len(series)} names for {means.shape[0]} rows of means")
    groups = means.shape[0]
    positions = np.arange(len(labels), dtype=float)
    legend_inches = 2.2 if series is not None or chance is not None or majority is not None else 0
    fig, ax = plt.subplots(figsize=(max(4.0, 1.0 + 1.4 * len(labels)) + legend_inches, 3.8))
    for g in range(groups):
        x = positions + (g - (groups - 1) / 2) * min(0.25, 0.6 / groups)
        # an error bar stops at the metric's range (no accuracy above 100%)
        below = np.minimum(errors[g], means[g] - limits[0])
        above = np.minimum(errors[g], limits[1] - means[g])
        ax.errorbar(x, means[g], yerr=[below, above], fmt="o", capsize=4, markersize=6,
                    label=None if series is None else series[g])
        left = groups == 2 and g == 0  # two series: labels outside the pair, never overlapping
        for xi, yi in zip(x, means[g]) if value_format else ():
            ax.annotate(value_format.format(yi), (xi, yi), xytext=(-6 if left else 6, 0),
                        textcoords="offset points", va="center", ha="right" if left else "left",
                        fontsize=7)
    low = float(np.maximum(means - errors, limits[0]).min())
    high = float(np.minimum(means + errors, limits[1]).max())
    span = max(high - low, 0.02 * (limits[1] - limits[0]))
    references = {"chance": (chance, "--"), "majority class": (majority, ":")}
    for label, (y, style) in references.items():
        if y is None:
            continue
        near = low - 2 * span <= y <= high + 2 * span  # else the axis would be mostly empty
        if near:
            low, high = min(low, y), max(high, y)
        where = "" if near else (", below the axis" if y < low else ", above the axis")
        ax.axhline(y, linestyle=style, color="black", linewidth=1.2,
                   label=f"{label} ({y:.3g}{where})")
    pad = 0.1 * (high - low) if high > low else 0.02 * (limits[1] - limits[0])
    # the axis stays within the range, except for the pad that keeps a dot at the range's end
    # (and its label) whole
    bottom = low - pad if low - pad >= limits[0] or low <= limits[0] + pad / 2 else limits[0]
    top = high + pad if high + pad <= limits[1] or high >= limits[1] - pad / 2 else limits[1]
    ax.set_ylim(bottom, top)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_xticks(positions, labels=[_wrap_label(label) for label in labels])
    ax.grid(axis="y", alpha=0.3)
    if series is not None or chance is not None or majority is not None:
        _legend_outside(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    set_title(ax, title, fig.get_figwidth())
    return save(fig, name, figures_dir, show)


def gain_chart(labels: Sequence[str], gains, lows, highs, name: PathLike, *, ylabel: str,
               xlabel: str = "task", title: str | None = None, value_format: str = "{:+.1f}",
               figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """Gains as points with their (possibly asymmetric) interval and a "no gain" line at zero.

    Args:
        labels: one label per task (x axis).
        gains, lows, highs: ``[tasks]``: the gain and its interval's ends, in the units of
            ``ylabel`` (e.g. accuracy points).
        name, xlabel, ylabel, title, figures_dir, show: as in :func:`heatmap`.
        value_format: writes each gain beside its point.

    Returns:
        The Figure. ValueError: lengths differ, or an interval does not contain its gain.
    """
    check_name(name)
    gains, lows, highs = (np.asarray(v, dtype=float).ravel() for v in (gains, lows, highs))
    if not len(gains) == len(lows) == len(highs) == len(labels):
        raise ValueError(f"{len(labels)} labels but {len(gains)} gains, {len(lows)} lows, "
                         f"{len(highs)} highs")
    if np.any(lows > gains) or np.any(highs < gains):
        raise ValueError("each interval [low, high] must contain its gain")
    positions = np.arange(len(labels), dtype=float)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.0 + 1.6 * len(labels)) + 2.2, 3.6))
    ax.errorbar(positions, gains, yerr=[gains - lows, highs - gains], fmt="o", capsize=5,
                markersize=7, label="gain, 95% interval")
    for x, y in zip(positions, gains):
        ax.annotate(value_format.format(y), (x, y), xytext=(8, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.axhline(0.0, linestyle="--", color="black", linewidth=1.2, label="no gain")
    top = float(max(highs.max(), 0.0))
    bottom = float(min(lows.min(), 0.0))
    pad = 0.1 * (top - bottom) if top > bottom else 1.0
    ax.set_ylim(bottom - pad, top + pad)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_xticks(positions, labels=[_wrap_label(label) for label in labels])
    ax.grid(axis="y", alpha=0.3)
    _legend_outside(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    set_title(ax, title, fig.get_figwidth())
    return save(fig, name, figures_dir, show)


def layer_weights(weights, name: PathLike, *, layer_names: Sequence[str] | None = None,
                  normalize: bool = True, errors=None, title: str | None = None,
                  figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """ELMo's scalar-mix weights per layer, for one task or several (``{task: weights}``), with
    the uniform weight ``1 / (L + 1)`` (where every mix starts) as a dashed line.

    Args:
        weights: the ``ScalarMix`` parameters ``s`` (``[layers]``), or ``{task: s}``.
        name: file name or path.
        layer_names: defaults to ``"layer 0 (tokens)"``, ``"layer 1"``, ...
        normalize: apply the softmax, as ``ScalarMix`` does (pass ``False`` for weights that are
            already normalised).
        errors: optional error bars, shaped like the (normalised) weights: ``[layers]`` or
            ``{task: [layers]}`` (e.g. the sd over seeds).
        title, figures_dir, show: as in :func:`heatmap`; the legend sits outside the axes and
            the title is wrapped, so neither is ever cut off.

    Returns:
        The Figure.
    """
    tasks = dict(weights) if isinstance(weights, Mapping) else {"weights": weights}
    rows = []
    for s in tasks.values():
        s = np.asarray(s, dtype=float).ravel()
        if normalize:
            s = np.exp(s - s.max())
            s = s / s.sum()
        rows.append(s)
    n_layers = len(rows[0])
    if any(len(r) != n_layers for r in rows):
        raise ValueError("all tasks must have the same number of layers")
    if layer_names is None:
        layer_names = ["layer 0 (tokens)"] + [f"layer {k}" for k in range(1, n_layers)]
    return bar_chart(layer_names, np.stack(rows), name, xlabel="biLM layer",
                     ylabel="softmax weight" if normalize else "weight",
                     series=None if len(rows) == 1 and not isinstance(weights, Mapping)
                     else list(tasks), title=title, value_format="{:.2f}",
                     errors=None if errors is None else np.stack(
                         [np.asarray(e, float).ravel() for e in (errors.values() if isinstance(
                             errors, Mapping) else [errors])]),
                     hlines={f"uniform (1/{n_layers})": 1 / n_layers},
                     figures_dir=figures_dir, show=show)
