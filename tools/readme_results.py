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
        link = record.get("script", link)  # a lesson's companion script (08_sst2_phrases)
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
    payoff = _load("06_payoff")
    names = {"pos": "POS tagging, UD-EWT UPOS", "sst2": "sentiment, SST-2 sentences"}
    units = {"pos": "tokens", "sst2": "sentences"}
    for task, record in (payoff or {}).get("tasks", {}).items():
        ci = record["paired_bootstrap_95"]
        rows.append(f"| {names[task]}, {record['n_train']:,} training sentences (lesson 06; test "
                    f"accuracy over {payoff['n_test'][task]:,} {units[task]}, mean ± sd over "
                    f"{_seed_list(record['baseline']['seed'])}) | baseline "
                    f"{_mean_sd(record['baseline'])}; ELMo + baseline "
                    f"{_mean_sd(record['elmo_baseline'])}; gain {100 * record['gain']:+.1f} points "
                    f"(relative error reduction {record['relative_error_reduction']:.1%}), paired "
                    f"95% interval over test sentences [{100 * ci['low']:+.1f}, {100 * ci['high']:+.1f}] |")
    if payoff:
        mixes = "; ".join(f"{names[t].split(',')[0]}: "
                          + " / ".join(f"{w:.2f}" for w in r["mix_weights"]["mean"])
                          for t, r in payoff["tasks"].items())
        rows.append(f"| the same, learned softmax(s) of layers 0 / 1 / 2 (mean over seeds) | {mixes} |")
        ablation = "; ".join(f"{names[t].split(',')[0]}: " + ", ".join(
            f"{mix} {_pct(r['ablation'][mix])}" for mix in ("baseline", "top", "average", "learned")
            if mix in r["ablation"]) for t, r in payoff["tasks"].items())
        seeds = _seed_list(next(iter(payoff["tasks"].values()))["ablation_seeds"])
        rows.append(f"| the paper's mix ablation (test, {seeds}): top layer only, fixed average, "
                    f"learned mix | {ablation} |")
    further = _load("08_going_further")
    if further:
        adaptation = further.get("adaptation", {}).get("dev_accuracy", {})
        if adaptation:
            parts = [f"{name}: {_pct(value)}" for name, value in adaptation.items()]
            rows.append("| SST-2 dev, ELMo + baseline with the biLM adapted to movie-review text "
                        f"(lesson 08, seeds 0, 1) | {'; '.join(parts)} |")
        for task, curve in further.get("learning_curves", {}).items():
            parts = [f"{int(n):,}: {_pct(r['baseline'])} → {_pct(r['elmo_baseline'])} "
                     f"({100 * (r['elmo_baseline'] - r['baseline']):+.1f})" for n, r in curve.items()]
            rows.append(f"| {names[task].split(',')[0]} learning curve, dev accuracy baseline → "
                        f"ELMo + baseline by training sentences (lesson 08, seeds 0, 1) | "
                        f"{'; '.join(parts)} |")
    phrases = _load("08_sst2_phrases")  # scripts/sst2_phrases.py
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
