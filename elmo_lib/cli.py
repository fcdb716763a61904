"""The ``elmo-lib`` command: ``train`` a biLM, ``evaluate`` its perplexity, ``embed`` a text file.

    elmo-lib train --preset cpu --minutes 60 --output runs/cpu_wikitext2
    elmo-lib evaluate --model runs/cpu_wikitext2 --split test
    elmo-lib embed sentences.txt vectors.hdf5 --model runs/cpu_wikitext2 --average

Corpora are WikiText-2 (``--dataset wikitext-2``, found through ``ELMO_DATA_DIR``) or plain text
files with one whitespace-tokenized sentence per line (``--train-file``/``--valid-file``/``--file``,
or ``--train-shards GLOB`` for a corpus in many files, streamed). ``--strategy mirrored`` trains on
every GPU of the host, ``--strategy multi_worker`` on several hosts (``TF_CONFIG``; see
``docs/full_size_training.md``).
Also runs as ``python -m elmo_lib.cli``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from collections.abc import Sequence

PRESETS = ("tiny", "cpu", "small", "original")
DATASETS = ("wikitext-2",)
# Command-line flag -> BiLMConfig field, for the overrides of `train`.
_OVERRIDES = {"lstm_dim": int, "projection_dim": int, "n_layers": int, "batch_size": int,
              "unroll_steps": int, "num_sampled": int, "max_characters_per_token": int,
              "learning_rate": float, "dropout": float, "clip_norm": float}


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, received {value}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be positive, received {value}")
    return number


def read_sentences(path: str | os.PathLike) -> list[list[str]]:
    """One sentence per line of a UTF-8 file, tokens by ``elmo_lib.text.split_tokens`` (Unicode
    whitespace; lines end at ``"\\n"`` only); lines without tokens are skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line that is not UTF-8 (the message names the file and line).
    """
    from elmo_lib import text  # pure Python: cheap

    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    sentences = []
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            tokens = text.split_tokens(line.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}, line {number}: invalid UTF-8 ({error.reason})") from error
        if tokens:
            sentences.append(tokens)
    return sentences


def _corpus(dataset: str | None, file: str | None, split: str) -> list[list[str]]:
    if file:
        return read_sentences(file)
    from elmo_lib import data  # lazy: keeps `--help` fast
    if dataset == "wikitext-2":
        return data.load_wikitext2(split)
    raise ValueError(f"unknown dataset {dataset!r}; choose from {DATASETS} or pass a file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elmo-lib", description="Train, evaluate and use ELMo biLMs (elmo_lib).",
        epilog="Run `elmo-lib COMMAND --help` for the options of a command.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train a biLM language model",
                                description="Train a biLM; resumes if OUTPUT has a backup/.")
    source = train.add_argument_group("data")
    source.add_argument("--dataset", default="wikitext-2", choices=DATASETS,
                        help="registered corpus (default: %(default)s)")
    source.add_argument("--train-file", help="text file (one tokenized sentence per line) "
                        "instead of --dataset")
    source.add_argument("--train-shards", metavar="GLOB",
                        help="many text files (e.g. 'news.en-000??-of-00100'), streamed and split "
                        "between workers by file; the vocabulary is counted file by file; needs "
                        "--steps-per-epoch")
    source.add_argument("--valid-file", help="validation text file (with --train-file or "
                        "--train-shards)")
    source.add_argument("--max-vocab", type=_positive_int,
                        help="cap the vocabulary (most frequent tokens, specials included)")
    source.add_argument("--min-count", type=_positive_int, default=1,
                        help="drop tokens seen fewer times (default: 1; the published ELMo "
                        "vocabulary is --min-count 3 on the 1B Word Benchmark)")
    model = train.add_argument_group("model (a preset, then overrides)")
    model.add_argument("--preset", default="cpu", choices=PRESETS,
                       help="BiLMConfig preset (default: %(default)s)")
    for name, kind in _OVERRIDES.items():
        model.add_argument("--" + name.replace("_", "-"), type=kind, dest=name,
                           help=f"override config.{name}")
    model.add_argument("--stateful", action="store_true", default=None,
                       help="carry the LSTM state from batch to batch, as bilm-tf "
                       "(config.stateful; default: shuffled windows from a zero state)")
    fit = train.add_argument_group("training")
    fit.add_argument("--output", required=True, help="run directory (config, vocab, weights, history)")
    fit.add_argument("--epochs", type=_positive_int, default=10, help="maximum epochs (default: 10)")
    fit.add_argument("--steps-per-epoch", type=_positive_int,
                     help="batches per epoch (default: one pass over the training data)")
    fit.add_argument("--validation-steps", type=_positive_int,
                     help="batches per validation (default: all)")
    fit.add_argument("--minutes", type=_positive_float, help="wall-clock time budget")
    fit.add_argument("--patience", type=_positive_int, default=3,
                     help="early-stopping patience in epochs (default: 3)")
    fit.add_argument("--optimizer", default="adam", choices=("adam", "adagrad"))
    fit.add_argument("--schedule", default="constant", choices=("constant", "cosine", "time_cosine"),
                     help="learning-rate schedule: cosine decays over epochs x steps, "
                     "time_cosine over --minutes")
    fit.add_argument("--warmup-steps", type=int, default=0, help="warm-up steps (cosine only)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--no-jit", action="store_true", help="do not XLA-compile the train step")
    fit.add_argument("--strategy", default="default",
                     choices=("default", "mirrored", "multi_worker"),
                     help="tf.distribute strategy: mirrored = every GPU of this host; "
                     "multi_worker = several hosts, each run with its own TF_CONFIG (only worker "
                     "0 writes OUTPUT; see docs/full_size_training.md)")
    fit.add_argument("--log-every", type=_positive_int, help="print loss every N steps")
    fit.add_argument("--no-test", action="store_true",
                     help="skip the final full-softmax perplexity on valid and test")
    fit.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                     help="0 silent, 1 progress bar, 2 one line per epoch")

    evaluate = commands.add_parser("evaluate", help="full-softmax perplexity of a trained biLM")
    evaluate.add_argument("--model", required=True,
                          help="run directory written by `train`, or a preset (e.g. wikitext2_cpu)")
    evaluate.add_argument("--split", default="test", choices=("train", "valid", "test"))
    evaluate.add_argument("--dataset", default="wikitext-2", choices=DATASETS)
    evaluate.add_argument("--file", help="text file to evaluate instead of --dataset/--split")
    evaluate.add_argument("--steps", type=_positive_int,
                          help="only the first N batches (windows protocol)")
    evaluate.add_argument("--protocol", default="windows", choices=("windows", "stream"),
                          help="windows: unroll_steps-token windows from a zero state (as in "
                          "training); stream: the LSTM state carried through the text (bilm-tf's "
                          "test). Default: %(default)s")
    evaluate.add_argument("--streams", type=_positive_int, default=8,
                          help="parallel pieces of the text for --protocol stream (default: 8)")

    embed = commands.add_parser("embed", help="ELMo vectors of a text file into HDF5",
                                description="One tokenized sentence per line in INPUT; writes "
                                "the ELMo vectors of each sentence to OUTPUT (HDF5).")
    embed.add_argument("input", metavar="INPUT.txt")
    embed.add_argument("output", metavar="OUTPUT.hdf5")
    embed.add_argument("--model", required=True,
                       help="run directory written by `train`, or a preset (e.g. wikitext2_cpu)")
    layers = embed.add_mutually_exclusive_group()
    for flag, mode in (("--all", "all"), ("--top", "top"), ("--average", "average")):
        layers.add_argument(flag, dest="output_layer", action="store_const", const=mode,
                            help=f"output_layer={mode!r}" + (" (default)" if mode == "all" else ""))
    embed.add_argument("--batch-size", type=_positive_int, default=64)
    embed.add_argument("--overwrite", action="store_true",
                       help="replace an OUTPUT (or OUTPUT.partial) that embed did not write")
    embed.set_defaults(output_layer="all")
    return parser


def _train(args, parser) -> dict:
    from elmo_lib import atomic, bilm, corpus, data, distribute, text, train  # lazy: TF loads

    if args.train_file and args.train_shards:
        parser.error("give --train-file or --train-shards, not both")
    if args.valid_file and not (args.train_file or args.train_shards):
        parser.error("--valid-file needs --train-file or --train-shards")
    if args.train_shards and not args.steps_per_epoch:
        parser.error("--train-shards needs --steps-per-epoch (the stream has no end)")
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op.
    strategy = None
    if args.strategy != "default":
        strategy = distribute.make_strategy(args.strategy)  # ValueError without TF_CONFIG
        print(f"strategy: {args.strategy}, {strategy.num_replicas_in_sync} replica(s)", flush=True)
    chief = not distribute.is_multi_worker(strategy) or distribute.is_chief()
    own_files = bool(args.train_file or args.train_shards)
    if own_files:
        valid_sentences = read_sentences(args.valid_file) if args.valid_file else None
    else:
        valid_sentences = _corpus(args.dataset, None, "valid")
    stream_tokens: dict[str, int] = {}
    if args.train_shards:  # counted file by file; every worker counts the same files
        vocab = corpus.streaming_vocabulary(args.train_shards, args.min_count, args.max_vocab,
                                            stream_tokens=stream_tokens)
    else:
        train_data = _corpus(args.dataset, args.train_file, "train")  # sentences
        vocab = text.Vocabulary.from_corpus(train_data, args.min_count, args.max_vocab)
    overrides = {k: getattr(args, k) for k in (*_OVERRIDES, "stateful")
                 if getattr(args, k) is not None}
    config = getattr(bilm.BiLMConfig, args.preset)(**{**overrides, "vocab_size": len(vocab)})
    print(f"config: {json.dumps(config.to_dict())}", flush=True)
    if args.train_shards:  # streamed, this worker's files only (TF_CONFIG), endless
        own = corpus.worker_shards(args.train_shards)
        windows = corpus.count_windows(stream_tokens, config.unroll_steps, own)
        if windows < config.batch_size:  # else the endless stream would never yield a batch
            raise ValueError(data.too_little_data(
                windows, sum(stream_tokens[f] for f in own), config.batch_size,
                config.unroll_steps, where=f"--train-shards ({len(own)} file(s) of this worker)"))
        train_data = corpus.sharded_lm_dataset(
            args.train_shards, vocab, config.batch_size, config.unroll_steps, seed=args.seed,
            repeat=True, include_char_ids=config.token_input == "chars",
            include_token_ids=config.token_input == "words")

    start = time.monotonic()
    trainer, history = train.train_bilm(
        config, train_data, valid_sentences, vocab=vocab, output_dir=args.output,
        epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
        validation_steps=args.validation_steps, jit_compile=not args.no_jit, seed=args.seed,
        strategy=strategy,
        patience=args.patience, time_budget_minutes=args.minutes, optimizer=args.optimizer,
        schedule=args.schedule, warmup_steps=args.warmup_steps, log_every=args.log_every,
        verbose=args.verbose)
    records = history["epochs"]
    summary = {"output": str(args.output), "stopped_by": history["stopped_by"],
               "epochs": len(records), "fit_seconds": round(time.monotonic() - start, 1),
               "train_seconds": round(records[-1]["elapsed_seconds"], 1) if records else 0.0}
    if records:  # wall-clock rate over all epochs (validation included)
        tokens = sum(r["steps"] for r in records) * config.batch_size * config.unroll_steps
        summary["train_tokens"] = tokens
        summary["tokens_per_second"] = round(tokens / sum(r["epoch_seconds"] for r in records), 1)
    if not chief:  # this worker's files are in OUTPUT/workers/<index>; the chief evaluates
        summary["output"] = str(distribute.worker_output_dir(args.output))
    elif not args.no_test:
        splits = {"valid": valid_sentences}
        if not own_files:
            splits["test"] = _corpus(args.dataset, None, "test")
        for split, sentences in splits.items():
            if sentences:
                summary[split] = train.evaluate_perplexity(trainer, sentences, vocab=vocab,
                                                           verbose=args.verbose)
                summary[f"{split}_stream"] = train.evaluate_stream_perplexity(
                    trainer, sentences, vocab=vocab, verbose=args.verbose)
        atomic.write_json(pathlib.Path(args.output) / "perplexity.json", summary)
    return summary


def _load_trainer(model: str):
    """``(trainer, vocab)`` from a run directory of ``train``, or a preset (directory or name)."""
    from elmo_lib import presets, train

    path = pathlib.Path(model)
    if path.is_dir() and not (path / presets.MANIFEST).exists():
        return train.load_trained(path)
    return presets.load_trainer(model)


def _evaluate(args) -> dict:
    from elmo_lib import train

    trainer, vocab = _load_trainer(args.model)
    sentences = _corpus(args.dataset, args.file, args.split)
    if args.protocol == "stream":
        if args.steps is not None:
            raise ValueError("--steps applies to --protocol windows only")
        result = train.evaluate_stream_perplexity(trainer, sentences, vocab=vocab,
                                                  n_streams=args.streams)
    else:
        result = train.evaluate_perplexity(trainer, sentences, args.steps, vocab=vocab)
    return {"model": str(args.model), "data": args.file or f"{args.dataset}/{args.split}",
            "protocol": args.protocol, **result}


def _embed(args) -> dict:
    from elmo_lib import elmo  # written alongside; imported only when embedding

    if not pathlib.Path(args.input).is_file():
        raise FileNotFoundError(f"{args.input}: no such file")
    elmo.embed_file(args.input, args.output, args.model, output_layer=args.output_layer,
                    batch_size=args.batch_size, overwrite=args.overwrite)
    return {"input": args.input, "output": args.output, "output_layer": args.output_layer}


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's input, files or model (one line, exit 1), not our bugs:
    ``ValueError`` (bad input, wrong model, too little data), ``OSError`` (missing, unreadable or
    unwritable files) and TensorFlow's runtime errors (bad values met inside a graph)."""
    errors: list[type[BaseException]] = [OSError, ValueError]
    tf = sys.modules.get("tensorflow")  # only loaded by the commands that compute
    if tf is not None:
        errors.append(tf.errors.OpError)
    return tuple(errors)


def _one_line(error: BaseException) -> str:
    """The error's message on one line (TensorFlow's carry a graph trace after the first)."""
    message = getattr(error, "message", None) if not isinstance(error, OSError) else None
    lines = [line.strip() for line in str(message or error).splitlines() if line.strip()]
    if message is not None:  # a TF OpError: its first line is the message
        lines = lines[:1]
    return " ".join(lines) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 on success).

    Every expected error (bad input, missing file, wrong model, too little data: see
    ``_expected_errors``) prints one line ``elmo-lib <command>: error: ...`` on stderr and returns
    1; ``argparse`` usage errors exit 2."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            result = _train(args, parser)
        elif args.command == "evaluate":
            result = _evaluate(args)
        else:
            result = _embed(args)
    except Exception as error:  # expected kinds only: the rest re-raise
        if not isinstance(error, _expected_errors()):
            raise
        print(f"elmo-lib {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
