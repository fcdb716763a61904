"""Meta-test of the lessons: every ``notebooks/*.ipynb`` (by glob, never opt-in) follows the lesson
conventions of docs/contributing.md, agrees with its jupytext script ``notebooks/NN_slug.py``, and
is stored executed and clean. Running the notebooks themselves is nbval's job:
``ELMO_QUICK=1 pytest --nbval-lax notebooks/``."""

import importlib.util
import json
import pathlib
import re
import sys
import tomllib

import jupytext
import nbformat
import pytest
from jupytext.combine import combine_inputs_with_outputs

from elmo_lib.presets import REPOSITORY, REPOSITORY_URL

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
LAST_LESSON = 8  # the last lesson links back to the README / index instead of a next lesson

ABSOLUTE_PATHS = re.compile(r"(/work/|/home/|/root/|/Users/|[A-Za-z]:\\\\Users)")
TF_LOG = re.compile(r"(^|\n)([IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]|WARNING: All log messages before absl)")
TERMINAL_CONTROL = re.compile(r"\x1b\[|\x08|\r(?!\n)")  # ANSI code, backspace, bare carriage return
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]["name"]
# The Colab install cell's pip requirement: the repository URL, optionally with extras.
INSTALL = re.compile(rf'"(?:{re.escape(PROJECT)}\[([\w,]+)\] @ )?git\+(https://[^"\s]+)"')
# What makes a lesson need the "hub" extra (tensorflow-hub): importing it, or elmo_lib's functions
# that load a module with it.
NEEDS_HUB = re.compile(r"^\s*(import|from) tensorflow_hub\b|\bel\.interop\.(HubELMo|load_hub_module)\b",
                       re.MULTILINE)

# The pairing of notebooks/jupytext.toml: what `jupytext --sync` writes for each notebook.
JUPYTEXT_CONFIG = tomllib.loads((NOTEBOOK_DIR / "jupytext.toml").read_text(encoding="utf-8"))
SCRIPT_FORMAT = {
    "extension": ".py",
    "format_name": "percent",
    "notebook_metadata_filter": JUPYTEXT_CONFIG["notebook_metadata_filter"],
    "cell_metadata_filter": JUPYTEXT_CONFIG["cell_metadata_filter"],
}


def _load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _markdown(nb: dict) -> str:
    return "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


def _output_text(output: dict) -> str:
    if output["output_type"] == "stream":
        return _source({"source": output.get("text", "")})
    parts = []
    for key, value in output.get("data", {}).items():
        if key.startswith("text/") or key.endswith("json"):
            parts.append(_source({"source": value}) if not isinstance(value, dict)
                         else json.dumps(value))
    parts += output.get("traceback", [])
    return "\n".join(parts)


def _number(path: pathlib.Path) -> int:
    return int(path.name[:2])


def test_notebooks_exist():
    assert NOTEBOOKS, f"no lessons found in {NOTEBOOK_DIR}"


def test_every_notebook_has_its_script():
    scripts = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
    assert [p.stem for p in scripts] == [p.stem for p in NOTEBOOKS], (
        "each notebooks/NN_slug.ipynb is paired with notebooks/NN_slug.py (jupytext --sync)")
    assert JUPYTEXT_CONFIG["formats"] == "ipynb,py:percent"


def test_lesson_numbers_are_unique():
    numbers = [_number(p) for p in NOTEBOOKS]
    assert len(numbers) == len(set(numbers)), [p.name for p in NOTEBOOKS]


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request):
    return request.param, _load(request.param)


def _inputs(nb) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


def test_script_agrees_with_notebook(notebook):
    """The script and the notebook hold the same cells, and the round trip through jupytext
    changes neither: the script is what jupytext writes from the notebook, and syncing the
    script into the notebook gives back the notebook (same cell ids, metadata and outputs)."""
    path, _ = notebook
    script = path.with_suffix(".py")
    stored, from_script = jupytext.read(path), jupytext.read(script)
    assert _inputs(from_script) == _inputs(stored), (
        f"{script.name} and {path.name} differ: run `jupytext --sync {script.relative_to(ROOT)}`")
    assert jupytext.writes(stored, fmt=SCRIPT_FORMAT) == script.read_text(encoding="utf-8"), (
        f"{script.name} is not what jupytext writes from {path.name}")
    assert combine_inputs_with_outputs(from_script, stored, fmt=SCRIPT_FORMAT) == stored


def test_header(notebook):
    path, nb = notebook
    first = _source(nb["cells"][0])
    assert nb["cells"][0]["cell_type"] == "markdown"
    assert first.startswith(f"# {path.name[:2]} · "), f"{path.name}: header must be '# NN · Title'"
    assert "colab-badge.svg" in first and "colab.research.google.com" in first, "Colab badge"
    badge = (f"(https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/"
             f"{path.name})")
    assert badge in first, f"{path.name}: the Colab badge must open this notebook on main: {badge}"
    assert "prerequisite" in first.lower()


def test_sections(notebook):
    path, nb = notebook
    markdown = _markdown(nb)
    for heading in ("What you will learn", "## Summary", "## Exercises"):
        assert heading in markdown, f"{path.name}: missing {heading!r}"
    assert markdown.index("## Summary") < markdown.index("## Exercises")


