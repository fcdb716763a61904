#!/usr/bin/env python
"""Export a training run into a shipped preset under models/ and register it.

    python scripts/export_preset.py runs/cpu_wikitext2 models/wikitext2-cpu --name wikitext2_cpu \\
        --description "The lessons' biLM: BiLMConfig.cpu() trained 60 minutes on WikiText-2" \\
        --training-command "scripts/train_wikitext2.sh" --machine "2-core AVX2 CPU"

Writes options.json + weights.hdf5 (bilm-tf), softmax.hdf5, vocab.txt, config.json,
history.json, perplexity.json / run.json (if the run has them), MODEL_CARD.md and preset.json, then
adds the preset's files and sha256 to elmo_lib/presets.json (the package's registry). See
elmo_lib.presets.export_preset.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's elmo_lib, also without `pip install -e .`

from elmo_lib import presets  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a run directory written by train_bilm / elmo-lib train")
    parser.add_argument("preset_dir", help="the preset directory to write, e.g. models/wikitext2-cpu")
    parser.add_argument("--name", required=True, help="preset name for from_preset()")
    parser.add_argument("--description", default="", help="one line for list_presets()")
    parser.add_argument("--weights", default="best.weights.h5",
                        help="the run's weights file (default: best.weights.h5)")
    parser.add_argument("--dataset", default="wikitext-2", help="training data, for the card")
    parser.add_argument("--training-command", default=None,
                        help="the exact training command (default: the run's run.json)")
    parser.add_argument("--machine", default=None, help="the training machine (default: run.json)")
    parser.add_argument("--registry", default=str(presets.REGISTRY_FILE),
                        help="registry to update (default: this checkout's elmo_lib/presets.json)")
    parser.add_argument("--no-registry", action="store_true", help="do not update the registry")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing preset_dir")
    parser.add_argument("--max-megabytes", type=float, default=30.0)
    args = parser.parse_args(argv)
    manifest = presets.export_preset(
        args.run_dir, args.preset_dir, name=args.name, description=args.description,
        weights=args.weights, dataset=args.dataset, training_command=args.training_command,
        machine=args.machine, registry=None if args.no_registry else args.registry,
        overwrite=args.overwrite, max_megabytes=args.max_megabytes)
    total = sum(entry["bytes"] for entry in manifest["files"].values())
    print(json.dumps({"preset": args.name, "directory": args.preset_dir,
                      "megabytes": round(total / 1e6, 2), "parameters": manifest["parameters"],
                      "files": sorted(manifest["files"])}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
