#!/usr/bin/env python
"""Lesson 06's sentiment comparison trained on GLUE SST-2's phrases instead of its sentences
(lesson 08, section 5, reads its results).

    python scripts/sst2_phrases.py            # about 25 minutes on 2 CPU cores
    python scripts/sst2_phrases.py --checks-per-pass 1   # dev once a pass only: about 13 minutes
    python scripts/sst2_phrases.py --quick    # a few hundred phrases, one epoch: a smoke test
                                              # (also ELMO_QUICK=1); writes to a temporary
                                              # directory unless ELMO_RESULTS_DIR is set

The baseline and ELMo + baseline of lesson 06 (the same task model, settings and seeds; the
lessons' shipped biLM, frozen and cached) trained on the 67,349 labelled phrases of GLUE SST-2's
training split (every labelled phrase of SST-2's training sentences; about 10% of them are whole
sentences), with early stopping on the sentence-level dev set and one read of the sentence-level
test set per run.
A pass over the phrases is 1,053 batches, and with one dev check a pass half of the runs were
best at the first check, which is coarse; so dev is checked once and four times a pass, and each
row keeps the one that is better on dev (mean over seeds).
Writes ``results/08_sst2_phrases.json``; lesson 08 (section 5) and the README read it.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's elmo_lib, also without `pip install -e .`


import elmo_lib as el  # noqa: E402

# lesson 06's sentiment model (its CLASSIFIER, chosen on SST-2 dev)
TASK = el.downstream.TaskConfig(
    embedding_dim=100, lstm_units=64, dropout=0.3, elmo_dropout=0.5, layer_norm=True,
    learning_rate=1e-3, batch_size=64, epochs=10, patience=2)
ROWS = {"baseline": False, "elmo_baseline": True}


def train_row(task, data, use_elmo, seeds, vocab_size, steps, label):
    """One model per seed (dev selects its check, test is read once): the library's seed loop."""
    row = el.comparison.run_seeds(task, data, use_elmo=use_elmo, seeds=seeds, name=label,
                                  vocab_size=vocab_size, steps_per_epoch=steps)
    return row.summary()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="one model per seed and row; mean +- sd over them (default: 0 1 2)")
    parser.add_argument("--preset", default="wikitext2_cpu",
                        help="the biLM, a preset name or directory (default: wikitext2_cpu)")
    parser.add_argument("--quick", action="store_true",
                        help="300 phrases, 200 dev/test sentences, one epoch: a smoke test whose "
                             "numbers mean nothing (also ELMO_QUICK=1)")
    parser.add_argument("--checks-per-pass", type=int, nargs="+", default=[1, 4], metavar="K",
                        help="check dev K times per pass over the phrases (default: 1 and 4); the "
                             "schedule stays the same in passes (at most 10 passes, stop after 2 "
                             "passes without a better dev accuracy). Several values: each row "
                             "keeps the K with the best mean dev accuracy (ties: the smallest K)")
    args = parser.parse_args(argv)
    if any(k < 1 for k in args.checks_per_pass):
        parser.error(f"--checks-per-pass must be positive integers, received {args.checks_per_pass}")
    if any(not 0 <= s < 2**32 for s in args.seeds):  # else Keras refuses it only after caching
        parser.error(f"--seeds must be in [0, 2**32), received {args.seeds}")
    quick = args.quick or os.environ.get("ELMO_QUICK") == "1"
    task = TASK.replace(epochs=1) if quick else TASK
    checks = sorted(set(args.checks_per_pass))
    directory = None  # results/ (see elmo_lib.results.results_dir)
    if quick and not os.environ.get("ELMO_RESULTS_DIR"):  # never over the committed full run
        directory = tempfile.mkdtemp(prefix="sst2_phrases_quick_")
    results = el.results.LessonResults("08_sst2_phrases", directory)
    results["quick"] = quick  # --quick as well as ELMO_QUICK=1
    splits = {"train": el.data.load_sst2_glue("train"), "dev": el.data.load_sst2("dev"),
              "test": el.data.load_sst2("test")}
    if quick:
        splits = {name: (texts[:300 if name == "train" else 200], labels[:300 if name == "train" else 200])
                  for name, (texts, labels) in splits.items()}
    tokens = {name: [el.adapt.ptb_to_wikitext(t) for t in texts] for name, (texts, _) in splits.items()}
    print(f"{len(tokens['train']):,} training phrases ({sum(map(len, tokens['train'])):,} tokens); "
          f"dev {len(tokens['dev']):,} and test {len(tokens['test']):,} sentences", flush=True)

    encoder = el.bilm.BiLMEncoder.from_preset(args.preset)
    cache = {}
    for name in splits:
        print(f"caching the biLM's layers of the {name} split", flush=True)
        cache[name] = el.cache.cache_layers(encoder, tokens[name], verbose=1)
    word_index = el.downstream.task_vocabulary(tokens["train"])
    data = {name: el.downstream.TaskData(el.downstream.encode_words(tokens[name], word_index),
                                         splits[name][1], cache[name]) for name in splits}
    by_checks = {}
    for k in checks:  # the schedule in passes is kept: k times the checks, k times the patience
        task_k = task.replace(epochs=task.epochs * k, patience=task.patience * k)
        steps = -(-len(data["train"]) // (task.batch_size * k))  # batches between two dev checks
        by_checks[k] = {name: train_row(task_k, data, use_elmo, args.seeds, len(word_index) + 2,
                                        steps, f"{name}, {k} check(s) a pass")
                        for name, use_elmo in ROWS.items()}
    chosen = {name: max(checks, key=lambda k, name=name: (by_checks[k][name]["dev_mean"], -k))
              for name in ROWS}  # dev decides, per row (lesson 06 chooses its MIN_STEPS so too)
    accuracy = {name: by_checks[chosen[name]][name] for name in ROWS}
    for name in ROWS:
        tried = ", ".join(f"{k}: {by_checks[k][name]['dev_mean']:.1%}" for k in checks)
        print(f"{name} keeps {chosen[name]} dev check(s) a pass (mean dev by checks a pass: {tried})")
    gain = accuracy["elmo_baseline"]["mean"] - accuracy["baseline"]["mean"]
    results["n_train_phrases"] = len(tokens["train"])
    results["n_test"] = len(tokens["test"])
    results["test_accuracy"] = accuracy
    results["gain"] = gain
    results["relative_error_reduction"] = el.comparison.relative_error_reduction(
        accuracy["baseline"]["mean"], accuracy["elmo_baseline"]["mean"])
    results["task_config"] = dict(vars(task))  # epochs and patience in passes
    results["checks_per_pass"] = chosen  # per row, chosen on dev; best_epoch counts dev checks
    results["by_checks_per_pass"] = {str(k): rows for k, rows in by_checks.items()}
    results["seeds"] = list(args.seeds)
    results["preset"] = args.preset
    results["script"] = "scripts/sst2_phrases.py"  # the README links this run to the script
    results.save()
    print(f"{'QUICK run (numbers mean nothing): ' if quick else ''}"
          f"phrases: baseline {accuracy['baseline']['mean']:.1%}, ELMo + baseline "
          f"{accuracy['elmo_baseline']['mean']:.1%} (gain {100 * gain:+.1f} points); "
          f"written to {results.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