def test_parameters_cell_defines_quick(notebook):
    path, nb = notebook
    tagged = [c for c in nb["cells"] if c["cell_type"] == "code"
              and "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one code cell tagged 'parameters'"
    assert re.search(r'QUICK\s*=\s*os\.environ\.get\("ELMO_QUICK"\)\s*==\s*"1"', _source(tagged[0]))


def test_setup_cell(notebook):
    path, nb = notebook
    code = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "code")
    quiet = code.find('os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")')
    assert quiet != -1, f"{path.name}: set TF_CPP_MIN_LOG_LEVEL before importing keras"
    assert quiet < code.find("import keras"), f"{path.name}: quiet TF before importing keras"
    assert "import elmo_lib as el" in code
    assert '"google.colab" in sys.modules' in code
    assert "keras.utils.set_random_seed(" in code


def test_colab_install_cell(notebook):
    """On Colab the setup cell installs this repository (the value of elmo_lib.presets'
    constant, written out: the cell runs before elmo_lib is installed) with the extras the
    lesson needs."""
    path, nb = notebook
    code = [_source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    setup = next(c for c in code if '"google.colab" in sys.modules' in c)
    installs = INSTALL.findall(setup)
    assert len(installs) == 1, f"{path.name}: the setup cell installs the repo once: {installs}"
    extras, url = installs[0]
    assert url == REPOSITORY_URL, f"{path.name} installs {url}, not {REPOSITORY_URL}"
    needed = {"hub"} if NEEDS_HUB.search("\n".join(code)) else set()
    installed = set(extras.split(",")) if extras else set()
    assert installed == needed, (
        f"{path.name} installs extras {sorted(installed)} but needs {sorted(needed)}: "
        f'"{PROJECT}[hub] @ git+{REPOSITORY_URL}" where it uses tensorflow_hub')


def test_links_to_next_lesson(notebook):
    path, nb = notebook
    targets = MARKDOWN_LINK.findall(_source(nb["cells"][-1]))
    number = _number(path)
    if number >= LAST_LESSON:
        assert any(t.endswith(("README.md", "index.md", "index.ipynb")) for t in targets), (
            f"{path.name}: the last lesson links back to the README or index")
        linked = [t for t in targets if t.endswith((".md", ".ipynb"))]
    else:
        linked = [t for t in targets if re.fullmatch(rf"{number + 1:02d}_[\w-]+\.ipynb", t)]
        assert linked, f"{path.name}: the last cell must link to lesson {number + 1:02d}"
    for target in linked:
        assert (path.parent / target).is_file(), f"{path.name} links to missing {target}"


def test_stored_outputs_are_executed_and_clean(notebook):
    path, nb = notebook
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        where = f"{path.name} cell {index}"
        assert cell.get("execution_count") is not None, f"{where} was not executed"
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{where} stored an error"
            text = _output_text(output)
            assert not ABSOLUTE_PATHS.search(text), f"{where}: absolute path in output"
            assert not TERMINAL_CONTROL.search(text), (
                f"{where}: progress-bar control characters in output "
                "(run tools/normalize_notebooks.py)")
            if output["output_type"] == "stream" and output.get("name") == "stderr":
                assert not TF_LOG.search(text), f"{where}: TensorFlow log lines in stderr"


def test_metadata_is_normalized(notebook):
    path, nb = notebook
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", path.name
    assert "widgets" not in nb["metadata"], f"{path.name}: widget state stored"


def _normalizer():
    spec = importlib.util.spec_from_file_location(
        "normalize_notebooks", ROOT / "tools" / "normalize_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_normalizer_keeps_a_progress_bar_final_line():
    """A Keras Progbar in a notebook: one stream fragment per update, each going back over the
    previous state with backspaces and a carriage return, coloured with ANSI codes."""
    normalize = _normalizer()
    states = ["\x1b[1m 64/150\x1b[0m \x1b[32m━━\x1b[0m\x1b[37m━━\x1b[0m 9s 22ms/step",
              "\x1b[1m150/150\x1b[0m \x1b[32m━━━━\x1b[0m\x1b[37m\x1b[0m 1s 4ms/step  \n"]
    fragments = ["\r" + states[0], "\x08" * 30 + "\r" + states[1], "done\n"]
    cell = nbformat.v4.new_code_cell("encode()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f) for f in fragments]
    cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text="a warning\n"))
    nb = nbformat.v4.new_notebook(cells=[cell])
    outputs = normalize.normalize(nb).cells[0].outputs
    assert [(o.name, o.text) for o in outputs] == [
        ("stdout", "150/150 ━━━━ 1s 4ms/step\ndone\n"), ("stderr", "a warning\n")]
    assert normalize.terminal_text("abcdef\rxy\x08Z\n") == "xZcdef\n"
    assert normalize.terminal_text("plain  \n") == "plain  \n"  # lines without controls untouched


def test_normalizer_keeps_what_jupyterlab_writes_when_a_kernel_starts():
    """JupyterLab stores the kernelspec and the kernel's language_info when a kernel starts; a
    notebook that stores anything else opens as modified. The normalizer keeps the executing
    kernel's language_info (dropping unknown keys) and writes the kernelspec `make install`
    registers."""
    normalize = _normalizer()
    language = {"name": "python", "version": "3.11.7", "mimetype": "text/x-python",
                "codemirror_mode": {"name": "ipython", "version": 3},
                "pygments_lexer": "ipython3", "nbconvert_exporter": "python",
                "file_extension": ".py"}
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {**language, "extra": 1}, "widgets": {}})
    metadata = normalize.normalize(nb).metadata
    assert metadata == {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}, "language_info": language}
    spec = pathlib.Path(sys.prefix, "share", "jupyter", "kernels", "python3", "kernel.json")
    if spec.exists():  # the kernel `make install` registers shows this name
        assert json.loads(spec.read_text())["display_name"] == normalize.KERNELSPEC["display_name"]
