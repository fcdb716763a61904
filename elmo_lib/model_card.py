"""``MODEL_CARD.md`` of a shipped preset, written from the run's own files.

Every number on the card is read from the preset directory (``config.json``, ``history.json``,
``perplexity.json``, ``run.json``) or computed from the weights, never typed in: training data and
its licence, the training command, machine, wall time, tokens seen, full-softmax perplexities in
both protocols, parameter counts and the sha256 of every file. Written by
:func:`elmo_lib.presets.export_preset`; introduced in lesson 04.
"""

from __future__ import annotations

import json
import os
import pathlib

# What the card says about each training corpus the CLI knows.
DATASETS = {
    "wikitext-2": {
        "name": "WikiText-2 (v1: tokenized, as released)",
        "source": "Merity et al. 2016, *Pointer Sentinel Mixture Models*: Wikipedia Good and "
                  "Featured articles; ~2.1M training tokens, 33,278 types",
        "licence": "Creative Commons Attribution-ShareAlike 3.0 (CC BY-SA 3.0)",
    },
}
CARD_FILE = "MODEL_CARD.md"


def _read_json(path: pathlib.Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {seconds:02d} s" if hours else f"{minutes} min {seconds:02d} s"


def parameter_counts(trainer) -> dict[str, int]:
    """``{"encoder", "softmax", "total"}`` weights of a :class:`~elmo_lib.bilm.BiLMTrainer`."""
    encoder = int(sum(int(w.size) for w in trainer.encoder.get_weights()))
    softmax = int(sum(int(w.size) for w in trainer.softmax.get_weights()))
    return {"encoder": encoder, "softmax": softmax, "total": encoder + softmax}


def _perplexity_rows(perplexity: dict | None) -> list[str]:
    if not perplexity:
        return ["Not measured for this run (no `perplexity.json`): `elmo-lib evaluate` measures it."]
    rows = ["| split | protocol | tokens | forward | backward | mean |", "|---|---|---:|---:|---:|---:|"]
    for split in ("valid", "test"):
        for key, protocol in ((split, "windows (zero state)"), (f"{split}_stream", "stream")):
            r = perplexity.get(key)
            if r:
                rows.append(f"| {split} | {protocol} | {r['tokens']:,} | {r['forward']:.1f} | "
                            f"{r['backward']:.1f} | {r['mean']:.1f} |")
    return rows


def render(directory: str | os.PathLike, *, parameters: dict, name: str, description: str = "",
           dataset: str = "wikitext-2", training_command: str | None = None,
           machine: str | None = None, weights: str = "best.weights.h5") -> str:
    """The card's Markdown for the preset files in ``directory`` (see the module docstring).

    Raises:
        FileNotFoundError: ``config.json`` is missing from ``directory``.
    """
    directory = pathlib.Path(directory)
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{directory / 'config.json'} not found: not a preset directory")
    config = _read_json(directory / "config.json")
    history = _read_json(directory / "history.json") or []
    perplexity = _read_json(directory / "perplexity.json")
    run = _read_json(directory / "run.json") or {}
    data = DATASETS.get(dataset, {"name": dataset, "source": "not recorded",
                                  "licence": "not recorded"})
    command = training_command or run.get("command") or "not recorded"
    machine = machine or run.get("machine") or "not recorded"
    steps = sum(int(r.get("steps", 0)) for r in history)
    tokens = steps * config["batch_size"] * config["unroll_steps"]
    wall = history[-1]["elapsed_seconds"] if history else None
    stopped_by = (perplexity or {}).get("stopped_by") or run.get("stopped_by") or "not recorded"
    best = min((r for r in history if "val_loss" in r), key=lambda r: r["val_loss"], default=None)
    p = config["projection_dim"]
    lines = [
        f"# Model card: `{name}`", "", description, "",
        "A bidirectional LSTM language model with a character CNN (ELMo, Peters et al. 2018), "
        "trained with `elmo_lib` (lesson 04). Load it with "
        f"`el.bilm.BiLMEncoder.from_preset(\"{name}\")`, `el.elmo.ELMo.from_preset(\"{name}\")` or, "
        f"with its softmax, `el.bilm.BiLMTrainer.from_preset(\"{name}\")`. `options.json` + "
        "`weights.hdf5` are in bilm-tf's format, so AllenNLP's `Elmo` reads them too.", "",
        "## Model", "",
        f"- character CNN: filters {config['filters']}, {config['n_highway']} highway layer(s), "
        f"{config['max_characters_per_token']} characters per token",
        f"- LSTM: {config['n_layers']} layers per direction, cell {config['lstm_dim']}, "
        f"projection {p}; ELMo vectors are {2 * p} wide",
        f"- vocabulary (softmax rows): {config['vocab_size']:,} tokens (`vocab.txt`)",
        f"- parameters: encoder {parameters['encoder']:,}, softmax {parameters['softmax']:,}, "
        f"total {parameters['total']:,} (float32)", "",
        "## Data", "",
        f"- {data['name']}: {data['source']}",
        f"- licence of the training data: {data['licence']}", "",
        "## Training", "",
        f"- command: `{command}`",
        f"- machine: {machine}",
        f"- wall time: {_duration(wall) if wall is not None else 'not recorded'} "
        f"({len(history)} epoch(s) of `history.json`, validation included); stopped by: "
        f"{stopped_by}",
        f"- tokens seen: {tokens:,} ({steps:,} steps of {config['batch_size']} x "
        f"{config['unroll_steps']} tokens)",
        f"- optimizer learning rate {config['learning_rate']}, {config['num_sampled']:,} "
        f"sampled-softmax candidates, dropout {config['dropout']}",
        f"- exported weights: `{weights}`"
        + (f" (epoch {best['epoch'] + 1}, validation perplexity {best['val_perplexity']:.1f} on "
           "the validation batches seen in training)" if best and "val_perplexity" in best else ""),
        "",
        "## Perplexity (full softmax)", "",
        "*windows*: `unroll_steps`-token windows, each from a zero LSTM state, as in training; "
        "*stream*: the state carried through the text (bilm-tf's protocol). Both score the same "
        "tokens; the mean is the arithmetic mean of the two directions.", "",
        *_perplexity_rows(perplexity), "",
        "## Files", "",
        "| file | bytes | sha256 |", "|---|---:|---|",
    ]
    from elmo_lib.presets import sha256_file

    for path in sorted(directory.iterdir()):
        if path.name in (CARD_FILE, "preset.json") or not path.is_file():
            continue
        lines.append(f"| `{path.name}` | {path.stat().st_size:,} | `{sha256_file(path)}` |")
    lines += ["", "`preset.json` lists these files and this card with their sha256 and sizes.", ""]
    return "\n".join(lines)


def write_model_card(directory: str | os.PathLike, *, trainer, **kwargs) -> dict:
    """Write ``MODEL_CARD.md`` into a preset directory; returns ``{"path", "parameters"}``.

    ``kwargs`` are those of :func:`render` (``name`` is required).
    """
    directory = pathlib.Path(directory)
    parameters = parameter_counts(trainer)
    path = directory / CARD_FILE
    path.write_text(render(directory, parameters=parameters, **kwargs), encoding="utf-8")
    return {"path": str(path), "parameters": parameters}
