"""Pictures of what the biLM reads and computes, drawn by code: the character ids of a sentence,
the architecture of the biLM with the sizes of a configuration, and ELMo's scalar mix.

Each helper saves ``figures/<name>.png`` like the charts of :mod:`elmo_lib.plotting` (which
re-exports them: lessons call ``el.plotting.bilm_architecture`` etc.). Introduced in lessons 02
(character ids), 03 (architecture) and 05 (scalar mix).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colors, patches
from matplotlib.figure import Figure

from elmo_lib.figure_files import PathLike, check_name, plt, save, set_title

__all__ = ["bilm_architecture", "char_id_heatmap", "scalar_mix_diagram"]

# The colours of the special character ids (after the +1 shift) in char_id_heatmap.
_SPECIAL_CHARACTERS = {  # id: (cell text, colour, legend entry)
    0: ("", "white", "0: no token (mask)"),
    257: ("<S>", "tab:purple", "257: begin of sentence"),
    258: ("</S>", "tab:pink", "258: end of sentence"),
    259: ("BOW", "tab:green", "259: begin of word"),
    260: ("EOW", "tab:orange", "260: end of word"),
    261: ("PAD", "0.85", "261: padding"),
}


def _byte_text(char_id: int) -> str:
    """What a byte cell shows: the ASCII character, or the byte in hex (UTF-8 continuation etc.)."""
    byte = char_id - 1
    if byte == 32:
        return "␣"
    return chr(byte) if 33 <= byte <= 126 else f"{byte:02x}"


def char_id_heatmap(char_ids, tokens: Sequence[str], name: PathLike, *,
                    max_characters: int | None = None, title: str | None = None,
                    figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """The character ids of one sentence, ``[T, C]``: one row per token, each cell labelled.

    Bytes are coloured on one scale (blues, darker for larger bytes) and every special id in its own colour
    (legend), so the few bytes are not drowned by the many PAD cells. Each cell shows its
    character (ASCII as itself, other bytes in hex, specials by name) above its id.

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

    check_name(name)
    char_ids = np.asarray(char_ids)
    if char_ids.ndim != 2 or char_ids.shape[0] != len(tokens):
        raise ValueError(f"`char_ids` must be [len(tokens)={len(tokens)}, C], received shape "
                         f"{char_ids.shape}")
    if max_characters is not None:
        char_ids = char_ids[:, :max_characters]
    rows, columns = char_ids.shape
    byte_norm = colors.Normalize(vmin=1, vmax=256)
    byte_cmap = colors.ListedColormap(plt.get_cmap("Blues")(np.linspace(0.3, 1.0, 256)))
    image = np.zeros((rows, columns, 4))
    fig, ax = plt.subplots(figsize=(min(16, 2.5 + 0.62 * columns), 1.0 + 0.5 * rows))
    for r in range(rows):
        for c in range(columns):
            value = int(char_ids[r, c])
            if value in _SPECIAL_CHARACTERS:
                text, colour, _ = _SPECIAL_CHARACTERS[value]
                rgba = colors.to_rgba(colour)
            else:
                text, rgba = _byte_text(value), byte_cmap(byte_norm(value))
            image[r, c] = rgba
            dark = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.55
            label = f"{text}\n{value}" if value else ""
            ax.text(c, r, label, ha="center", va="center", fontsize=7, linespacing=1.1,
                    color="white" if dark else "black")
    ax.imshow(image, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(columns))
    ax.set_yticks(range(rows), labels=list(tokens))
    ax.set_xticks(np.arange(-0.5, columns), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("character slot (a token's 50 slots: BOW, up to 48 bytes, EOW, PAD...)")
    ax.set_ylabel("token")
    present = sorted(set(np.unique(char_ids).tolist()) & set(_SPECIAL_CHARACTERS))
    handles = [patches.Patch(facecolor=_SPECIAL_CHARACTERS[v][1], edgecolor="0.5",
                             label=_SPECIAL_CHARACTERS[v][2]) for v in present]
    handles.append(patches.Patch(facecolor=byte_cmap(0.6), edgecolor="0.5",
                                 label="1-256: UTF-8 byte + 1\n(darker = larger byte)"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="character ids (+1 shift)", title_fontsize=8)
    set_title(ax, title, fig.get_figwidth())
    return save(fig, name, figures_dir, show)


# ----- boxes and arrows -----
_COLOURS = {"input": "#f2f2f2", "cnn": "#dbe9f6", "token": "#c6dbef", "forward": "#fde0c5",
            "backward": "#d9f0d3", "softmax": "#e5d8f0", "mix": "#fff2cc"}


def _box(ax, x: float, y: float, width: float, height: float, text: str, kind: str,
         fontsize: float = 8.0) -> None:
    """A rounded box centred at ``(x, y)`` with centred text."""
    ax.add_patch(patches.FancyBboxPatch(
        (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02,rounding_size=0.1",
        facecolor=_COLOURS[kind], edgecolor="0.35", linewidth=1.0))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, linespacing=1.3)


def _arrow(ax, start, end, *, style: str = "-|>", linewidth: float = 1.2, colour: str = "0.3",
           connection: str = "arc3", label: str | None = None) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(
        arrowstyle=style, color=colour, linewidth=linewidth, shrinkA=0, shrinkB=0,
        connectionstyle=connection))
    if label:
        ax.text((start[0] + end[0]) / 2 + 0.12, (start[1] + end[1]) / 2, label, fontsize=7,
                va="center", color="0.25")


def _diagram_axes(width: float, height: float, inches_per_unit: float):
    """Axes of ``width`` x ``height`` data units at a fixed scale (circles stay round)."""
    fig, ax = plt.subplots(figsize=(width * inches_per_unit, height * inches_per_unit + 0.5))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def bilm_architecture(config, name: PathLike, *, title: str | None = None,
                      figures_dir: PathLike | None = None, show: bool = True) -> Figure:
    """The biLM of ``config``, bottom to top, with every block's sizes.

    Character ids -> character embedding -> convolutions (one box per width, with its filter
    count) -> max over positions + activation -> highway layers -> projection to ``P`` (ELMo
    layer 0) -> a forward and a backward stack of ``n_layers`` LSTMs with projection (cell ``H``,
    output ``P``, clipping, the skip connection from layer 2 on) -> one softmax over the ``V``
    words, shared by both directions (next token forward, previous token backward). Labels on
    the right name the ELMo layers.

    Args:
        config: an ``elmo_lib.bilm.BiLMConfig`` (any object with its fields).
        name: file name or path (see :mod:`elmo_lib.figure_files`).
        title: optional title; by default it names the configuration (``config.note``).
        figures_dir, show: as in :func:`elmo_lib.plotting.heatmap`.

    Returns:
        The Figure.
    """
    check_name(name)
    c = config
    filters = [tuple(pair) for pair in c.filters]
    n_filters = sum(n for _, n in filters)
    P, H, L = c.projection_dim, c.lstm_dim, c.n_layers
    clip = "" if c.cell_clip is None else f", cell clip ±{c.cell_clip:g}"
    proj_clip = "" if c.proj_clip is None else f", clip ±{c.proj_clip:g}"
    # rows: input, embedding, convs, pool, highway, projection, L LSTM rows, softmax; the LSTM
    # rows are further apart to leave room for the skip connection's sum
    gaps = [1.25] * 5 + [1.5] * (L + 1)
    y = list(0.7 + np.concatenate([[0.0], np.cumsum(gaps)]))
    height = y[-1] + 1.0
    fig, ax = _diagram_axes(14.0, height, 0.78)
    centre, wide = 5.0, 8.6
    _box(ax, centre, y[0], wide, 0.8, "character ids of each token, <S> and </S> added: "
         f"[B, T + 2, {c.max_characters_per_token}]\n[BOW, UTF-8 bytes, EOW, PAD...] + 1 "
         f"(0 = no token)", "input")
    _box(ax, centre, y[1], wide, 0.8, f"character embedding: {c.n_characters} ids × "
         f"{c.char_embedding_dim} dims  →  [B·(T + 2), {c.max_characters_per_token}, "
         f"{c.char_embedding_dim}]", "cnn")
    step = wide / len(filters)
    for i, (width, count) in enumerate(filters):
        x = centre - wide / 2 + step * (i + 0.5)
        _box(ax, x, y[2], step - 0.15, 0.8, f"conv\nwidth {width}\n{count:,} filters", "cnn",
             fontsize=7 if len(filters) > 5 else 8)
        _arrow(ax, (x, y[1] + 0.4), (x, y[2] - 0.4), linewidth=0.8)
        _arrow(ax, (x, y[2] + 0.4), (x, y[3] - 0.4), linewidth=0.8)
    _box(ax, centre, y[3], wide, 0.8, f"max over character positions, {c.activation}, "
         f"concatenate  →  {n_filters:,} features per token", "cnn")
    _box(ax, centre, y[4], wide, 0.8, f"highway × {c.n_highway}: y = t ⊙ relu(W_h x) + (1 − t) ⊙ x"
         f"   ({n_filters:,} → {n_filters:,})", "cnn")
    _box(ax, centre, y[5], wide, 0.8, f"linear projection {n_filters:,} → P = {P}: token "
         f"vector x_k  [B, T + 2, {P}]", "token")
    for r in (0, 3, 4):
        _arrow(ax, (centre, y[r] + 0.4), (centre, y[r + 1] - 0.4))
    columns = {"forward": centre - wide / 4, "backward": centre + wide / 4}
    reads = {"forward": "reads t_1 … t_k", "backward": "reads t_N … t_k"}
    for direction, x in columns.items():
        _arrow(ax, (x, y[5] + 0.4), (x, y[6] - 0.4))
        for k in range(L):
            row = y[6 + k]
            skip = c.use_skip_connections and k > 0
            text = (f"{direction} LSTMP layer {k + 1} ({reads[direction]})\n"
                    f"cell H = {H:,}{clip} → projection P = {P}{proj_clip}")
            box_width = wide / 2 - 0.5
            _box(ax, x, row, box_width, 0.8, text, direction, fontsize=7.5)
            top = row + 0.4
            if skip:  # the layer's input is added to its output: a bypass into a sum node
                plus = (x, row + 0.68)
                ax.add_patch(patches.Circle(plus, 0.15, facecolor="white", edgecolor="0.3",
                                            zorder=3))
                ax.text(*plus, "+", ha="center", va="center", fontsize=9, zorder=4)
                _arrow(ax, (x, top), (x, plus[1] - 0.15))
                side = x + box_width / 2 + 0.2
                bottom = row - 0.6
                ax.plot([x, side, side], [bottom, bottom, plus[1]], color="tab:red",
                        linewidth=1.2)
                _arrow(ax, (side, plus[1]), (x + 0.15, plus[1]), colour="tab:red")
                ax.text(side + 0.08, row, "skip", color="tab:red", fontsize=7, rotation=90,
                        va="center")
                top = plus[1] + 0.15
            next_row = y[7 + k] - (0.4 if k + 1 < L else 0.4)
            _arrow(ax, (x, top), (x, next_row))
    _box(ax, centre, y[6 + L], wide, 0.8, f"one softmax shared by both directions: "
         f"W [{c.vocab_size:,} words × {P}] + b\nforward: p(t_(k+1) | t_1 … t_k)      "
         f"backward: p(t_(k−1) | t_k … t_N)", "softmax")
    labels = [(y[5], f"ELMo layer 0 = [x_k; x_k]\n2P = {2 * P} wide")]
    labels += [(y[6 + k], f"ELMo layer {k + 1} =\n[forward; backward]\n2P = {2 * P} wide")
               for k in range(L)]
    labels.append((y[6 + L], "training only\n(ELMo drops it)"))
    for row, text in labels:
        ax.text(centre + wide / 2 + 0.35, row, text, fontsize=7.5, va="center", color="0.2")
    set_title(ax, title or f"The biLM, {c.note or 'custom configuration'}: every size",
              fig.get_figwidth())
    return save(fig, name, figures_dir, show)


def scalar_mix_diagram(num_layers: int, name: PathLike, *, weights=None,
                       gamma: float | None = None, layer_names: Sequence[str] | None = None,
                       title: str | None = None, figures_dir: PathLike | None = None,
                       show: bool = True) -> Figure:
    """ELMo's scalar mix: layers ``0..L`` of the biLM, weighted by ``softmax(s)_j``, summed and
    scaled by ``gamma``: ``ELMo_k = gamma * sum_j softmax(s)_j h_(k,j)`` (paper eq. 1).

    Args:
        num_layers: ``L + 1``, the number of biLM layers mixed (3 for a 2-layer biLM).
        name: file name or path (see :mod:`elmo_lib.figure_files`).
        weights: optional raw ``ScalarMix`` parameters ``s`` (``[num_layers]``); their softmax
            is written on the arrows and sets their widths. ``None``: symbols only.
        gamma: optional learned scale, written in its box.
        layer_names: defaults to ``"layer 0\\n(char CNN)"``, ``"layer 1\\n(LSTM)"``, ...
        title, figures_dir, show: as in :func:`elmo_lib.plotting.heatmap`.

    Returns:
        The Figure.

    Raises:
        ValueError: ``num_layers < 1``, or ``weights`` / ``layer_names`` of another length.
    """
    check_name(name)
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"`num_layers` must be a positive integer, received {num_layers!r}")
    shares = None
    if weights is not None:
        s = np.asarray(weights, dtype=float).ravel()
        if s.size != num_layers:
            raise ValueError(f"`weights` has {s.size} values for num_layers={num_layers}")
        shares = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    if layer_names is None:
        layer_names = ["layer 0\n(char CNN)"] + [f"layer {j}\n(LSTM)"
                                                 for j in range(1, num_layers)]
    if len(layer_names) != num_layers:
        raise ValueError(f"`layer_names` has {len(layer_names)} names for num_layers={num_layers}")
    width = max(6.0, 2.2 * num_layers)
    fig, ax = _diagram_axes(width, 6.2, 0.85)
    xs = [width * (j + 0.5) / num_layers for j in range(num_layers)]
    total = (width / 2, 3.6)
    for j, x in enumerate(xs):
        _box(ax, x, 1.2, min(1.8, 0.85 * width / num_layers), 0.9,
             f"{layer_names[j]}\n$h_{{k,{j}}}$", "token" if j == 0 else "forward")
        share = f"softmax$(s)_{j}$" + ("" if shares is None else f"\n= {shares[j]:.2f}")
        line = 1.2 if shares is None else 0.6 + 5.0 * shares[j]
        _arrow(ax, (x, 1.65), (total[0], total[1] - 0.3), linewidth=line)
        ax.text(x + (total[0] - x) * 0.3, 1.65 + (total[1] - 1.95) * 0.3, share, fontsize=8,
                ha="center", va="center", bbox=dict(facecolor="white", edgecolor="none", pad=1))
    ax.add_patch(patches.Circle(total, 0.3, facecolor=_COLOURS["mix"], edgecolor="0.3"))
    ax.text(*total, "Σ", ha="center", va="center", fontsize=12)
    scale = "× γ" + ("" if gamma is None else f" = {gamma:.3g}")
    _box(ax, total[0], 4.6, 2.2, 0.6, scale, "mix", fontsize=10)
    _arrow(ax, (total[0], total[1] + 0.3), (total[0], 4.3))
    _box(ax, total[0], 5.65, 3.6, 0.6, "$\\mathrm{ELMo}_k$: one vector per token, for the task",
         "softmax", fontsize=9)
    _arrow(ax, (total[0], 4.9), (total[0], 5.35))
    ax.text(width / 2, 0.35, f"trained for the task: s ({num_layers} numbers) and γ; "
            "the biLM stays frozen", fontsize=8, color="0.3", ha="center", va="center")
    set_title(ax, title or r"ELMo's scalar mix: $\gamma \sum_j \mathrm{softmax}(s)_j\, h_{k,j}$",
              fig.get_figwidth() * 2)
    return save(fig, name, figures_dir, show)
