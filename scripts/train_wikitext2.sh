#!/usr/bin/env bash
# The lesson biLM: BiLMConfig.cpu() on WikiText-2 for a 60-minute budget on 2 CPU cores.
#
#   ELMO_DATA_DIR=/path/to/data scripts/train_wikitext2.sh            # -> runs/cpu_wikitext2/
#   OUTPUT=runs/other MINUTES=30 scripts/train_wikitext2.sh
#   OUTPUT=runs/cpu_wikitext2_stateful scripts/train_wikitext2.sh --stateful   # bilm-tf's way
#
# Runs in the background (nohup) and logs to $OUTPUT/train.log. If the run is killed, run the
# same command again: BackupAndRestore resumes from the last finished epoch, and the time budget
# and the learning-rate schedule count the minutes already spent. At the end it writes the
# full-softmax perplexities of valid and test to $OUTPUT/perplexity.json, in windows from a zero
# state ("valid", "test") and with the state carried through the text ("valid_stream",
# "test_stream", bilm-tf's protocol). Extra arguments go to `elmo-lib train` (e.g. --stateful:
# carry the LSTM state from batch to batch in training too).
set -euo pipefail
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-runs/cpu_wikitext2}
MINUTES=${MINUTES:-60}
PYTHON=${PYTHON:-.venv/bin/python}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
mkdir -p "$OUTPUT"
# --no-jit: the char CNN's distinct-token shortcut only runs outside XLA, and XLA gave the LSTM
# loop no measurable gain here (benchmarks/README.md).
# An "epoch" here is 900 steps (about one pass over WikiText-2 train), so checkpoints,
# validation (on the first 30 valid batches, ~67k tokens) and early stopping come every ~10 min.
nohup "$PYTHON" -m elmo_lib.cli train --dataset wikitext-2 --preset cpu --output "$OUTPUT" \
  --epochs 100 --steps-per-epoch 900 --validation-steps 30 --minutes "$MINUTES" \
  --schedule time_cosine --warmup-steps 100 --patience 3 --log-every 50 --verbose 2 --no-jit \
  "$@" >>"$OUTPUT/train.log" 2>&1 &
echo "training in the background (pid $!), log: $OUTPUT/train.log"
