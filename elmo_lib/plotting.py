"""Figure helpers for the lessons: each draws one idea, labels its axes, saves a PNG and returns the
``matplotlib.figure.Figure``.

Where figures go: ``name="01_play_contexts"`` is saved as ``<repo>/figures/01_play_contexts.png``.
The repo root is found from this package's location (a source checkout has ``figures/`` or
``pyproject.toml`` next to ``elmo_lib/``), so it does not depend on the notebook's working
directory; otherwise ``$ELMO_FIGURES_DIR`` or ``./figures`` is used. A ``name`` with a directory or
a ``.png`` suffix is used as a path as it is, and every helper takes ``figures_dir=`` to override.

In a notebook the figure is shown (``show=True``); in scripts and tests without a display the
non-interactive Agg backend is used and nothing is shown. Introduced in lesson 01.
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np

if (not os.environ.get("MPLBACKEND") and not os.environ.get("DISPLAY")
        and "ipykernel" not in sys.modules):
    matplotlib.use("Agg")  # headless: scripts, tests, CI

import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
from matplotlib.figure import Figure  # noqa: E402

PathLike = str | os.PathLike

__all__ = [
    "bar_chart",
    "char_id_heatmap",
    "figures_dir",
    "heatmap",
    "histogram",
    "layer_weights",
    "line_curves",
    "plot_history",
    "scatter_2d",
]


def figures_dir() -> pathlib.Path:
    """The directory figures are saved to (created if missing).

    ``<repo>/figures`` for a source checkout (found from the package location, not the working
    directory), else ``$ELMO_FIGURES_DIR``, else ``./figures``.
    """
    env = os.environ.get("ELMO_FIGURES_DIR")
    root = pathlib.Path(__file__).resolve().parents[1]
    if env:
        path = pathlib.Path(env)
    elif (root / "figures").is_dir() or (root / "pyproject.toml").is_file():
        path = root / "figures"
    else:
        path = pathlib.Path.cwd() / "figures"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _output_path(name: PathLike, directory: PathLike | None) -> pathlib.Path:
    path = pathlib.Path(name)
    if directory is not None:
        base = pathlib.Path(directory)
    elif path.parent != pathlib.Path(".") or path.suffix:
        base = None  # an explicit path: use it as given
    else:
        base = figures_dir()
    if not path.suffix:
        path = path.with_suffix(".png")
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
        path = base / path.name
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _finish(fig: Figure, name: PathLike, directory: PathLike | None, show: bool) -> Figure:
    """Save ``fig`` as PNG (fixed metadata, so re-runs give identical files) and maybe show it."""
    fig.tight_layout()
    path = _output_path(name, directory)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    fig.saved_path = path  # handy in tests; not printed by the lessons (it is an absolute path)
    if show and "agg" not in matplotlib.get_backend().lower():
        plt.show()
    else:
        plt.close(fig)
    return fig


def _check_name(name: PathLike) -> None:
    if not str(name):
        raise ValueError(f"`name` must be a non-empty file name, received name={name!r}")


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
    _check_name(name)
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
    if title:
        ax.set_title(title)
    return _finish(fig, name, figures_dir, show)


def char_id_heatmap(char_ids, tokens: Sequence[str], name: PathLike, *,
                    max_characters: int | None = None, title: str | None = None,
                    figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """The character ids of one sentence, ``[T, C]``, one row per token.

    Args:
        char_ids: int array ``[T, C]`` (from ``elmo_lib.text.char_ids``, after the +1 shift).
        tokens: the ``T`` tokens, used as row labels.
        name: file name or path (see :func:`heatmap`).
        max_characters: show only the first slots (the rest is usually padding).
        title: optional title.
        figures_dir, show: as in :func:`heatmap`.

    Returns:
        The Figure.
    """
    char_ids = np.asarray(char_ids)
    if char_ids.ndim != 2 or char_ids.shape[0] != len(tokens):
        raise ValueError(f"`char_ids` must be [len(tokens)={len(tokens)}, C], received shape "
                         f"{char_ids.shape}")
    if max_characters is not None:
        char_ids = char_ids[:, :max_characters]
    return heatmap(char_ids, name, xlabel="character slot (0 = BOW)", ylabel="token",
                   colorbar_label="character id (byte + 1; 257-261 special)",
                   yticklabels=list(tokens), title=title, figures_dir=figures_dir, show=show)


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
    _check_name(name)
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
    if title:
        ax.set_title(title)
    return _finish(fig, name, figures_dir, show)


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
    _check_name(name)
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
    if title:
        ax.set_title(title)
    return _finish(fig, name, figures_dir, show)


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
    _check_name(name)
    if not curves:
        raise ValueError("`curves` is empty: nothing to plot")
    x = np.asarray(x, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for label, ys in curves.items():
        ys = np.asarray(ys, dtype=float)
        if ys.shape != x.shape:
            raise ValueError(f"curve {label!r} has shape {ys.shape}, x has shape {x.shape}")
        (line,) = ax.plot(x, ys, marker="o" if markers else None, label=label)
        if bands and label in bands:
            half = np.asarray(bands[label], dtype=float)
            ax.fill_between(x, ys - half, ys + half, color=line.get_color(), alpha=0.2)
    for label, y in (hlines or {}).items():
        ax.axhline(y, linestyle="--", color="gray", label=label)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return _finish(fig, name, figures_dir, show)


def plot_history(history, keys: Sequence[str], name: PathLike, *, xlabel: str = "epoch",
                 ylabel: str = "loss (nats per token)", log_y: bool = False,
                 title: str | None = None, figures_dir: PathLike | None = None,
                 show: bool = True) -> Figure:
    """Training curves from a Keras ``History`` (or its ``.history`` dict).

    Args:
        history: ``keras.callbacks.History`` or ``{metric: [value per epoch]}``.
        keys: the metrics to plot, e.g. ``["loss", "val_loss"]``.
        name: file name or path.
        xlabel, ylabel, log_y, title, figures_dir, show: as in :func:`line_curves`.

    Returns:
        The Figure.

    Raises:
        ValueError: if a key is missing from the history.
    """
    values = getattr(history, "history", history)
    missing = [key for key in keys if key not in values]
    if missing:
        raise ValueError(f"keys {missing} are not in the history; available: {sorted(values)}")
    length = max(len(values[key]) for key in keys)
    curves = {}
    for key in keys:
        ys = np.full(length, np.nan)
        ys[: len(values[key])] = values[key]
        curves[key] = ys
    return line_curves(np.arange(1, length + 1), curves, name, xlabel=xlabel, ylabel=ylabel,
                       log_y=log_y, title=title, markers=length <= 30, figures_dir=figures_dir,
                       show=show)


def bar_chart(labels: Sequence[str], values, name: PathLike, *, xlabel: str, ylabel: str,
              errors=None, series: Sequence[str] | None = None, title: str | None = None,
              value_format: str | None = None, figures_dir: PathLike | None = None,
              show: bool = True) -> Figure:
    """Bars for categories, optionally grouped (several series) and with error bars.

    Args:
        labels: one label per category (x axis).
        values: ``[categories]`` or, with ``series``, ``[len(series), categories]``.
        name: file name or path.
        xlabel, ylabel: axis labels.
        errors: optional error half-widths, same shape as ``values``.
        series: names of the groups (legend) when ``values`` is 2-D.
        title, figures_dir, show: as in :func:`heatmap`.
        value_format: e.g. ``"{:.1f}"`` writes each value above its bar.

    Returns:
        The Figure.
    """
    _check_name(name)
    values = np.atleast_2d(np.asarray(values, dtype=float))
    errors = None if errors is None else np.atleast_2d(np.asarray(errors, dtype=float))
    if values.shape[1] != len(labels):
        raise ValueError(f"`values` has {values.shape[1]} categories for {len(labels)} labels")
    if series is not None and len(series) != values.shape[0]:
        raise ValueError(f"`series` has {len(series)} names for {values.shape[0]} rows of values")
    groups = values.shape[0]
    width = 0.8 / groups
    positions = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(labels) * max(1, groups / 2)), 3.8))
    for g in range(groups):
        offset = (g - (groups - 1) / 2) * width
        bars = ax.bar(positions + offset, values[g], width,
                      yerr=None if errors is None else errors[g], capsize=3,
                      label=None if series is None else series[g])
        if value_format:
            ax.bar_label(bars, labels=[value_format.format(v) for v in values[g]], fontsize=7)
    ax.set_xticks(positions, labels=list(labels))
    if series is not None:
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return _finish(fig, name, figures_dir, show)


def layer_weights(weights, name: PathLike, *, layer_names: Sequence[str] | None = None,
                  normalize: bool = True, title: str | None = None,
                  figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """ELMo's scalar-mix weights per layer, for one task or several (``{task: weights}``).

    Args:
        weights: the ``ScalarMix`` parameters ``s`` (``[layers]``), or ``{task: s}``.
        name: file name or path.
        layer_names: defaults to ``"layer 0 (tokens)"``, ``"layer 1"``, ...
        normalize: apply the softmax, as ``ScalarMix`` does (pass ``False`` for weights that are
            already normalised).
        title, figures_dir, show: as in :func:`heatmap`.

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
                     figures_dir=figures_dir, show=show)
