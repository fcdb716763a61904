"""Domain adaptation: continue training a trained biLM on a task's own unlabelled text.

Peters et al. 2018 (sec. 3.4, appendix A.1) fine-tune the biLM on the task's training text, without
labels, for about an epoch, then freeze it for the task: the biLM's perplexity on the task's text
drops, and downstream accuracy often improves.

- :func:`ptb_to_wikitext`    SST-2's PTB-tokenized text in WikiText-2's token conventions
- :func:`output_vocabulary`  the rule for target words outside the biLM's output vocabulary
- :func:`oov_rate`           how many target tokens that rule touches
- :func:`perplexity`         full-softmax perplexity of a trainer on new text, with that rule
- :func:`adapt_bilm`         a fine-tuned copy of a trainer (the original is left untouched)

**Words outside the output vocabulary.** The input side has no such words: the char CNN reads every
token from its spelling. The output side is a softmax with one row per vocabulary word, fixed when
the biLM was trained, so it cannot predict a word it lacks. Such a target counts as the vocabulary's
rare-word token: ``<unk>`` if the vocabulary has it (WikiText-2 replaced its rare words by ``<unk>``,
so the biLM learned to predict ``<unk>`` where a rare word goes), else ``<UNK>``. The same rule is
used for training and for perplexity, so perplexities before and after adaptation are comparable;
report :func:`oov_rate` beside them (a text full of ``<unk>`` targets is easier to predict). The
vocabulary is not grown: new rows would start untrained and the shipped softmax would change shape.

Introduced in lesson 08 (domain adaptation, section 2).
"""

from __future__ import annotations

import dataclasses
import numbers
import re
import time
from collections.abc import Sequence

import keras
import numpy as np

from elmo_lib import data, text, train
from elmo_lib.bilm import BiLMTrainer

RARE_WORD_TOKEN = "<unk>"  # WikiText-2's stand-in for the rare words it removed
PTB_TO_WIKITEXT = {"-lrb-": "(", "-rrb-": ")", "``": '"', "''": '"'}
WIKITEXT_SEPARATOR = re.compile(r"@[-,.]@")  # WikiText-2's split-off hyphen, comma and point


