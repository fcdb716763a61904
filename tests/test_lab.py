"""The lessons in JupyterLab as `make lab` starts it: the `.py`/`.ipynb` pairing and a quiet kernel.

- A save through the server's contents API writes both files of a lesson's pair (jupytext reads
  `notebooks/jupytext.toml`; the server, rooted at `notebooks/`, never sees the repository root).
- A live kernel running a lesson's setup cell prints no TensorFlow C++/absl log lines (the stored
  notebooks could hide them only because `tools/normalize_notebooks.py` drops them).

Both start real processes (a Jupyter server, a kernel) and take some seconds each.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
LESSON = "02_text_to_characters"  # a small lesson; any pair would do
TF_LOG = re.compile(r"(^|\n)([IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]|WARNING: All log messages before absl)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, token: str, method: str = "GET", body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"token {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def test_a_save_in_the_lab_writes_both_files_of_the_pair(tmp_path):
    """`make lab` runs `jupyter lab notebooks/` from the repository root; here the same command
    runs headless on 127.0.0.1 with a token, in a copy of one lesson pair and the notebooks'
    jupytext.toml (never the real notebooks)."""
    pytest.importorskip("jupyterlab")
    pytest.importorskip("jupytext")
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("jupytext.toml", f"{LESSON}.ipynb", f"{LESSON}.py"):
        shutil.copy2(NOTEBOOK_DIR / name, folder / name)
    script, notebook = folder / f"{LESSON}.py", folder / f"{LESSON}.ipynb"
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}  # no user settings
    jupyter = pathlib.Path(sys.executable).with_name("jupyter")
    server = subprocess.Popen(
        [str(jupyter), "lab", "notebooks/", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 45
        while True:
            try:
                _request(f"{base}/status", token)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {server.stderr.read()[-2000:]}")
                time.sleep(0.5)
        model = _request(f"{base}/contents/{LESSON}.ipynb?content=1", token)
        cells = model["content"]["cells"]
        marker = f"A line added in the lab {secrets.token_hex(4)}."
        first_markdown = next(c for c in cells if c["cell_type"] == "markdown")
        first_markdown["source"] += "\n\n" + marker
        _request(f"{base}/contents/{LESSON}.ipynb", token, "PUT",
                 {"type": "notebook", "format": "json", "content": model["content"]})
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    assert marker in notebook.read_text(encoding="utf-8"), "the save did not reach the .ipynb"
    assert f"# {marker}" in script.read_text(encoding="utf-8"), (
        f"the save did not update {script.name}: jupytext found no pairing "
        "(notebooks/jupytext.toml)")


def test_a_live_kernel_runs_the_setup_cell_without_tensorflow_log_lines():
    """The first code cell of a lesson, run by a real kernel (as JupyterLab starts it), prints
    nothing on stderr that looks like a TensorFlow C++/absl log line."""
    jupyter_client = pytest.importorskip("jupyter_client")
    nb = json.loads((NOTEBOOK_DIR / f"{LESSON}.ipynb").read_text(encoding="utf-8"))
    setup = "".join(next(c for c in nb["cells"] if c["cell_type"] == "code")["source"])
    # the kernel imports the elmo_lib of this checkout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a learner's shell has it
    # ipykernel forwards what C++ code writes to file descriptor 2 (the red block under a cell),
    # except when it sees this variable: without it the kernel behaves as in JupyterLab
    env.pop("PYTEST_CURRENT_TEST", None)
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    stderr, stdout = [], []
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(
            setup + "\nimport tensorflow as _tf\nprint('tensorflow', _tf.__version__)",
            timeout=120, output_hook=lambda msg: (
                (stderr if msg["content"].get("name") == "stderr" else stdout).append(
                    msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert "tensorflow" in "".join(stdout), "the setup cell did not load TensorFlow"
    assert not TF_LOG.search("".join(stderr)), f"TensorFlow log lines: {''.join(stderr)[:500]}"
