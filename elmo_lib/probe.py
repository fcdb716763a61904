"""A token-level probe on a trainable scalar mix of cached biLM layers (lesson 05's POS tags).

- :func:`build_token_probe`     ``softmax(Dense(ScalarMix(layers)))`` per token, compiled
- :func:`train_token_probe`     fit it with early stopping on dev token accuracy; the learned mix
- :func:`token_probe_accuracy`  token accuracy on cached sentences (padding never counts)

Which layers a token task prefers is read from the mix (paper sec. 5.3: syntax leans on the lower
layers); lesson 06 shows these weights beside the sentiment task's
(:func:`elmo_lib.downstream.mix_weights`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import keras
import numpy as np

from elmo_lib.cache import LayerCache
from elmo_lib.downstream import TaskData, TokenMask, mix_weights, task_dataset
from elmo_lib.layers import ScalarMix


def build_token_probe(n_layers: int, dim: int, n_classes: int, *, layer_norm: bool = False,
                      l2_coefficient: float = 0.0, learning_rate: float = 1e-2) -> keras.Model:
    """``softmax(Dense(ScalarMix(layers)))`` per token: a linear probe on a trainable mix, compiled
    with a loss and accuracy over real tokens only (inputs ``{"word_ids", "elmo"}``; the word ids
    only mark padding)."""
    word_ids = keras.Input((None,), dtype="int32", name="word_ids")
    elmo = keras.Input((None, n_layers, dim), name="elmo")
    layers = keras.layers.Permute((2, 1, 3), name="layers_first")(elmo)
    mix = ScalarMix(n_layers, layer_norm=layer_norm, l2_coefficient=l2_coefficient,
                    name="scalar_mix")
    mixed = mix(layers, mask=TokenMask(name="token_mask")(word_ids))
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="classes")(mixed)
    model = keras.Model({"word_ids": word_ids, "elmo": elmo}, outputs, name="token_probe")
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy",
                  weighted_metrics=["accuracy"])
    return model


def train_token_probe(train_cache: LayerCache, train_tags: Sequence[Sequence[int]],
                      dev_cache: LayerCache, dev_tags: Sequence[Sequence[int]], n_classes: int, *,
                      layer_norm: bool = False, l2_coefficient: float = 0.0,
                      learning_rate: float = 1e-2, batch_size: int = 64, epochs: int = 10,
                      patience: int = 2, seed: int = 0, verbose: int = 0) -> tuple[keras.Model, dict]:
    """Train a token classifier on a trainable ``ScalarMix`` of cached biLM layers.

    Reads which layers a token-level task (POS tags, ...) prefers: compare ``info["mix_weights"]``
    with a sentence task's (:func:`mix_weights` of a :func:`train_task_model` model). Early stopping
    on dev token accuracy, best epoch's weights kept.

    Args:
        train_cache, dev_cache: :func:`cache_layers` of the sentences.
        train_tags, dev_tags: one int array of tag ids (``0 .. n_classes - 1``) per sentence, as
            long as the sentence.
        n_classes: number of tags.
        layer_norm, l2_coefficient: the ``ScalarMix`` options.
        learning_rate, batch_size, epochs, patience, seed, verbose: training.

    Returns:
        ``(model, info)``; ``info``: ``dev_accuracy`` (token accuracy at the best epoch),
        ``mix_weights`` (``softmax(s)``, a list), ``gamma``, ``epochs``, ``best_epoch``,
        ``seconds``.

    Example:
        >>> model, info = train_token_probe(train_cache, train_tags, dev_cache, dev_tags, 17)
        >>> info["mix_weights"]  # e.g. [0.45, 0.35, 0.20]: the lower layers for syntax

    Introduced for lesson 05 (POS probe); lesson 06 learns a mix per task with the same layer.
    """
    def as_data(cache, tags):
        tags = [np.asarray(t, np.int32) for t in tags]
        return TaskData([np.ones(len(t), np.int32) for t in tags], tags, cache)

    train, dev = as_data(train_cache, train_tags), as_data(dev_cache, dev_tags)
    keras.utils.set_random_seed(seed)
    model = build_token_probe(train_cache.n_layers, train_cache.dim, n_classes,
                              layer_norm=layer_norm, l2_coefficient=l2_coefficient,
                              learning_rate=learning_rate)
    train_ds, _ = task_dataset(train, batch_size, use_elmo=True, shuffle_seed=seed, token_level=True)
    dev_ds, _ = task_dataset(dev, 128, use_elmo=True, token_level=True)
    stop = keras.callbacks.EarlyStopping("val_accuracy", patience=patience, mode="max",
                                         restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(train_ds, validation_data=dev_ds, epochs=epochs,
                        steps_per_epoch=-(-len(train) // batch_size), callbacks=[stop],
                        verbose=verbose, shuffle=False)
    scores = history.history["val_accuracy"]
    weights, gamma = mix_weights(model)
    return model, {"dev_accuracy": float(max(scores)), "mix_weights": weights.tolist(),
                   "gamma": gamma, "epochs": len(scores), "best_epoch": int(np.argmax(scores)) + 1,
                   "seconds": time.perf_counter() - start}


def token_probe_accuracy(model: keras.Model, cache: LayerCache, tags: Sequence[Sequence[int]], *,
                         batch_size: int = 128) -> float:
    """Token accuracy of a :func:`train_token_probe` model on cached sentences.

    Args:
        model: the probe (inputs ``{"word_ids", "elmo"}``, a softmax per token).
        cache: :func:`elmo_lib.cache.cache_layers` of the sentences.
        tags: one int array of tag ids per sentence, as long as the sentence; an id the probe has
            no class for counts as an error.

    Returns:
        correct tokens / real tokens (padding never counts), a float in ``[0, 1]``.

    Raises:
        ValueError: a sentence's tags and its cached tokens differ in length.

    Introduced in lesson 05 (the POS probe on a trainable mix).
    """
    tags = [np.asarray(t, np.int32) for t in tags]
    data = TaskData([np.ones(len(t), np.int32) for t in tags], tags, cache)
    dataset, _ = task_dataset(data, batch_size, use_elmo=True, token_level=True)
    correct = total = 0.0
    for x, y, weights in dataset:
        predicted = np.argmax(keras.ops.convert_to_numpy(model(x, training=False)), axis=-1)
        correct += float(np.sum((predicted == y.numpy()) * weights.numpy()))
        total += float(np.sum(weights.numpy()))
    return correct / total
