"""Every plotting helper writes a non-empty PNG and labels its axes; the accuracy chart draws the
numbers it is given on a zoomed axis; the diagrams write the sizes of the configuration."""

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


def _texts(fig) -> list[str]:
    return [text.get_text() for ax in fig.axes for text in ax.texts]


def test_char_id_heatmap_labels_every_cell(tmp_path):
    from elmo_lib import text

    bos, _ = text.boundary_char_ids()
    ids = np.stack([bos, text.token_char_ids("Zü")])
    fig = plotting.char_id_heatmap(ids, ["<S>", "Zü"], "heat", max_characters=8,
                                   figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "heat.png", ylabel="token")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["<S>", "Zü"]
    cells = _texts(fig)
    assert len(cells) == 2 * 8
    # the character above its id: specials by name, ASCII as itself, other bytes in hex
    assert cells[:3] == ["BOW\n259", "<S>\n257", "EOW\n260"]
    assert cells[8:12] == ["BOW\n259", "Z\n91", "c3\n196", "bc\n189"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "261: padding" in legend and any("byte" in entry for entry in legend)


def test_char_id_heatmap_colours_specials_apart_from_bytes(tmp_path):
    from elmo_lib import text

    ids = text.token_char_ids("ab")[None, :5]  # BOW a b EOW PAD
    fig = plotting.char_id_heatmap(ids, ["ab"], "heat", figures_dir=tmp_path, show=False)
    rgb = fig.axes[0].get_images()[0].get_array()[0, :, :3]
    bow, a, b, eow, pad = rgb
    assert np.allclose(a, b, atol=0.05)  # neighbouring bytes: nearly the same blue
    for special in (bow, eow, pad):
        assert np.abs(special - a).max() > 0.2  # every special stands out from the bytes


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


def test_reference_lines_are_told_apart(tmp_path):
    fig = plotting.line_curves([1, 2, 3], {"loss": [5.0, 4.9, 4.8]}, "references", xlabel="t",
                               ylabel="nats", hlines={"windows": 5.0, "stream": 4.9},
                               figures_dir=tmp_path, show=False)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert lines["windows"].get_ydata()[0] == 5.0 and lines["stream"].get_ydata()[0] == 4.9
    styles = {(str(lines[k].get_linestyle()), str(lines[k].get_color())) for k in ("windows", "stream")}
    assert len(styles) == 2  # two reference lines never share a style


def test_line_curves_rejects_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        plotting.line_curves([1, 2], {"a": [1, 2, 3]}, "bad", xlabel="x", ylabel="y",
                             figures_dir=tmp_path, show=False)


def test_plot_history_panels_give_each_quantity_its_own_axis(tmp_path):
    history = {"loss": [6.0, 5.0, 4.5], "val_loss": [5.5, 5.2, 5.1]}
    fig = plotting.plot_history(history, {"training (sampled softmax)": ["loss"],
                                          "validation (full softmax)": ["val_loss"]},
                                "panels", ylabel={"validation (full softmax)": "nats"},
                                title="biLM", figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "panels.png", "epoch")
    train_ax, valid_ax = fig.axes
    assert [line.get_label() for line in train_ax.get_lines()] == ["loss"]
    assert [line.get_label() for line in valid_ax.get_lines()] == ["val_loss"]
    assert train_ax.get_title() == "training (sampled softmax)" and valid_ax.get_ylabel() == "nats"
    np.testing.assert_array_equal(valid_ax.get_lines()[0].get_ydata(), [5.5, 5.2, 5.1])


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
                                 title="a long title " * 8, figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "mix.png", "biLM layer", "softmax weight")
    ax = fig.axes[0]
    heights = [patch.get_height() for patch in ax.patches]
    assert np.isclose(sum(heights[:3]), 1.0) and np.isclose(sum(heights[3:]), 1.0)
    uniform = [line for line in ax.get_lines() if line.get_label().startswith("uniform")]
    assert np.allclose(uniform[0].get_ydata(), 1 / 3)
    assert "\n" in ax.get_title()  # long titles are wrapped, not cut off
    legend = ax.get_legend()
    assert legend.get_bbox_to_anchor().x0 >= ax.get_window_extent().x1  # outside the bars


def _errorbar_ranges(ax):
    """(x, low, high) of every error bar drawn on ``ax``, in drawing order."""
    ranges = []
    for container in ax.containers:
        segments = container.lines[2][0].get_segments()
        ranges += [(seg[0][0], seg[0][1], seg[1][1]) for seg in segments]
    return np.array(ranges)


