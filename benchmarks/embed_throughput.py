"""Inference throughput of the biLM encoder (what ``elmo_lib.elmo.embed_file`` runs), tokens/s.

Builds a preset (``small`` by default: the published elmo_2x1024_128_2048cnn_1xhighway sizes) with
random weights, embeds a batch of synthetic sentences repeatedly, and prints ONE JSON line: tokens/s
(median and best batch), the time of the char CNN (fast path and the plain full-width computation)
and of the LSTMs measured separately, the end-to-end rate of ``embed_file`` on a synthetic file
(which computes the char CNN once per distinct token of the file, so it is faster than the
per-batch encoder), the float32 GEMM rate of ``tf.matmul`` in the same process, and machine info
(including the load average: other processes on the machine skew timings).

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/embed_throughput.py
    .venv/bin/python benchmarks/embed_throughput.py --preset original --batch-size 32 --threads 2

Sentences are drawn from a Zipfian vocabulary of 5,000 random lower-case pseudo-words (lengths
Poisson(4.5), at least 1), so words repeat about as often as in English text: the char CNN runs
once per distinct token of a batch, so this matters; ``--distinct`` makes every token distinct
(the worst case).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run from a checkout

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from machine import cpu_model, gemm_gflops  # noqa: E402  (benchmarks/machine.py)

from elmo_lib import bilm, text  # noqa: E402


def synthetic_sentences(batch_size: int, tokens: int, distinct: bool = False,
                        seed: int = 0) -> list[list[str]]:
    """``batch_size`` sentences of ``tokens`` pseudo-words (see the module docstring)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    if distinct:
        count = batch_size * tokens
        words = {"".join(rng.choice(letters, size=max(1, int(rng.poisson(4.5)) + 2)))
                 for _ in range(3 * count)}
        words = sorted(words)[:count]
        return [words[i * tokens:(i + 1) * tokens] for i in range(batch_size)]
    vocab = ["".join(rng.choice(letters, size=max(1, int(rng.poisson(4.5))))) for _ in range(5000)]
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    weights /= weights.sum()
    return [[vocab[i] for i in rng.choice(len(vocab), size=tokens, p=weights)]
            for _ in range(batch_size)]


def timed(function, *args, repeats: int) -> list[float]:
    """Seconds per call of ``function(*args)`` (results fetched), after one warm-up call."""
    tf.nest.map_structure(lambda t: t.numpy(), function(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), function(*args))
        times.append(time.perf_counter() - start)
    return times






def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small", choices=["tiny", "cpu", "small", "original"])
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per sentence")
    parser.add_argument("--threads", type=int, default=2, help="TF intra- and inter-op threads")
    parser.add_argument("--repeats", type=int, default=10, help="timed batches")
    parser.add_argument("--distinct", action="store_true", help="every token distinct")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-part timings")
    parser.add_argument("--file-sentences", type=int, default=640,
                        help="sentences of the embed_file run (0: skip it)")
    args = parser.parse_args(argv)

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(0)
    config = getattr(bilm.BiLMConfig, args.preset)()
    encoder = bilm.encoder_layer(bilm.build_encoder(config))
    sentences = synthetic_sentences(args.batch_size, args.tokens, args.distinct)
    char_ids = tf.constant(text.char_ids(sentences))
    n_tokens = args.batch_size * args.tokens
    spec = [tf.TensorSpec((None, None, config.max_characters_per_token), tf.int32)]

    # The full encoder, as embed_file runs it.
    run = tf.function(lambda ids: encoder(ids, training=False), input_signature=spec)
    start = time.perf_counter()
    run(char_ids)
    warmup = time.perf_counter() - start
    times = timed(run, char_ids, repeats=args.repeats)
    median = float(np.median(times))
    result = {
        "tokens_per_second": round(n_tokens / median, 1),
        "tokens_per_second_best": round(n_tokens / min(times), 1),
        "config": args.preset, "batch_size": args.batch_size, "tokens_per_sentence": args.tokens,
        "distinct_tokens": len({t for s in sentences for t in s}), "distinct": args.distinct,
        "threads": args.threads, "seconds_per_batch": round(median, 4),
        "warmup_seconds": round(warmup, 2), "repeats": args.repeats,
    }

    if not args.no_breakdown:
        # Each part on its own (same inputs as inside the encoder: <S>/</S> added).
        mask = encoder.token_mask(char_ids)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        with_boundaries = encoder.with_boundaries(char_ids, lengths)
        flat = tf.reshape(with_boundaries, (-1, config.max_characters_per_token))
        cnn = encoder.token_embedder
        fast = tf.function(cnn.token_vectors)
        plain = tf.function(cnn.token_vectors_reference)
        embedded = encoder.embed_tokens(with_boundaries)
        lstms = tf.function(lambda x, m: encoder.run_lstms(x, m))
        model_mask = encoder.token_mask(with_boundaries)
        part_repeats = max(3, args.repeats // 2)
        cnn_fast = float(np.median(timed(fast, flat, repeats=part_repeats)))
        cnn_plain = float(np.median(timed(plain, flat, repeats=part_repeats)))
        lstm = float(np.median(timed(lstms, embedded, model_mask, repeats=part_repeats)))
        result.update({
            "char_cnn_seconds": round(cnn_fast, 4), "char_cnn_plain_seconds": round(cnn_plain, 4),
            "char_cnn_speedup": round(cnn_plain / cnn_fast, 2), "lstm_seconds": round(lstm, 4),
            "char_cnn_fraction": round(cnn_fast / (cnn_fast + lstm), 3),
            # What the encoder would do with the plain char CNN (same run, same load).
            "tokens_per_second_plain_cnn_estimate": round(
                n_tokens / max(median - cnn_fast + cnn_plain, 1e-9), 1),
        })

    if args.file_sentences:
        # End to end: embed_file on a synthetic file (token table, batching, HDF5 writes).
        from elmo_lib import elmo

        lines = synthetic_sentences(args.file_sentences, args.tokens, args.distinct, seed=1)
        with tempfile.TemporaryDirectory() as tmp:
            source = pathlib.Path(tmp) / "input.txt"
            source.write_text("".join(" ".join(s) + "\n" for s in lines), encoding="utf-8")
            seconds = []
            for run in range(2):  # the first run includes tracing the functions
                start = time.perf_counter()
                elmo.embed_file(source, pathlib.Path(tmp) / f"out{run}.h5", encoder,
                                batch_size=args.batch_size, progress=False)
                seconds.append(time.perf_counter() - start)
        result.update({"embed_file_sentences": args.file_sentences,
                       "embed_file_first_run_seconds": round(seconds[0], 2),
                       "embed_file_seconds": round(seconds[1], 2),
                       "embed_file_tokens_per_second": round(
                           args.file_sentences * args.tokens / seconds[1], 1)})

    result.update({
        "gemm_gflops": round(gemm_gflops(), 1), "cpu": cpu_model(), "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2), "tensorflow": tf.__version__,
        "keras": keras.__version__,
    })
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