def ptb_to_wikitext(sentence: str) -> list[str]:
    """A PTB-tokenized sentence (SST-2's, lower-cased) as tokens the way WikiText-2 writes them.

    Brackets ``-lrb-``/``-rrb-`` become ``(``/``)``, PTB's opening and closing quotes become ``"``,
    an escaped slash becomes ``/``, and a hyphen inside a token is split off as ``@-@`` (``well-made`` ->
    ``well @-@ made``, as WikiText-2 does); tokens made only of hyphens (``--``) and WikiText-2's
    own ``@-@``/``@,@``/``@.@`` stay, so converted text converts to itself. The brackets are
    mapped as whole tokens only (PTB writes them apart from their neighbours). Case is
    kept: the lessons' biLM read cased text, and closing that gap is what domain adaptation does.
    Tokens are split on whitespace (:func:`elmo_lib.text.split_tokens`' rule); an empty or
    blank sentence gives ``[]``. Introduced in lesson 06 (section 2); lesson 08 reuses it.

    Raises:
        TypeError: ``sentence`` is not a ``str``.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"ptb_to_wikitext takes one sentence as a str, received "
                        f"{type(sentence).__name__} (join a token list with spaces first)")
    tokens = []
    for token in text.split_tokens(sentence):
        if WIKITEXT_SEPARATOR.fullmatch(token):  # already WikiText-2's: @-@, @,@, @.@
            tokens.append(token)
            continue
        token = PTB_TO_WIKITEXT.get(token, token).replace("\\/", "/")
        inner_hyphen = "-" in token.strip("-")
        tokens += " @-@ ".join(token.split("-")).split() if inner_hyphen else [token]
    return tokens


class _TargetVocabulary(text.Vocabulary):
    """A vocabulary whose unknown words encode as ``unknown_token`` (see the module docstring)."""

    def __init__(self, tokens, unknown_token: str):
        super().__init__(tokens)
        self.unknown_token = unknown_token
        self._unknown_id = self._index[unknown_token]

    @property
    def unk_id(self) -> int:
        return self._unknown_id


def output_vocabulary(vocab: text.Vocabulary, unknown_token: str | None = None) -> text.Vocabulary:
    """``vocab`` with the module's rule for words it lacks: they encode as ``unknown_token``.

    Args:
        vocab: the biLM's output vocabulary.
        unknown_token: the token unknown words count as; default ``"<unk>"`` if ``vocab`` has it,
            else ``"<UNK>"``.

    Raises:
        ValueError: ``unknown_token`` is not in ``vocab``.

    Introduced in lesson 08 (section 2).
    """
    if unknown_token is None:
        unknown_token = RARE_WORD_TOKEN if RARE_WORD_TOKEN in vocab else text.UNK_TOKEN
    if unknown_token not in vocab:
        raise ValueError(f"`unknown_token` must be in the vocabulary, received {unknown_token!r}")
    return _TargetVocabulary(vocab.tokens, unknown_token)


def oov_rate(sentences: Sequence[Sequence[str]], vocab: text.Vocabulary) -> float:
    """Fraction of the tokens of ``sentences`` that ``vocab`` does not contain (0.0 for no tokens).
    ValueError: a sentence is a string, not a token list (its characters would count as tokens).
    Lessons 06 (section 2) and 08 (section 2)."""
    tokens = [token for sentence in text.check_sentences(sentences, str_tokens=True)
              for token in sentence]
    return float(np.mean([token not in vocab for token in tokens])) if tokens else 0.0


def perplexity(trainer: BiLMTrainer, vocab: text.Vocabulary, sentences: Sequence[Sequence[str]], *,
               unknown_token: str | None = None, verbose: int = 0) -> dict:
    """Full-softmax perplexity of ``trainer`` on ``sentences``, words outside ``vocab`` counted
    as ``unknown_token`` (:func:`output_vocabulary`); adds ``"oov_rate"`` to the dict of
    :func:`elmo_lib.train.evaluate_perplexity` (``"forward"``, ``"backward"`` perplexities,
    ``"mean"`` their arithmetic mean, ...). ValueError: a sentence is a string, or ``sentences``
    gives no window (e.g. empty), as there. Lesson 08, section 2.
    """
    sentences = list(sentences)  # read twice: a generator would leave oov_rate nothing
    result = train.evaluate_perplexity(trainer, list(sentences), vocab=output_vocabulary(
        vocab, unknown_token), verbose=verbose)
    return {**result, "oov_rate": oov_rate(sentences, vocab)}


def adapt_bilm(trainer: BiLMTrainer, vocab: text.Vocabulary, sentences: Sequence[Sequence[str]], *,
               epochs: int = 1, learning_rate: float = 1e-3, batch_size: int | None = None,
               unroll_steps: int | None = None, seed: int = 0, unknown_token: str | None = None,
               jit_compile: bool = True, verbose: int | str = "auto",
               callbacks: Sequence[keras.callbacks.Callback] = ()) -> tuple[BiLMTrainer, dict]:
    """A copy of ``trainer`` fine-tuned on ``sentences`` as a language model (no labels).

    The copy starts from ``trainer``'s weights (encoder and softmax) and trains all of them with the
    biLM's own loss (sampled softmax, both directions) and a fresh Adam at ``learning_rate``
    (lower than pre-training's: the aim is to shift the model towards the new text, not to
    retrain it). ``trainer`` itself is not changed and nothing is written to disk.

    Args:
        trainer: a trained :class:`BiLMTrainer` (e.g. ``BiLMTrainer.from_preset(...)``).
        vocab: its output vocabulary (``len(vocab) == trainer.config.vocab_size``).
        sentences: the task's unlabelled training text, tokenized as the biLM expects. Never the
            dev or test text.
        epochs: passes over ``sentences`` (the paper used about one).
        learning_rate: Adam's learning rate, constant.
        batch_size, unroll_steps: windows per step and tokens per window (default: the trainer's).
        seed: weights copy is exact; this seeds dropout, candidate sampling and window order.
        unknown_token: the rule for target words outside ``vocab`` (:func:`output_vocabulary`).
        jit_compile: XLA-compile the training step.
        verbose: ``fit`` verbosity.
        callbacks: extra Keras callbacks.

    Returns:
        ``(adapted, info)``: the fine-tuned trainer and ``{"history": {metric: [per epoch]},
        "steps": steps per epoch, "tokens": tokens per epoch, "seconds": wall time}``.

    Example:
        >>> trainer = BiLMTrainer.from_preset("wikitext2_cpu")
        >>> vocab = presets.load_vocabulary("wikitext2_cpu")
        >>> adapted, info = adapt_bilm(trainer, vocab, task_sentences, epochs=2)

    Raises:
        ValueError: ``len(vocab)`` differs from the trainer's; ``epochs``, ``batch_size`` or
            ``unroll_steps`` not a positive int (``None``: the trainer's), ``learning_rate`` not a
            positive number; a sentence is a string; ``sentences`` has no token or too few for
            one ``batch_size x unroll_steps`` batch.

    Introduced in lesson 08 (section 2).
    """
    if len(vocab) != trainer.config.vocab_size:
        raise ValueError(f"the vocabulary has {len(vocab)} tokens but the trainer's "
                         f"config.vocab_size is {trainer.config.vocab_size}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be a positive integer, received epochs={epochs!r}")
    train._check_steps(batch_size=batch_size, unroll_steps=unroll_steps)  # 0 was taken as None
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real) or not (
            learning_rate > 0):
        raise ValueError(f"`learning_rate` must be a positive number, received {learning_rate!r}")
    sentences = text.check_sentences(sentences)  # before list(s) could split a string into letters
    if not any(len(s) for s in sentences):
        raise ValueError(f"`sentences` has no tokens ({len(sentences)} sentences"
                         f"{', all empty' if sentences else ''}): give the task's tokenized text")
    sentences = [list(s) for s in sentences if len(s)]
    config = dataclasses.replace(trainer.config, learning_rate=float(learning_rate),
                                 batch_size=batch_size or trainer.config.batch_size,
                                 unroll_steps=unroll_steps or trainer.config.unroll_steps,
                                 stateful=False)
    keras.utils.set_random_seed(seed)
    adapted = train.build_trainer(config, seed=seed, jit_compile=jit_compile)
    adapted.set_weights(trainer.get_weights())
    targets = output_vocabulary(vocab, unknown_token)
    steps = data.lm_steps_per_epoch(sentences, config.batch_size, config.unroll_steps,
                                    drop_remainder=True)
    if steps < 1:
        raise ValueError(f"{sum(len(s) for s in sentences)} tokens make no full batch of "
                         f"{config.batch_size} x {config.unroll_steps}: lower batch_size or "
                         "unroll_steps")
    dataset = data.lm_dataset(sentences, targets, config.batch_size, config.unroll_steps,
                              shuffle=True, seed=seed, repeat=True, drop_remainder=True,
                              max_characters_per_token=config.max_characters_per_token,
                              include_char_ids=config.token_input == "chars",
                              include_token_ids=config.token_input == "words")
    start = time.perf_counter()
    history = adapted.fit(dataset, epochs=epochs, steps_per_epoch=steps, verbose=verbose,
                          callbacks=list(callbacks), shuffle=False)
    info = {"history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            "steps": steps, "tokens": steps * config.batch_size * config.unroll_steps,
            "seconds": time.perf_counter() - start}
    return adapted, info
