"""Training throughput of the biLM on this machine, against the float32 GEMM rate.

Builds a preset (``cpu`` by default), runs warm-up training steps (tracing + compilation), then
timed steps, and prints ONE JSON line: tokens/s, model FLOPs per token (counted analytically, see
:func:`model_flops_per_token`), achieved GFLOP/s, the float32 GEMM GFLOP/s of ``tf.matmul`` measured
in the same process, their ratio, and machine info.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/train_throughput.py --preset cpu
    .venv/bin/python benchmarks/train_throughput.py --batch-size 128 --no-jit --steps 10

Batches are synthetic by default (random char ids / token ids with the shapes of real batches; no
dataset needed). Random characters make every token distinct, which defeats the char CNN's
distinct-token shortcut, so ``--data wikitext-2`` (needs ``ELMO_DATA_DIR``) measures real batches.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run from a checkout

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from machine import cpu_model, gemm_gflops  # noqa: E402  (benchmarks/machine.py)

from elmo_lib import bilm, data, text, train  # noqa: E402


class StepClock(keras.callbacks.Callback):
    """Wall-clock times at the end of two training steps (0-based ``first``, ``last`` exclusive).

    Reading the loss waits for the step to finish, so ``times[1] - times[0]`` is the time of steps
    ``first .. last - 1`` of ONE ``fit`` call, without ``fit``'s set-up and tear-down (which took
    from 0 to ~10 s here, apparently the input pipeline's shutdown, and swamped short runs).
    """

    def __init__(self, first: int, last: int):
        super().__init__()
        self.first, self.last, self.times = first, last, []

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 in (self.first, self.last):
            float(logs["loss"])  # wait for the step
            self.times.append(time.perf_counter())


def model_flops_per_token(config: bilm.BiLMConfig) -> dict[str, float]:
    """Multiply-add FLOPs (2 per MAC) of one training step, per input token, by part.

    Forward pass: char CNN convolutions (valid, over ``max_characters_per_token`` slots), highway
    layers (2 matmuls each), the CNN projection, and for each direction and layer the LSTM input,
    recurrent and projection matmuls; the sampled softmax of both directions (true logit plus
    ``num_sampled`` candidates). The backward pass costs about twice the forward pass, so the
    training total is 3x the forward total. Element-wise ops are not counted.
    """
    c = config
    parts: dict[str, float] = {}
    if c.token_input == "chars":
        chars = c.max_characters_per_token
        parts["char_cnn"] = sum(2.0 * (chars - w + 1) * w * c.char_embedding_dim * n
                                for w, n in c.filters)
        width = sum(n for _, n in c.filters)
        parts["highway"] = c.n_highway * 2 * 2.0 * width * width
        parts["cnn_projection"] = 2.0 * width * c.projection_dim
    gates = 4 * c.lstm_dim
    per_layer = (2.0 * c.projection_dim * gates        # input matmul
                 + 2.0 * c.projection_dim * gates      # recurrent matmul
                 + 2.0 * c.lstm_dim * c.projection_dim)  # projection
    parts["lstm"] = 2 * c.n_layers * per_layer
    parts["sampled_softmax"] = 2 * 2.0 * c.projection_dim * (c.num_sampled + 1)
    forward = sum(parts.values())
    return {"forward": forward, "train": 3.0 * forward, **{k: v for k, v in parts.items()}}




def synthetic_dataset(config: bilm.BiLMConfig, seed: int = 0) -> tf.data.Dataset:
    """Endless batches shaped like ``elmo_lib.data.lm_dataset`` output (random ids, full mask)."""
    rng = np.random.default_rng(seed)
    b, t, c = config.batch_size, config.unroll_steps, config.max_characters_per_token
    batches = []
    for _ in range(4):
        lengths = rng.integers(3, 12, size=(b, t))
        chars = rng.integers(1, 257, size=(b, t, c), dtype=np.int32)
        chars[np.arange(c)[None, None, :] >= lengths[..., None]] = 261  # PAD + 1
        inputs = {"char_ids" if config.token_input == "chars" else "token_ids":
                  chars if config.token_input == "chars"
                  else rng.integers(0, config.vocab_size, size=(b, t), dtype=np.int32)}
        targets = {"next_token_ids": rng.integers(0, config.vocab_size, (b, t), dtype=np.int32),
                   "previous_token_ids": rng.integers(0, config.vocab_size, (b, t), dtype=np.int32),
                   "mask": np.ones((b, t), np.float32)}
        batches.append((inputs, targets))
    dataset = tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(
        lambda *xs: np.stack(xs), *batches))
    return dataset.repeat().prefetch(tf.data.AUTOTUNE)


def wikitext2_dataset(config: bilm.BiLMConfig) -> tuple[tf.data.Dataset, int]:
    """Endless WikiText-2 train batches (shuffled windows, or contiguous rows for
    ``config.stateful``) and the vocabulary size."""
    sentences = data.load_wikitext2("train")
    vocab = text.Vocabulary.from_corpus(sentences)
    make = data.lm_stateful_dataset if config.stateful else data.lm_dataset
    dataset = make(sentences, vocab, config.batch_size, config.unroll_steps, repeat=True,
                   include_token_ids=config.token_input == "words",
                   include_char_ids=config.token_input == "chars",
                   max_characters_per_token=config.max_characters_per_token)
    return dataset, len(vocab)




def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "small", "original"])
    parser.add_argument("--batch-size", type=int, help="override the preset's batch_size")
    parser.add_argument("--unroll-steps", type=int, help="override the preset's unroll_steps")
    parser.add_argument("--lstm-dim", type=int, help="override the preset's lstm_dim")
    parser.add_argument("--projection-dim", type=int, help="override the preset's projection_dim")
    parser.add_argument("--num-sampled", type=int, help="override the preset's num_sampled")
    parser.add_argument("--vocab-size", type=int, help="override the preset's vocab_size")
    parser.add_argument("--max-characters-per-token", type=int,
                        help="override the preset's max_characters_per_token")
    parser.add_argument("--no-jit", action="store_true", help="compile without XLA")
    parser.add_argument("--stateful", action="store_true",
                        help="stateful training (config.stateful; needs --data wikitext-2)")
    parser.add_argument("--data", choices=["synthetic", "wikitext-2"], default="synthetic")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (compilation)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--gemm-size", type=int, default=2048)
    parser.add_argument("--dtype-policy", default="float32",
                        help="Keras dtype policy, e.g. mixed_bfloat16 on a GPU (default: float32)")
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1")

    overrides = {name: getattr(args, name) for name in
                 ("batch_size", "unroll_steps", "lstm_dim", "projection_dim", "num_sampled",
                  "vocab_size", "max_characters_per_token") if getattr(args, name) is not None}
    if args.stateful:
        if args.data != "wikitext-2":
            parser.error("--stateful needs --data wikitext-2 (contiguous text)")
        overrides["stateful"] = True
    config = getattr(bilm.BiLMConfig, args.preset)(**overrides)
    if args.data == "wikitext-2":
        dataset, vocab_size = wikitext2_dataset(config)
        config = getattr(bilm.BiLMConfig, args.preset)(**{**overrides, "vocab_size": vocab_size})
    else:
        dataset = synthetic_dataset(config)
    keras.config.set_dtype_policy(args.dtype_policy)
    keras.utils.set_random_seed(0)
    trainer = bilm.BiLMTrainer(config, seed=0)
    trainer.build()  # creates the carried LSTM state of a stateful config outside the step
    # The optimizer training uses (Adam, exact global-norm clip, repeated sparse rows merged).
    trainer.compile(optimizer=train.make_optimizer(config), jit_compile=not args.no_jit)
    clock = StepClock(args.warmup, args.warmup + args.steps)
    start = time.perf_counter()
    history = trainer.fit(dataset, steps_per_epoch=args.warmup + args.steps, epochs=1, verbose=0,
                          callbacks=[clock])
    warmup_seconds = clock.times[0] - start
    seconds = clock.times[1] - clock.times[0]

    tokens = args.steps * config.batch_size * config.unroll_steps
    flops = model_flops_per_token(config)
    tokens_per_second = tokens / seconds
    achieved = tokens_per_second * flops["train"] / 1e9
    gemm = gemm_gflops(args.gemm_size)
    result = {
        "config": args.preset, "overrides": overrides, "jit_compile": not args.no_jit,
        "data": args.data,
        "batch_size": config.batch_size, "unroll_steps": config.unroll_steps,
        "tokens_per_second": round(tokens_per_second, 1),
        "train_flops_per_token": round(flops["train"]),
        "forward_flops_per_token_by_part": {k: round(v) for k, v in flops.items()
                                            if k not in ("forward", "train")},
        "achieved_gflops": round(achieved, 1), "gemm_gflops": round(gemm, 1),
        "fraction_of_gemm": round(achieved / gemm, 3),
        "step_seconds": round(seconds / args.steps, 4), "warmup_seconds": round(warmup_seconds, 1),
        "final_loss": round(float(history.history["loss"][-1]), 4),
        "cpu": cpu_model(), "cores": os.cpu_count(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "dtype_policy": args.dtype_policy,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
