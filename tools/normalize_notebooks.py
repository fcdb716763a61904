"""Normalize executed notebooks so stored outputs and metadata are reproducible.

- drops stderr streams made only of TensorFlow/absl C++ log lines (``I0000 00:00:... port.cc:153]``,
  ``WARNING: All log messages before absl::InitializeLog()``): TF 2.21 prints them while loading its
  shared library, before ``TF_CPP_MIN_LOG_LEVEL`` takes effect;
- drops execution timing metadata, widget state and notebook-level noise; sets the kernelspec to
  ``python3``;
- renumbers execution counts 1, 2, 3, ... in cell order.

Usage (repo root): ``.venv/bin/python tools/normalize_notebooks.py notebooks/01_*.ipynb``
"""

from __future__ import annotations

import re
import sys

import nbformat

TF_LOG_LINE = re.compile(
    r"^([IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]|WARNING: All log messages before absl::)"
)
CONTINUATION = re.compile(r"^(To enable the following instructions|$)")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


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
        cell.outputs = outputs
        if cell.execution_count is not None:
            count += 1
            cell.execution_count = count
            for output in outputs:
                if output.output_type == "execute_result":
                    output.execution_count = count
    language = nb.metadata.get("language_info", {}).get("name", "python")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": language}}
    return nb


def main(paths: list[str]) -> None:
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(normalize(nb))
        nbformat.write(nb, path)
        print(f"normalized {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
