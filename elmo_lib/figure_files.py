"""Where the lessons' figures are saved and how: the part every figure helper shares.

``name="01_play_contexts"`` is saved as ``<repo>/figures/01_play_contexts.png``. The repo root is
found from this package's location (a source checkout has ``figures/`` or ``pyproject.toml`` next
to ``elmo_lib/``), so it does not depend on the notebook's working directory; otherwise
``$ELMO_FIGURES_DIR`` or ``./figures`` is used. A ``name`` with a directory or a ``.png`` suffix is
used as a path as it is, and every helper takes ``figures_dir=`` to override.

In a notebook the figure is shown (``show=True``); in scripts and tests without a display the
non-interactive Agg backend is used and nothing is shown. The helpers themselves live in
:mod:`elmo_lib.plotting` (charts) and :mod:`elmo_lib.diagrams` (pictures of the model).
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import textwrap

import matplotlib

if (not os.environ.get("MPLBACKEND") and not os.environ.get("DISPLAY")
        and "ipykernel" not in sys.modules):
    matplotlib.use("Agg")  # headless: scripts, tests, CI

import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
from matplotlib.figure import Figure  # noqa: E402

PathLike = str | os.PathLike


def figures_dir() -> pathlib.Path:
    """The directory figures are saved to (created if missing).

    ``$ELMO_FIGURES_DIR`` if set, else ``<temp dir>/elmo_quick/figures`` in QUICK mode
    (``ELMO_QUICK=1``: a QUICK run never overwrites the committed figures), else ``<repo>/figures``
    for a source checkout (found from the package location, not the working directory), else
    ``./figures``.
    """
    env = os.environ.get("ELMO_FIGURES_DIR")
    root = pathlib.Path(__file__).resolve().parents[1]
    if env:
        path = pathlib.Path(env)
    elif os.environ.get("ELMO_QUICK") == "1":  # a QUICK run never overwrites the full run's files
        path = pathlib.Path(tempfile.gettempdir()) / "elmo_quick" / "figures"
    elif (root / "figures").is_dir() or (root / "pyproject.toml").is_file():
        path = root / "figures"
    else:
        path = pathlib.Path.cwd() / "figures"
    path.mkdir(parents=True, exist_ok=True)
    return path


def output_path(name: PathLike, directory: PathLike | None) -> pathlib.Path:
    """The PNG path for ``name`` (see the module docstring); creates its directory."""
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


def check_name(name: PathLike) -> None:
    """Raise ``ValueError`` for an empty figure name."""
    if name is None or not str(name):
        raise ValueError(f"`name` must be a non-empty file name, received name={name!r}")


def set_title(target, title: str | None, width_inches: float) -> None:
    """Set an Axes' or a Figure's title, wrapped to ``width_inches`` so it is never cut off."""
    if not title:
        return
    characters = max(20, int(width_inches * 9))  # ~9 characters per inch at the default size
    text = "\n".join(textwrap.wrap(title, characters))
    if isinstance(target, Figure):
        target.suptitle(text)
    else:
        target.set_title(text)


def save(fig: Figure, name: PathLike, directory: PathLike | None, show: bool) -> Figure:
    """Save ``fig`` as PNG and maybe show it; returns ``fig`` with ``fig.saved_path`` set.

    The bounding box is tight (titles, legends and labels outside the axes are never clipped) and
    the metadata fixed, so re-runs give identical files.
    """
    fig.tight_layout()
    path = output_path(name, directory)
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.1, metadata={"Software": None})
    fig.saved_path = path  # handy in tests; not printed by the lessons (it is an absolute path)
    if show and "agg" not in matplotlib.get_backend().lower():
        plt.show()
    else:
        plt.close(fig)
    return fig
