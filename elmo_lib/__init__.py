"""elmo_lib: ELMo (Peters et al., 2018) in Keras 3 on TensorFlow.

Submodules load on first use, so ``import elmo_lib as el`` is cheap and ``el.layers`` imports Keras
only when a lesson reaches for it:

- ``el.text``     tokens -> bilm-tf character ids, ``Vocabulary``
- ``el.data``     dataset registry, readers, language-model batches (tf.data)
- ``el.imdb``     IMDB reviews as SST-2-style sentences; overlap with SST-2 dev/test dropped
- ``el.download`` downloads from mirrors in order, checked and placed atomically
- ``el.layers``   ``CharCNN``, ``Highway``, ``LSTMP``, ``ScalarMix``, sampled softmax
- ``el.lstm``     ``LSTMP`` and ``run_lstmps``: the LSTM recurrence with its hand-written gradient
- ``el.bilm``     ``BiLMConfig`` and the biLM (training model and encoder)
- ``el.train``    fit with checkpoints / resume / early stopping, full-softmax perplexity
- ``el.elmo``     the ``ELMo`` layer and ``embed_file``
- ``el.embed_output`` which files ``embed_file`` may resume or replace (its ``written_by`` mark)
- ``el.interop``  bilm-tf / AllenNLP weights, TF Hub modules
- ``el.plotting`` figure helpers
- ``el.distribute`` strategies, clipping after the all-reduce, ``fit_loop``, mixed precision
- ``el.corpus``   sharded corpora streamed with tf.data, streaming vocabulary
- ``el.presets``  pretrained biLMs by name (``from_preset``), export of a run, the repository's URL
- ``el.preset_export`` ``export_preset``: a run directory -> a shipped preset (swapped in atomically)
- ``el.atomic``   files written whole or not at all, lock files with the owner's pid
- ``el.checkpoint`` a run's best weights and backup, written so that a kill loses nothing
- ``el.model_card`` the ``MODEL_CARD.md`` of a shipped preset
- ``el.runs``     ``load_or_train``: one marker file decides; progress for long training
- ``el.results``  each lesson's key numbers as JSON in ``results/``
- ``el.senses``   the senses of *record* in WikiText-2, by a transparent heuristic (lessons 01, 05)
- ``el.cache``    the frozen biLM's layers for every token, computed once (``cache_layers``)
- ``el.downstream`` a task model with and without ELMo (sentence classification and tagging)
- ``el.comparison`` the seed loop, relative error reduction and the paired bootstrap of the gain
- ``el.probe``    a token probe on a trainable scalar mix (POS tags)
- ``el.adapt``    domain adaptation: continue training a biLM on a task's unlabelled text
- ``el.static``   static word vectors (PPMI + truncated SVD): lesson 01's recipe, lesson 08's GloVe stand-in
- ``el.versions`` the oldest TensorFlow / Keras / NumPy supported, checked here at import (one clear
  ``ImportError`` with the upgrade command when an environment is older)

Importing ``elmo_lib`` loads TensorFlow (if nothing has yet) without the C++ log lines it prints
while its shared libraries load: see :func:`load_tensorflow_quietly`. The lessons import
``elmo_lib`` before ``keras`` for that reason.
"""

import contextlib
import importlib
import os
import sys

from elmo_lib import versions

versions.check_installed()

__version__ = "0.1.0"

_SUBMODULES = (
    "text",
    "data",
    "imdb",
    "download",
    "layers",
    "lstm",
    "bilm",
    "train",
    "elmo",
    "embed_output",
    "interop",
    "plotting",
    "cli",
    "distribute",
    "corpus",
    "presets",
    "preset_export",
    "atomic",
    "checkpoint",
    "model_card",
    "runs",
    "results",
    "senses",
    "cache",
    "downstream",
    "comparison",
    "adapt",
    "static",
    "probe",
)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Point file descriptor 2 at ``/dev/null`` for the ``with`` block, then restore it."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def load_tensorflow_quietly() -> None:
    """Import TensorFlow without the log lines its C++ start-up writes to stderr.

    TensorFlow 2.21 prints absl lines ("WARNING: All log messages before absl::InitializeLog() is
    called are written to STDERR", "I0000 ... port.cc:153] oneDNN custom operations are on ...")
    while its shared libraries load, before any setting can act: ``TF_CPP_MIN_LOG_LEVEL`` does not
    silence them, whether set in the environment or in Python. They go to file descriptor 2, which
    a Jupyter kernel shows under the cell as a red block. This function sets
    ``TF_CPP_MIN_LOG_LEVEL=3`` (unless it is set: the C++ messages of later calls) and imports
    TensorFlow with descriptor 2 pointed at ``/dev/null`` for the import only. An import error still
    raises as usual. Nothing happens when TensorFlow is already loaded (then import ``elmo_lib``
    before ``keras``). Do not set ``TF_ENABLE_ONEDNN_OPTS=0`` to quiet the oneDNN line: training
    was 33-43% slower without oneDNN on this project's CPUs.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _native_stderr_silenced():
            importlib.import_module("tensorflow")
    except OSError:  # no usable descriptor 2 (an unusual embedding): import as usual
        importlib.import_module("tensorflow")


load_tensorflow_quietly()


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'elmo_lib' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