def test_accuracy_chart_draws_the_given_numbers_on_a_zoomed_axis(tmp_path):
    means, errors = [[80.0, 86.0, 84.0], [79.0, 85.0, 83.5]], [[1.0, 0.5, 2.0], [1.5, 0.5, 1.0]]
    fig = plotting.accuracy_chart(["layer 0", "layer 1", "layer 2"], means, "acc", errors=errors,
                                  xlabel="features", series=["dev", "test"], majority=70.0,
                                  chance=50.0,
                                  figures_dir=tmp_path, show=False)
    _check(fig, tmp_path / "acc.png", ylabel="accuracy (%)")
    ax = fig.axes[0]
    ranges = _errorbar_ranges(ax)
    np.testing.assert_allclose(ranges[:, 1], np.ravel(means) - np.ravel(errors))
    np.testing.assert_allclose(ranges[:, 2], np.ravel(means) + np.ravel(errors))
    lines = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()
             if not line.get_label().startswith("_")}
    assert lines["majority class (70)"] == 70.0  # within reach: drawn inside the axis
    low, high = ax.get_ylim()
    assert 65.0 <= low < 70.0 and 86.5 < high <= 90.0  # zoomed: not 0-100
    chance = [label for label in lines if label.startswith("chance")]
    assert chance == ["chance (50, below the axis)"] and lines[chance[0]] == 50.0


def test_accuracy_chart_includes_a_nearby_chance_line(tmp_path):
    fig = plotting.accuracy_chart(["static", "context"], [52.0, 81.0], "acc", errors=[3.0, 2.0],
                                  xlabel="vectors", chance=50.0, limits=(0.0, 100.0),
                                  figures_dir=tmp_path, show=False)
    low, high = fig.axes[0].get_ylim()
    assert 40.0 < low < 50.0 and 83.0 < high < 90.0


def test_accuracy_chart_rejects_mismatched_errors(tmp_path):
    with pytest.raises(ValueError, match="errors"):
        plotting.accuracy_chart(["a", "b"], [1.0, 2.0], "x", errors=[0.1], xlabel="method",
                                figures_dir=tmp_path, show=False)


def test_binomial_error():
    assert np.isclose(plotting.binomial_error(0.9, 1_000), np.sqrt(0.9 * 0.1 / 1_000))
    with pytest.raises(ValueError, match="accuracy"):
        plotting.binomial_error(90.0, 1_000)  # a percentage, not a fraction


def test_bilm_architecture_writes_every_size_of_the_config(tmp_path):
    from elmo_lib.bilm import BiLMConfig

    config = BiLMConfig.cpu(vocab_size=33_280)
    fig = plotting.bilm_architecture(config, "arch", figures_dir=tmp_path, show=False)
    assert (tmp_path / "arch.png").read_bytes().startswith(PNG_MAGIC)
    drawn = "\n".join(_texts(fig))
    for width, count in config.filters:
        assert f"width {width}\n{count:,} filters" in drawn
    for size in ("cell H = 256", "projection P = 128", "33,280 words × 128", "highway × 1",
                 "262 ids × 16 dims", "512 features", "LSTMP layer 2", "skip",
                 "ELMo layer 0 = [x_k; x_k]"):
        assert size in drawn, size
    assert "LSTMP layer 3" not in drawn


def test_scalar_mix_diagram(tmp_path):
    fig = plotting.scalar_mix_diagram(3, "mix", weights=[0.0, np.log(2.0), 0.0], gamma=0.5,
                                      figures_dir=tmp_path, show=False)
    assert (tmp_path / "mix.png").read_bytes().startswith(PNG_MAGIC)
    drawn = "\n".join(_texts(fig))
    for j, share in enumerate([0.25, 0.5, 0.25]):  # softmax of the raw weights
        assert f"softmax$(s)_{j}$\n= {share:.2f}" in drawn
    assert "× γ = 0.5" in drawn
    symbols_only = plotting.scalar_mix_diagram(4, "mix4", figures_dir=tmp_path, show=False)
    assert "h_{k,3}" in "\n".join(_texts(symbols_only))
    with pytest.raises(ValueError, match="weights"):
        plotting.scalar_mix_diagram(3, "bad", weights=[0.0, 1.0], figures_dir=tmp_path,
                                    show=False)


def test_default_directory_is_repo_figures(monkeypatch):
    monkeypatch.delenv("ELMO_FIGURES_DIR", raising=False)
    repo = pathlib.Path(plotting.__file__).resolve().parents[1]
    assert plotting.figures_dir() == repo / "figures"


def test_env_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("ELMO_FIGURES_DIR", str(tmp_path / "figs"))
    fig = plotting.histogram([1, 2, 2, 3], "env_hist", xlabel="x", show=False)
    _check(fig, tmp_path / "figs" / "env_hist.png")


def test_accuracy_chart_keeps_a_dot_at_100_percent_whole(tmp_path):
    """A value at the top of the range is drawn whole (the axis pads past 100) and its error bar
    stops at 100."""
    fig = plotting.accuracy_chart(["a", "b"], [70.0, 99.5], "top", errors=[3.0, 2.0],
                                  xlabel="model", figures_dir=tmp_path, show=False,
                                  value_format="{:.1f}")
    ax = fig.axes[0]
    assert ax.get_ylim()[1] > 100.5
    caps = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) == 2]
    assert max(float(y) for pair in caps for y in pair) <= 100.0
