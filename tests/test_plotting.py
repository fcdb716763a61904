"""Every plotting helper writes a non-empty PNG and labels its axes."""

import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from elmo_lib import plotting  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check(fig, path: pathlib.Path, xlabel: str | None = None, ylabel: str | None = None):
    assert path.is_file(), path
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    if xlabel is not None:
        assert ax.get_xlabel() == xlabel
    if ylabel is not None:
        assert ax.get_ylabel() == ylabel


def test_char_id_heatmap(tmp_path):
    ids = np.arange(3 * 50).reshape(3, 50) % 262
    fig = plotting.char_id_heatmap(ids, ["<S>", "play", "</S>"], "heat", max_characters=12,
                                   figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "heat.png", ylabel="token")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["<S>", "play", "</S>"]
    assert fig.axes[1].get_ylabel()  # the colour bar says what a colour means


def test_char_id_heatmap_rejects_mismatched_tokens(tmp_path):
    with pytest.raises(ValueError, match="char_ids"):
        plotting.char_id_heatmap(np.zeros((2, 50)), ["one"], "x", figures_dir=tmp_path, show=False)


def test_heatmap(tmp_path):
    fig = plotting.heatmap(np.eye(3), "eye", xlabel="column", ylabel="row", colorbar_label="value",
                           annotate=True, figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "eye.png", "column", "row")


def test_histogram(tmp_path):
    values = np.random.default_rng(0).integers(1, 30, size=500)
    fig = plotting.histogram(values, "hist", xlabel="token length (bytes)", log_y=True, vline=48,
                             vline_label="limit", figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "hist.png", "token length (bytes)", "count")
    assert fig.axes[0].get_yscale() == "log"


def test_scatter_2d(tmp_path):
    points = np.random.default_rng(0).normal(size=(40, 2))
    labels = ["noun"] * 20 + ["verb"] * 20
    fig = plotting.scatter_2d(points, "scatter", labels=labels, xlabel="PC 1", ylabel="PC 2",
                              highlight={"static": (0.0, 0.0)}, figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "scatter.png", "PC 1", "PC 2")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["noun (20)", "verb (20)", "static"]


def test_line_curves(tmp_path):
    x = [16, 64, 256]
    fig = plotting.line_curves(x, {"sampled": [1.0, 2.0, 3.0]}, "curves", xlabel="num_sampled",
                               ylabel="loss (nats)", log_x=True, bands={"sampled": [0.1] * 3},
                               hlines={"full softmax": 3.5}, figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "curves.png", "num_sampled", "loss (nats)")
    assert fig.axes[0].get_xscale() == "log"


def test_line_curves_rejects_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        plotting.line_curves([1, 2], {"a": [1, 2, 3]}, "bad", xlabel="x", ylabel="y",
                             figures_dir=tmp_path, show=False)


def test_plot_history(tmp_path):
    history = {"loss": [3.0, 2.5, 2.2], "val_loss": [3.1, 2.8]}
    fig = plotting.plot_history(history, ["loss", "val_loss"], tmp_path / "sub" / "history.png",
                                show=False)
    _check(fig, tmp_path / "sub" / "history.png", "epoch")
    with pytest.raises(ValueError, match="perplexity"):
        plotting.plot_history(history, ["perplexity"], "x", figures_dir=tmp_path, show=False)


def test_bar_chart_grouped(tmp_path):
    fig = plotting.bar_chart(["a", "b"], [[1, 2], [3, 4]], "bars", xlabel="task",
                             ylabel="accuracy (%)", errors=[[0.1, 0.2], [0.1, 0.2]],
                             series=["x", "y"], value_format="{:.1f}", figures_dir=tmp_path,
                             show=False)
    _check(fig, tmp_path / "bars.png", "task", "accuracy (%)")


def test_layer_weights(tmp_path):
    fig = plotting.layer_weights({"sst2": [0.0, 1.0, -1.0], "pos": [1.0, 0.0, 0.0]}, "mix",
                                 figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "mix.png", "biLM layer", "softmax weight")
    heights = [patch.get_height() for patch in fig.axes[0].patches]
    assert np.isclose(sum(heights[:3]), 1.0) and np.isclose(sum(heights[3:]), 1.0)


def test_default_directory_is_repo_figures(monkeypatch):
    monkeypatch.delenv("ELMO_FIGURES_DIR", raising=False)
    repo = pathlib.Path(plotting.__file__).resolve().parents[1]
    assert plotting.figures_dir() == repo / "figures"


def test_env_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("ELMO_FIGURES_DIR", str(tmp_path / "figs"))
    fig = plotting.histogram([1, 2, 2, 3], "env_hist", xlabel="x", show=False)
    _check(fig, tmp_path / "figs" / "env_hist.png")
