#!/usr/bin/env bash
# The GPU check (issue: lessons and training verified on a GPU). Run from the repository root on a
# machine with an NVIDIA GPU and TensorFlow's CUDA build:
#
#   WHEELS=/path/to/wheels bash benchmarks/gpu_check.sh      # installs offline from a wheel folder
#   bash benchmarks/gpu_check.sh                              # installs from the package index
#
# 1. a venv from requirements-lock.txt (+ tensorflow[and-cuda] at the lock's version);
# 2. the unit tests that touch the model, and lessons 02, 03 and 05 in QUICK mode under nbval;
# 3. train_throughput.py for small() and original(), float32 and mixed_bfloat16, XLA on and off:
#    one JSON line each, also written to $OUT/gpu_throughput.jsonl when OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$(mktemp -d)}
python3 -m venv .venv-gpu
pip_args=(--quiet)
[ -n "${WHEELS:-}" ] && pip_args+=(--no-index --find-links "$WHEELS")
tf=$(grep -E '^tensorflow==' requirements-lock.txt | cut -d= -f3)
.venv-gpu/bin/python -m pip install "${pip_args[@]}" -r requirements-lock.txt "tensorflow[and-cuda]==$tf"
.venv-gpu/bin/python -m pip install "${pip_args[@]}" --no-deps -e .
.venv-gpu/bin/python -c "import tensorflow as tf; gpus = tf.config.list_physical_devices('GPU'); print(gpus); assert gpus, 'TensorFlow sees no GPU'"
.venv-gpu/bin/python -m pytest -q -m "not slow" tests/test_layers.py tests/test_lstm.py tests/test_bilm.py \
    tests/test_elmo.py tests/test_train.py 2>&1 | tee "$out/gpu_tests.txt"
ELMO_QUICK=1 ELMO_FIGURES_DIR=$(mktemp -d) ELMO_RESULTS_DIR=$(mktemp -d) .venv-gpu/bin/python -m pytest -q \
    --nbval-lax notebooks/02_*.ipynb notebooks/03_*.ipynb notebooks/05_*.ipynb 2>&1 | tee -a "$out/gpu_tests.txt"
for preset in small original; do
  for policy in float32 mixed_bfloat16; do
    for jit in "" "--no-jit"; do
      .venv-gpu/bin/python benchmarks/train_throughput.py --preset "$preset" --dtype-policy "$policy" \
          $jit --warmup 5 --steps 30 --gemm-size 8192 | tail -n 1 | tee -a "$out/gpu_throughput.jsonl"
    done
  done
done
