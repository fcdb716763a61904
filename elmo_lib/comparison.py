"""The paper's way of measuring ELMo: the same task model with and without it, over seeds.

- :func:`run_seeds`                 one row of the table: a model trained once per seed, dev
  selecting its epoch, test read once per run, per-sentence correctness kept
- :class:`SeedRuns`                 that row: accuracies per seed, mean and sd, mix weights
- :func:`relative_error_reduction`  the paper's Table 1 column, ``(e_base - e_elmo) / e_base``
- :func:`paired_bootstrap`          a 95% interval of the gain over the test items both rows read

Peters et al. 2018, sec. 4 and Table 1. Introduced in lesson 06; lesson 08 reuses it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
from scipy import stats

from elmo_lib import downstream
from elmo_lib.downstream import TaskConfig, TaskData


@dataclass
class SeedRuns:
    """One row of a baseline-vs-ELMo table: the same model trained once per seed.

    ``correct`` is int64 ``[seeds, items]``: per test sentence, its correct predictions (1 or 0
    for a sentence classifier, correct tokens for a tagger); ``counted`` int64 ``[items]`` its
    predictions (1, or its tokens). ``mix_weights`` is ``[seeds, L + 1]`` softmax(s) (empty for a
    baseline), ``gamma`` one float per seed. Accuracies are fractions. Lesson 06.
    """

    name: str
    seeds: list[int]
    dev: list[float]
    test: list[float]
    correct: np.ndarray
    counted: np.ndarray
    best_epoch: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    mix_weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    gamma: list[float] = field(default_factory=list)
    model: keras.Model | None = None  # the last seed's

    def __post_init__(self):
        correct, counted = np.asarray(self.correct), np.asarray(self.counted)
        if correct.size and (correct.ndim != 2 or counted.ndim != 1
                             or correct.shape != (len(self.seeds), len(counted))):
            raise ValueError(f"SeedRuns {self.name!r}: `correct` must be [seeds, items] and "
                             f"`counted` [items], received {correct.shape} and {counted.shape} "
                             f"for {len(self.seeds)} seeds")

    @property
    def mean(self) -> float:
        return float(np.mean(self.test))

    @property
    def sd(self) -> float:
        """Sample standard deviation over seeds (0.0 for one seed)."""
        return float(np.std(self.test, ddof=1)) if len(self.test) > 1 else 0.0

    def summary(self) -> dict:
        """The row as plain numbers: ``mean``, ``sd`` (``None`` for one seed: no spread to
        report), ``seeds`` (test accuracy per seed, in the order of ``seed``), ``dev_mean``,
        ``best_epoch``, ``seconds``."""
        return {"mean": self.mean, "sd": self.sd if len(self.test) > 1 else None, "seeds": [float(a) for a in self.test],
                "seed": list(self.seeds), "dev_mean": float(np.mean(self.dev)),
                "best_epoch": list(self.best_epoch), "seconds": [round(s, 1) for s in self.seconds]}


def run_seeds(config: TaskConfig, splits: Mapping[str, TaskData], *, use_elmo: bool,
              seeds: Sequence[int], name: str = "", vocab_size: int | None = None,
              steps_per_epoch: int | None = None, word_vectors: np.ndarray | None = None,
              evaluate_on: str = "test", verbose: bool = True) -> SeedRuns:
    """Train ``config``'s task model once per seed on ``splits["train"]``, dev selecting the
    epoch (:func:`elmo_lib.downstream.train_task_model`), then read ``splits[evaluate_on]`` once.

    The seeds share one compiled model, restarted from each seed's fresh state, so TensorFlow
    traces the train step once per row. Each run prints one line (dev, test, best epoch, time).

    Args:
        config: the task model (``config.elmo_mix`` picks the mix when ``use_elmo``).
        splits: ``"train"``, ``"dev"`` and ``evaluate_on`` :class:`TaskData`, all labelled per
            sentence or all per token (a tagger), with caches when ``use_elmo``.
        use_elmo: ELMo + baseline (True) or the baseline.
        seeds: one run per seed (weights, dropout, batch order).
        name: the row's name in printed lines.
        vocab_size, steps_per_epoch, word_vectors: as :func:`train_task_model`.
        evaluate_on: the split scored after training (``"test"``; ``"dev"`` for choices).
        verbose: print a line per run.

    Returns:
        a :class:`SeedRuns` with the per-item correctness of ``splits[evaluate_on]``.

    Raises:
        ValueError: ``seeds`` empty or repeated; a split missing; as ``train_task_model``.

    Introduced in lesson 06.
    """
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must be distinct ints, at least one, received {seeds}")
    missing = {"train", "dev", evaluate_on} - set(splits)
    if missing:
        raise ValueError(f"`splits` needs {sorted({'train', 'dev', evaluate_on})}, missing "
                         f"{sorted(missing)}")
    row = SeedRuns(name, seeds, [], [], np.zeros(0), np.zeros(0))
    corrects, weights, model = [], [], None
    for seed in seeds:
        start = time.perf_counter()
        model, info = downstream.train_task_model(
            config, splits["train"], splits["dev"], use_elmo=use_elmo, seed=seed,
            vocab_size=vocab_size, steps_per_epoch=steps_per_epoch, word_vectors=word_vectors,
            model=model)
        correct, counted = downstream.correct_counts(model, splits[evaluate_on])
        corrects.append(correct)
        row.dev.append(info["dev_accuracy"])
        row.test.append(float(correct.sum() / max(counted.sum(), 1)))
        row.best_epoch.append(info["best_epoch"])
        row.seconds.append(time.perf_counter() - start)
        row.counted = counted
        if use_elmo and config.elmo_mix == "learned":
            w, gamma = downstream.mix_weights(model)
            weights.append(w)
            row.gamma.append(gamma)
        if verbose:
            print(f"{name or 'run'}, seed {seed}: dev {info['dev_accuracy']:.1%}, "
                  f"{evaluate_on} {row.test[-1]:.1%} (best epoch {info['best_epoch']}, "
                  f"{row.seconds[-1]:.0f} s)", flush=True)
    row.correct = np.stack(corrects)
    row.mix_weights = np.stack(weights) if weights else np.zeros((0, 0))
    row.model = model
    return row


def relative_error_reduction(baseline: float, improved: float) -> float:
    """``(e_baseline - e_improved) / e_baseline`` with ``e = 1 - accuracy``: the fraction of the
    baseline's errors that the improved model removes (Table 1's last column as a fraction).
    ValueError: an accuracy outside [0, 1], or a perfect baseline (no errors to reduce)."""
    for name, value in (("baseline", baseline), ("improved", improved)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"`{name}` must be an accuracy in [0, 1], received {value!r}")
    if baseline == 1.0:
        raise ValueError("`baseline` is 1.0: it makes no errors to reduce")
    return ((1 - baseline) - (1 - improved)) / (1 - baseline)


def paired_bootstrap(reference: SeedRuns, other: SeedRuns, *, confidence: float = 0.95,
                     n_resamples: int = 10_000, random_state: int = 0) -> dict:
    """A bootstrap interval of ``accuracy(other) - accuracy(reference)`` over the test items.

    Both rows scored the same test sentences, so their errors are correlated and the gain is far
    less noisy than two independent accuracies: the difference is resampled sentence by sentence
    (paired). For each sentence the correct predictions of each row are averaged over the seeds
    both rows ran; the statistic is ``sum(difference) / sum(counted)``, so a tagger's sentences
    count by their tokens and the tokens of one sentence are resampled together (they are not
    independent). SciPy's ``stats.bootstrap`` (BCa); a difference that is the same everywhere
    has no spread, and its interval is the gain itself.

    Args:
        reference, other: :class:`SeedRuns` on the same test items, sharing at least one seed.
        confidence: the interval's level.
        n_resamples, random_state: the bootstrap.

    Returns:
        ``{"gain", "low", "high", "standard_error", "seeds", "items", "confidence"}``: the gain
        and interval as fractions (0.012 = 1.2 points), over the shared seeds.

    Raises:
        ValueError: no shared seed; the rows scored different items; ``confidence`` not in (0, 1).

    Introduced in lesson 06 (one significance statement per task).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"`confidence` must be in (0, 1), e.g. 0.95, received {confidence!r}")
    shared = [s for s in reference.seeds if s in other.seeds]
    if not shared:
        raise ValueError(f"`reference` (seeds {reference.seeds}) and `other` (seeds "
                         f"{other.seeds}) share no seed")
    if reference.correct.shape[1:] != other.correct.shape[1:] or not np.array_equal(
            reference.counted, other.counted):
        raise ValueError("`reference` and `other` scored different test items")

    def by_seed(row):
        return row.correct[[row.seeds.index(s) for s in shared]].astype(np.float64).mean(axis=0)

    difference = by_seed(other) - by_seed(reference)
    counted = reference.counted.astype(np.float64)
    gain = float(difference.sum() / counted.sum())
    if np.all(difference == difference[0]) and np.all(counted == counted[0]):
        low = high = gain
        standard_error = 0.0
    else:
        result = stats.bootstrap((difference, counted),
                                 lambda d, c, axis: d.sum(axis=axis) / c.sum(axis=axis),
                                 paired=True, vectorized=True, confidence_level=confidence,
                                 n_resamples=n_resamples, method="BCa",
                                 rng=np.random.default_rng(random_state))
        low, high = (float(v) for v in result.confidence_interval)
        standard_error = float(result.standard_error)
    return {"gain": gain, "low": low, "high": high, "standard_error": standard_error,
            "seeds": shared, "items": int(len(counted)), "confidence": confidence}
