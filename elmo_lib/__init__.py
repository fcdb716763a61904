"""elmo_lib: ELMo (Peters et al., 2018) in Keras 3 on TensorFlow.

Submodules load on first use, so ``import elmo_lib as el`` is cheap and ``el.layers`` imports Keras
only when a lesson reaches for it:

- ``el.text``     tokens -> bilm-tf character ids, ``Vocabulary``
- ``el.data``     dataset registry, readers, language-model batches (tf.data)
- ``el.download`` downloads from mirrors in order, checked and placed atomically
- ``el.layers``   ``CharCNN``, ``Highway``, ``LSTMP``, ``ScalarMix``, sampled softmax
- ``el.lstm``     ``LSTMP`` and ``run_lstmps``: the LSTM recurrence with its hand-written gradient
- ``el.bilm``     ``BiLMConfig`` and the biLM (training model and encoder)
- ``el.train``    fit with checkpoints / resume / early stopping, full-softmax perplexity
- ``el.elmo``     the ``ELMo`` layer and ``embed_file``
- ``el.interop``  bilm-tf / AllenNLP weights, TF Hub modules
- ``el.plotting`` figure helpers
- ``el.distribute`` strategies, clipping after the all-reduce, ``fit_loop``, mixed precision
- ``el.corpus``   sharded corpora streamed with tf.data, streaming vocabulary
- ``el.presets``  pretrained biLMs by name (``from_preset``), export of a run, the repository's URL
- ``el.model_card`` the ``MODEL_CARD.md`` of a shipped preset
- ``el.runs``     ``load_or_train``: one marker file decides; progress for long training
- ``el.results``  each lesson's key numbers as JSON in ``results/``
- ``el.senses``   the senses of *record* in WikiText-2, by a transparent heuristic (lessons 01, 05)
- ``el.cache``    the frozen biLM's layers for every token, computed once (``cache_layers``)
- ``el.downstream`` a task model with and without ELMo (sentence classification)
- ``el.probe``    a token probe on a trainable scalar mix (POS tags)
- ``el.adapt``    domain adaptation: continue training a biLM on a task's unlabelled text
- ``el.static``   static word vectors (PPMI + truncated SVD): lesson 01's recipe, lesson 06's GloVe stand-in
- ``el.versions`` the oldest TensorFlow / Keras / NumPy supported, checked here at import (one clear
  ``ImportError`` with the upgrade command when an environment is older)
"""

import importlib

from elmo_lib import versions

versions.check_installed()

__version__ = "0.1.0"

_SUBMODULES = (
    "text",
    "data",
    "download",
    "layers",
    "lstm",
    "bilm",
    "train",
    "elmo",
    "interop",
    "plotting",
    "cli",
    "distribute",
    "corpus",
    "presets",
    "model_card",
    "runs",
    "results",
    "senses",
    "cache",
    "downstream",
    "adapt",
    "static",
    "probe",
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'elmo_lib' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
