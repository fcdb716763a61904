"""elmo_lib.cli: argument parsing, and a tiny train + evaluate run through main()."""

import json
import os
import subprocess
import sys

import pytest

from elmo_lib import cli

SENTENCES = ["the cat sat on the mat .", "a dog ran to the door .", "the cat saw the dog ."] * 12


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "embed"):
        assert command in out


def test_module_help_runs():
    result = subprocess.run([sys.executable, "-m", "elmo_lib.cli", "--help"], capture_output=True,
                            text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: elmo-lib" in result.stdout


@pytest.mark.parametrize("argv, message", [
    (["train"], "--output"),
    (["train", "--output", "x", "--preset", "huge"], "invalid choice"),
    (["train", "--output", "x", "--epochs", "0"], "positive integer"),
    (["embed", "in.txt", "out.hdf5", "--model", "m", "--top", "--all"], "not allowed"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_give_helpful_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_embed_options_parse():
    args = cli.build_parser().parse_args(["embed", "in.txt", "out.hdf5", "--model", "m"])
    assert args.output_layer == "all" and args.batch_size == 64
    args = cli.build_parser().parse_args(["embed", "in.txt", "out.hdf5", "--model", "m",
                                          "--average"])
    assert args.output_layer == "average"


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["embed", str(tmp_path / "none.txt"), str(tmp_path / "o.hdf5"),
                     "--model", str(tmp_path)])
    assert code == 1 and "none.txt" in capsys.readouterr().err
    code = cli.main(["evaluate", "--model", str(tmp_path), "--file", str(tmp_path / "x.txt")])
    assert code == 1 and "config.json" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_train_then_evaluate(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    code = cli.main(["train", "--train-file", str(corpus), "--valid-file", str(corpus),
                     "--preset", "tiny", "--lstm-dim", "8", "--batch-size", "4",
                     "--unroll-steps", "5", "--num-sampled", "4", "--epochs", "2", "--no-jit",
                     "--output", str(run), "--verbose", "0", "--strategy", "mirrored"])
    assert code == 0
    out = capsys.readouterr().out
    assert "strategy: mirrored, 1 replica(s)" in out  # one CPU device here: the plumbing runs
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["epochs"] == 2 and summary["valid"]["tokens"] > 0
    config = json.loads((run / "config.json").read_text())
    assert config["lstm_dim"] == 8 and config["batch_size"] == 4
    assert config["vocab_size"] == len((run / "vocab.txt").read_text().split("\n")) - 1
    assert (run / "perplexity.json").is_file() and (run / "best.weights.h5").is_file()

    code = cli.main(["evaluate", "--model", str(run), "--file", str(corpus)])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["forward"] == pytest.approx(summary["valid"]["forward"], rel=1e-4)
    assert result["mean"] == pytest.approx(0.5 * (result["forward"] + result["backward"]))
    assert result["protocol"] == "windows"

    code = cli.main(["evaluate", "--model", str(run), "--file", str(corpus),
                     "--protocol", "stream", "--streams", "8"])
    assert code == 0
    stream = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stream["protocol"] == "stream" and stream["tokens"] == result["tokens"]
    assert stream["forward"] == pytest.approx(summary["valid_stream"]["forward"], rel=1e-4)
    assert stream["forward"] != pytest.approx(result["forward"], rel=1e-3)


def test_multi_worker_without_tf_config_names_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    code = cli.main(["train", "--train-file", str(corpus), "--output", str(tmp_path / "run"),
                     "--strategy", "multi_worker"])
    assert code == 1
    assert "TF_CONFIG" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing was written


@pytest.mark.parametrize("extra, message", [
    (["--train-shards", "x*"], "--steps-per-epoch"),
    (["--train-shards", "x*", "--train-file", "y.txt", "--steps-per-epoch", "2"], "not both"),
    (["--valid-file", "v.txt"], "--valid-file needs"),
])
def test_train_data_options_are_checked(extra, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--output", "x", *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_too_little_data_is_one_line_with_the_counts(tmp_path, capsys):
    """Issue 18, part 2: --train-file and --train-shards on a corpus smaller than one batch."""
    small = tmp_path / "small.txt"
    small.write_text("a a a a a a a a\n", encoding="utf-8")
    for source in (["--train-file", str(small)],
                   ["--train-shards", str(tmp_path / "small*"), "--steps-per-epoch", "3"]):
        code = cli.main(["train", *source, "--preset", "tiny", "--epochs", "1",
                         "--output", str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert code == 1, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert "1 window(s)" in err and "10 stream tokens" in err and "batch_size=8" in err


def test_tensorflow_runtime_errors_become_one_line(capsys, monkeypatch):
    """Issue 18, part 4: an error TensorFlow raises inside a graph (multi-line, with a trace)
    is an expected error: one line on stderr, exit 1."""
    import tensorflow as tf

    def fail(args):
        raise tf.errors.InvalidArgumentError(None, None, "indices[0,1] = 9 is not in [0, 5)\n"
                                             "\t [[{{node GatherV2}}]]\nCall stack: ...")

    monkeypatch.setattr(cli, "_embed", fail)
    code = cli.main(["embed", "in.txt", "out.hdf5", "--model", "m"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == "elmo-lib embed: error: indices[0,1] = 9 is not in [0, 5)\n"


def test_embed_and_evaluate_take_a_preset(tmp_path, capsys):
    """`--model` accepts a preset name or directory (the shipped biLM), not only a run directory."""
    import h5py
    import numpy as np

    import elmo_lib as el

    source = tmp_path / "two.txt"
    source.write_text("The play opened .\nA record deal .\n", encoding="utf-8")
    assert cli.main(["embed", str(source), str(tmp_path / "v.hdf5"), "--model", "wikitext2_cpu",
                     "--top"]) == 0
    encoder = el.bilm.BiLMEncoder.from_preset("wikitext2_cpu")
    expected = encoder(el.text.char_ids([["The", "play", "opened", "."]]))["lstm_outputs2"][0]
    with h5py.File(tmp_path / "v.hdf5", "r") as handle:
        np.testing.assert_allclose(handle["0"][...], np.asarray(expected), rtol=1e-5, atol=1e-5)
    corpus = tmp_path / "text.txt"
    corpus.write_text("\n".join(SENTENCES[:6]) + "\n", encoding="utf-8")
    preset_dir = el.presets.resolve_preset("wikitext2_cpu")
    assert cli.main(["evaluate", "--model", str(preset_dir), "--file", str(corpus)]) == 0
    assert cli.main(["embed", str(source), str(tmp_path / "w.hdf5"), "--model", "no_such"]) == 1
    assert "unknown preset 'no_such'" in capsys.readouterr().err
