"""Normalize executed notebooks so stored outputs and metadata are reproducible.

- drops stderr streams made only of TensorFlow/absl C++ log lines (``I0000 00:00:... port.cc:153]``,
  ``WARNING: All log messages before absl::InitializeLog()``): TF 2.21 prints them while loading its
  shared library, before ``TF_CPP_MIN_LOG_LEVEL`` takes effect;
- reduces progress bars to what a terminal finally shows: a run of consecutive stream outputs of
  the same stream that holds ANSI escape codes, backspaces or carriage returns (a Keras ``Progbar``
  writes one fragment per update, 100-150 per cell) becomes one output with the codes dropped and
  each line rewritten as the terminal would, so a progress bar keeps only its final state;
- drops execution timing metadata, widget state and notebook-level noise; sets the kernelspec to
  what ``make install`` registers (``python3``, "Python 3 (ipykernel)") and keeps the
  ``language_info`` the executing kernel wrote, so JupyterLab, which writes both when a kernel
  starts, opens the notebook unmodified (with the tested set's Python);
- renumbers execution counts 1, 2, 3, ... in cell order.

Running it twice changes nothing. Usage (repo root)::

    .venv/bin/python tools/normalize_notebooks.py notebooks/01_*.ipynb
"""

from __future__ import annotations

import re
import sys

import nbformat

TF_LOG_LINE = re.compile(
    r"^([IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]|WARNING: All log messages before absl::)"
)
CONTINUATION = re.compile(r"^(To enable the following instructions|$)")
# Control Sequence Introducer codes (colours, bold, cursor moves): ESC [ parameters final-byte.
ANSI_CODE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
TERMINAL_CONTROL = re.compile(r"\x1b|\x08|\r(?!\n)")
# What `ipykernel install --name python3` (make install) registers: a notebook that stores the same
# display name opens unmodified in JupyterLab.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# What ipykernel reports as language_info (and nbclient and JupyterLab store).
LANGUAGE_INFO_KEYS = ("codemirror_mode", "file_extension", "mimetype", "name", "nbconvert_exporter",
                      "pygments_lexer", "version")


def clean_stderr(text: str) -> str:
    """``text`` without TF C++ log lines (and the continuation line of the CPU-feature notice)."""
    kept, previous_was_log = [], False
    for line in text.splitlines(keepends=True):
        if TF_LOG_LINE.match(line) or (previous_was_log and CONTINUATION.match(line.strip("\n"))):
            previous_was_log = True
            continue
        previous_was_log = False
        kept.append(line)
    return "".join(kept)


def terminal_text(text: str) -> str:
    """What a terminal finally shows for ``text``: ANSI codes dropped, and on each line a carriage
    return goes back to the line's start and a backspace one column left, so later characters
    overwrite earlier ones. A rewritten line loses its trailing blanks (the padding a progress bar
    writes over a longer previous state)."""
    lines = []
    for line in ANSI_CODE.sub("", text).replace("\r\n", "\n").split("\n"):
        if "\r" not in line and "\x08" not in line:
            lines.append(line)
            continue
        screen: list[str] = []
        column = 0
        for char in line:
            if char == "\r":
                column = 0
            elif char == "\x08":
                column = max(column - 1, 0)
            else:
                if column < len(screen):
                    screen[column] = char
                else:
                    screen.append(char)
                column += 1
        lines.append("".join(screen).rstrip(" "))
    return "\n".join(lines)


def clean_streams(outputs: list) -> list:
    """``outputs`` with each run of consecutive same-stream outputs that holds terminal control
    characters merged into one output of :func:`terminal_text`; other outputs are kept as they are."""
    cleaned, run = [], []

    def flush():
        if any(TERMINAL_CONTROL.search(output.text) for output in run):
            merged = run[0]
            merged.text = terminal_text("".join(output.text for output in run))
            cleaned.append(merged)
        else:
            cleaned.extend(run)
        run.clear()

    for output in outputs:
        if run and not (output.output_type == "stream" and output.name == run[0].name):
            flush()
        if output.output_type == "stream":
            run.append(output)
        else:
            cleaned.append(output)
    flush()
    return cleaned


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                output.text = clean_stderr(output.text)
                if not output.text:
                    continue
            if "execution_count" in output:
                output.execution_count = None
            outputs.append(output)
        cell.outputs = outputs = clean_streams(outputs)
        if cell.execution_count is not None:
            count += 1
            cell.execution_count = count
            for output in outputs:
                if output.output_type == "execute_result":
                    output.execution_count = count
    # JupyterLab writes the kernel's language_info into the notebook when the kernel starts, and a
    # notebook whose stored language_info differs opens as modified: keep what the executing
    # kernel wrote (the tested set's Python, environment.yml), dropping only unknown keys.
    language = {key: value for key, value in nb.metadata.get("language_info", {}).items()
                if key in LANGUAGE_INFO_KEYS} or {"name": "python"}
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": language}
    return nb


def main(paths: list[str]) -> None:
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(normalize(nb))
        nbformat.write(nb, path)
        print(f"normalized {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
