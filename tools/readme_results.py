"""Write the README's result tables from the lessons' results files (results/NN_*.json).

Each table sits between two markers in README.md::

    <!-- results:NAME -->
    ...generated...
    <!-- /results:NAME -->

From the repo root::

    .venv/bin/python tools/readme_results.py          # rewrite the tables in README.md
    .venv/bin/python tools/readme_results.py --check  # exit 1 if README.md is out of date

tests/test_repo.py runs the check, so a README whose numbers differ from the results files fails
the test suite. Re-run a lesson in full, then this script, and commit both.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
README = ROOT / "README.md"


def _load(lesson: str) -> dict | None:
    path = RESULTS / f"{lesson}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _mean_sd(entry: dict) -> str:
    if entry.get("sd") is None:  # one seed: no spread
        return f"{100 * entry['mean']:.1f} (one seed)"
    return f"{100 * entry['mean']:.1f} ± {_spread(100 * entry['sd'])}"


def _spread(points: float) -> str:
    """An sd in points to one decimal, or two when one would print a non-zero spread as 0.0."""
    return f"{points:.2f}" if 0 < points < 0.05 else f"{points:.1f}"


def lessons_table() -> str:
    rows = ["| lesson or script | full run (setup cell to results cell; a script: loading data to saving) | machine | date |", "|---|---:|---|---|"]
    for path in sorted(RESULTS.glob("[0-9][0-9]_*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        machine = record["machine"]
        gpu = ", ".join(machine.get("gpus") or []) or "no GPU"
        avx = "AVX-512" if machine.get("avx512") else "no AVX-512"
        notebook = next((ROOT / "notebooks").glob(f"{record['lesson'][:2]}_*.ipynb"), None)
        link = f"notebooks/{notebook.name}" if notebook else "notebooks/"
        link = record.get("script", link)  # a lesson's companion script (06_sentiment_phrases)
        rows.append(f"| [{record['lesson']}]({link}) | "
                    f"{record['wall_seconds']:.0f} s | {machine['cpu']}, {machine['cores']} cores, "
                    f"{avx}, {gpu} | {record['date'][:10]} |")
    return "\n".join(rows)


def bilm_table() -> str:
    record = _load("04_training_the_bilm")
    if record is None:
        return "(lesson 04 has no results file yet)"
    training = record["training"]
    rows = [f"Trained {training['minutes']:.0f} minutes: {training['steps']:,} steps, "
            f"{training['tokens'] / 1e6:.2f}M tokens; full-softmax perplexity "
            "(forward / backward / **mean**), measured by lesson 04:", "",
            "| split | protocol | tokens scored | forward | backward | mean |",
            "|---|---|---:|---:|---:|---:|"]
    for split in ("valid", "test"):
        for protocol in ("windows", "stream"):
            r = record["perplexity"][split][protocol]
            rows.append(f"| {split} | {protocol} | {r['tokens']:,} | {r['forward']:.1f} | "
                        f"{r['backward']:.1f} | **{r['mean']:.1f}** |")
    return "\n".join(rows)


def _seed_list(seeds) -> str:
    """``[0, 1, 2]`` -> ``"seeds 0-2"``, other lists comma-separated; a count (older files): ``"5 seeds"``."""
    if isinstance(seeds, int):
        return f"{seeds} seeds"
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _checks(by_row: dict) -> str:
    """How often each row checked dev a pass: ``"4 times"``, ``"once"``, or per row if they differ."""
    def times(k):
        return ("once" if k == 1 else "twice" if k == 2 else f"{k} times") + " a pass"
    if len(set(by_row.values())) == 1:
        return times(next(iter(by_row.values())))
    names = {"baseline": "baseline", "elmo_baseline": "ELMo + baseline"}
    return ", ".join(f"{times(k)} ({names.get(row, row)})" for row, k in by_row.items())


def downstream_table() -> str:
    rows = ["| task (split) | result |", "|---|---|"]
    pos = _load("05_elmo_representations")
    if pos is not None:
        accuracy = pos["pos_probe"]["accuracy"]
        parts = [f"{name}: {_pct(value['test'])}" for name, value in accuracy.items()]
        rows.append(f"| UD-EWT UPOS, linear probe on {pos['pos_probe']['train_sentences']:,} "
                    f"train sentences (test accuracy) | {'; '.join(parts)} |")
        weights = " / ".join(f"{w:.2f}" for w in pos["pos_probe"]["mix_weights"])
        rows.append(f"| the same, learned mix weights softmax(s) of layers 0 / 1 / 2 | {weights} |")
        ladder = pos["record_ladder"]
        parts = [f"{name}: {_pct(value)}" for name, value in ladder.items() if name != "occurrences"]
        rows.append(f"| *record*: music business vs achievement, {ladder['occurrences']} "
                    f"WikiText-2 occurrences (5-fold CV accuracy) | {'; '.join(parts)} |")
    sst = _load("06_sentiment")
    if sst is not None:
        test = sst["test_accuracy"]
        parts = [f"TF-IDF + LR {_pct(test['tfidf_lr'])}"]
        for key, name in (("baseline", "baseline"), ("baseline_static", "baseline with static vectors"),
                          ("elmo_baseline", "ELMo + baseline"),
                          ("elmo_baseline_adapted", "ELMo (adapted biLM) + baseline")):
            if key in test:
                seeds = test[key].get("seeds")  # per-seed accuracies: rows differ in how many
                parts.append(f"{name} {_mean_sd(test[key])}"
                             + (f" ({len(seeds)} seeds)" if isinstance(seeds, list) else ""))
        unit = "phrases" if sst.get("train_on") == "phrases" else "sentences"  # lesson 06's TRAIN_ON
        level = "trained on GLUE's phrases" if unit == "phrases" else "sentence level"
        rows.append(f"| SST-2 {level}, test accuracy ({sst['n_test']:,} sentences; "
                    f"mean ± sd over seeds) | {'; '.join(parts)} |")
        paired = {key: gain["paired_bootstrap_95"] for key, gain in sst.get("gains", {}).items()
                  if "paired_bootstrap_95" in gain}
        if paired:  # lesson 06, section 8: per-sentence differences over the shared seeds
            parts = [f"{'ELMo (adapted biLM)' if 'adapted' in key else 'ELMo'} + baseline "
                     f"{100 * b['gain']:+.1f} [{100 * b['low']:+.1f}, {100 * b['high']:+.1f}] "
                     f"({_seed_list(b['seeds'])})" for key, b in paired.items()]
            rows.append("| SST-2 test gain over the baseline on the same seeds, 95% paired "
                        f"bootstrap interval over the test sentences (points) | {'; '.join(parts)} |")
        for point in sst.get("learning_curve", []):
            rows.append(f"| SST-2 with {point['n_train']:,} training {unit} (test) | "
                        f"TF-IDF + LR {_pct(point['tfidf_lr'])}; baseline "
                        f"{_mean_sd(point['baseline'])}; ELMo + baseline "
                        f"{_mean_sd(point['elmo_baseline'])} (gain "
                        f"{100 * (point['elmo_baseline']['mean'] - point['baseline']['mean']):+.1f}) |")
    phrases = _load("06_sentiment_phrases")  # scripts/sst2_phrases.py
    if phrases is not None:
        test = phrases["test_accuracy"]
        checks = phrases.get("checks_per_pass")  # dev checks a pass, chosen on dev per row
        checks = f", dev checked {_checks(checks)}" if isinstance(checks, dict) and checks else ""
        rows.append(f"| SST-2 trained on GLUE's {phrases['n_train_phrases']:,} phrases (test "
                    f"sentences; `scripts/sst2_phrases.py`, {_seed_list(phrases.get('seeds', []))}"
                    f"{checks}) | baseline {_mean_sd(test['baseline'])}; "
                    f"ELMo + baseline {_mean_sd(test['elmo_baseline'])} (gain "
                    f"{100 * phrases['gain']:+.1f}) |")
    return "\n".join(rows)


SECTIONS = {"lessons": lessons_table, "bilm": bilm_table, "downstream": downstream_table}


def render(readme: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(<!-- /results:{name} -->)", re.S)
        if not pattern.search(readme):
            raise ValueError(f"README.md has no <!-- results:{name} --> ... "
                             f"<!-- /results:{name} --> markers")
        readme = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), readme)
    return readme


def main(argv: list[str]) -> int:
    current = README.read_text(encoding="utf-8")
    updated = render(current)
    if "--check" in argv:
        if updated != current:
            print("README.md's result tables differ from results/*.json: run "
                  "tools/readme_results.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
