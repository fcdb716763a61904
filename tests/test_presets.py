"""elmo_lib.presets: export a run into a preset, load it by name or directory, download it from a
local HTTP server with sha256 checks (tiny models; no internet)."""

import functools
import hashlib
import http.server
import json
import pathlib
import shutil
import subprocess
import sys
import threading

import h5py
import keras
import numpy as np
import pytest

from elmo_lib import bilm, data, elmo, model_card, presets, text, train

WORDS = "the cat sat on a mat . a dog ran to the red door and the cat saw it".split()
NAME = "tiny_test_preset"  # not in the package registry nor in the repo's models/


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny run directory of train_bilm (2 epochs x 3 steps) plus a perplexity.json."""
    rng = np.random.default_rng(0)
    sentences = [WORDS[: rng.integers(6, len(WORDS))] for _ in range(40)]
    vocab = text.Vocabulary.from_corpus(sentences)
    config = bilm.BiLMConfig.tiny(vocab_size=len(vocab), num_sampled=8, batch_size=4,
                                  unroll_steps=6)
    out = tmp_path_factory.mktemp("run")
    trainer, _ = train.train_bilm(config, sentences, sentences[:8], vocab=vocab, output_dir=out,
                                  epochs=2, steps_per_epoch=3, jit_compile=False, verbose=0)
    valid = train.evaluate_perplexity(trainer, sentences[:8], vocab=vocab, verbose=0)
    marker = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**marker, "command": f"elmo-lib train --output {out}"}))
    (out / "perplexity.json").write_text(json.dumps(
        {"output": str(out), "stopped_by": "epochs", "valid": valid, "test": valid,
         "valid_stream": valid, "test_stream": valid}))
    return out


@pytest.fixture()
def preset(run_dir, tmp_path):
    """The run exported to tmp/models/tiny-test with its own registry file."""
    registry = tmp_path / "registry.json"
    preset_dir = tmp_path / "models" / "tiny-test"
    manifest = presets.export_preset(run_dir, preset_dir, name=NAME, description="a tiny test",
                                     registry=registry, training_command="pytest",
                                     machine="the test machine")
    return preset_dir, registry, manifest


@pytest.fixture()
def server(preset):
    """An HTTP server on 127.0.0.1 serving tmp/models/ (the role of raw.githubusercontent.com)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    root = preset[0].parent
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _windows(config, vocab):
    sentences = [WORDS[:9], WORDS[3:15]]
    x, y = next(iter(data.lm_dataset(sentences, vocab, 2, config.unroll_steps, shuffle=False)))
    return x, y


def test_round_trip_gives_identical_weights_hidden_states_and_logits(run_dir, preset):
    original, vocab = train.load_trained(run_dir)
    loaded, loaded_vocab = presets.load_trainer(preset[0])
    assert loaded_vocab.tokens == vocab.tokens and loaded.config == original.config
    for a, b in zip(original.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    x, _ = _windows(original.config, vocab)
    hidden_a, hidden_b = original(x, training=False), loaded(x, training=False)
    for direction in ("forward", "backward"):
        h_a = keras.ops.convert_to_numpy(hidden_a[direction])
        np.testing.assert_array_equal(h_a, keras.ops.convert_to_numpy(hidden_b[direction]))
        logits = keras.ops.convert_to_numpy(loaded.softmax(hidden_b[direction]))
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(original.softmax(hidden_a[direction])), logits)
        # the full softmax by hand, from the original run's weights
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in original.softmax.weights)
        np.testing.assert_allclose(logits, h_a @ kernel.T + bias, rtol=1e-5, atol=1e-5)
    # the inference encoder (boundaries added) equals the trainer's, via from_preset
    ids = text.char_ids([WORDS[:5], WORDS[2:4]])
    expected = bilm.encoder_from_trainer(original)(ids)
    found = bilm.BiLMEncoder.from_preset(preset[0])(ids)
    for key in ("word_emb", "lstm_outputs1", "lstm_outputs2"):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(expected[key]),
                                      keras.ops.convert_to_numpy(found[key]))
    assert isinstance(bilm.BiLMTrainer.from_preset(preset[0]), bilm.BiLMTrainer)


def test_softmax_file_holds_bilm_tf_names_and_the_trainer_arrays(run_dir, preset):
    original, _ = train.load_trained(run_dir)
    with h5py.File(preset[0] / "softmax.hdf5", "r") as handle:
        np.testing.assert_array_equal(handle["softmax/W"][...],
                                      keras.ops.convert_to_numpy(original.softmax.kernel))
        np.testing.assert_array_equal(handle["softmax/b"][...],
                                      keras.ops.convert_to_numpy(original.softmax.bias))
        assert handle["softmax/W"].dtype == np.float32


def test_manifest_and_registry_sha256_equal_hashlib(run_dir, preset):
    preset_dir, registry, manifest = preset
    expected = {"options.json", "weights.hdf5", "softmax.hdf5", "vocab.txt", "config.json",
                "history.json", "perplexity.json", "run.json", "MODEL_CARD.md"}
    assert set(manifest["files"]) == expected
    assert {oct(p.stat().st_mode & 0o777) for p in preset_dir.iterdir()} == {"0o644"}
    entry = json.loads(registry.read_text())["presets"][NAME]
    assert entry["directory"] == "tiny-test" and set(entry["files"]) == expected | {"preset.json"}
    for name, info in entry["files"].items():
        content = (preset_dir / name).read_bytes()
        assert info["sha256"] == hashlib.sha256(content).hexdigest(), name
        assert info["bytes"] == len(content), name
        if name != "preset.json":
            assert manifest["files"][name] == info
    # an absolute path of the run directory does not travel into the preset
    assert json.loads((preset_dir / "perplexity.json").read_text())["output"] == run_dir.name
    assert json.loads((preset_dir / "run.json").read_text())["command"] == \
        f"elmo-lib train --output {run_dir.name}"


def test_model_card_numbers_come_from_the_run(run_dir, preset):
    preset_dir, _, manifest = preset
    card = (preset_dir / "MODEL_CARD.md").read_text()
    config = bilm.BiLMConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    history = json.loads((run_dir / "history.json").read_text())
    tokens = sum(r["steps"] for r in history) * config.batch_size * config.unroll_steps
    assert tokens == 2 * 3 * 4 * 6 and f"tokens seen: {tokens:,}" in card
    encoder = bilm.count_parameters(config)
    softmax = config.vocab_size * (config.projection_dim + 1)
    assert manifest["parameters"] == {"encoder": encoder, "softmax": softmax,
                                      "total": encoder + softmax}
    assert f"encoder {encoder:,}, softmax {softmax:,}" in card
    valid = json.loads((run_dir / "perplexity.json").read_text())["valid"]
    assert f"| valid | stream | {valid['tokens']:,} | {valid['forward']:.1f} |" in card
    assert "CC BY-SA 3.0" in card and "command: `pytest`" in card
    for name, info in manifest["files"].items():
        if name != model_card.CARD_FILE:
            assert f"| `{name}` | {info['bytes']:,} | `{info['sha256']}` |" in card


def test_download_from_local_server_is_verified_and_loads(preset, server, tmp_path, monkeypatch):
    monkeypatch.delenv(presets.MODELS_DIR_ENV, raising=False)
    preset_dir, registry, _ = preset
    cache = tmp_path / "cache"
    found = presets.resolve_preset(NAME, base_url=server, cache_dir=cache, registry=registry)
    assert found != preset_dir and cache in found.parents
    for name in json.loads(registry.read_text())["presets"][NAME]["files"]:
        assert (found / name).read_bytes() == (preset_dir / name).read_bytes()
    (found / "weights.hdf5").write_bytes(b"stale")  # a cached file that no longer checks out
    assert presets.resolve_preset(NAME, base_url=server, cache_dir=cache, registry=registry) == found
    assert (found / "weights.hdf5").read_bytes() == (preset_dir / "weights.hdf5").read_bytes()
    a, _ = presets.load_trainer(preset_dir)
    b, _ = presets.load_trainer(NAME, base_url=server, cache_dir=cache, registry=registry)
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)


def test_wrong_checksum_is_an_error_and_leaves_no_file(preset, server, tmp_path, monkeypatch):
    monkeypatch.delenv(presets.MODELS_DIR_ENV, raising=False)
    registry = json.loads(preset[1].read_text())
    registry["presets"][NAME]["files"]["vocab.txt"]["sha256"] = "0" * 64
    cache = tmp_path / "cache"
    with pytest.raises(ValueError) as error:
        presets.resolve_preset(NAME, base_url=server, cache_dir=cache, registry=registry)
    message = str(error.value)
    assert NAME in message and f"{server}/tiny-test/vocab.txt" in message and "0" * 64 in message
    assert not list(cache.rglob("vocab.txt"))


def test_missing_file_names_preset_places_and_url(preset, server, tmp_path, monkeypatch):
    monkeypatch.setenv(presets.MODELS_DIR_ENV, str(tmp_path / "elsewhere"))
    (preset[0] / "softmax.hdf5").unlink()  # the server now answers 404 for it
    with pytest.raises(OSError) as error:
        presets.resolve_preset(NAME, base_url=server, cache_dir=tmp_path / "cache",
                               registry=preset[1])
    message = str(error.value)
    assert NAME in message and f"{server}/tiny-test/softmax.hdf5" in message
    assert str(tmp_path / "elsewhere" / "tiny-test") in message and "404" in message


def test_models_dir_env_is_searched_and_checked(preset, monkeypatch):
    preset_dir, registry, _ = preset
    monkeypatch.setenv(presets.MODELS_DIR_ENV, str(preset_dir.parent))
    assert presets.resolve_preset(NAME, registry=registry) == preset_dir
    assert presets.resolve_preset("tiny-test", registry=registry) == preset_dir  # by directory
    with (preset_dir / "vocab.txt").open("a") as handle:
        handle.write("extra\n")
    with pytest.raises(ValueError, match=r"vocab\.txt has sha256 .* expected"):
        presets.resolve_preset(NAME, registry=registry)


def test_unknown_name_lists_known_presets_and_places(tmp_path, monkeypatch):
    monkeypatch.setenv(presets.MODELS_DIR_ENV, str(tmp_path))
    with pytest.raises(ValueError) as error:
        presets.resolve_preset("no_such_model")
    message = str(error.value)
    assert "'no_such_model'" in message and str(tmp_path / "no_such_model") in message
    for name in presets.ALLENNLP_PRESETS:
        assert name in message


def test_allennlp_presets_are_urls_without_checksums_and_encoder_only():
    names = list(presets.list_presets())
    assert names[-4:] == ["allennlp_small", "allennlp_medium", "allennlp_original",
                          "allennlp_original_5.5B"]
    for name, entry in presets.ALLENNLP_PRESETS.items():
        stem = entry["options"].rsplit("/", 2)[1]
        assert entry["options"].endswith(f"/{stem}/elmo_{stem}_options.json"), name
        assert entry["weights"].endswith(f"/{stem}/elmo_{stem}_weights.hdf5"), name
        assert entry["sha256"] is None
        assert "not checksum-verified" in presets.list_presets()[name]
    with pytest.raises(ValueError, match="no softmax"):
        bilm.BiLMTrainer.from_preset("allennlp_small")
    with pytest.raises(ValueError, match="no vocabulary"):
        presets.load_vocabulary("allennlp_small")


def test_elmo_from_preset_is_frozen_with_a_trainable_mix(run_dir, preset):
    layer = elmo.ELMo.from_preset(preset[0], output_mode="elmo")
    ids = text.char_ids([WORDS[:4]])
    vectors = keras.ops.convert_to_numpy(layer(ids))
    # trainable: the mix's 3 layer weights s and gamma, nothing of the biLM
    assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == 3 + 1
    assert len(layer.non_trainable_weights) == len(layer.encoder.weights)
    original, _ = train.load_trained(run_dir)
    out = bilm.encoder_from_trainer(original)(ids)
    word = keras.ops.convert_to_numpy(out["word_emb"])
    layers = [np.concatenate([word, word], -1)] + [
        keras.ops.convert_to_numpy(out[f"lstm_outputs{k}"]) for k in (1, 2)]
    np.testing.assert_allclose(vectors, np.mean(layers, axis=0), rtol=1e-5, atol=1e-6)


def test_export_refuses_to_overwrite_and_a_failed_export_leaves_nothing(run_dir, preset, tmp_path):
    preset_dir, registry, _ = preset
    with pytest.raises(FileExistsError, match="overwrite"):
        presets.export_preset(run_dir, preset_dir, name=NAME, registry=None)
    target = tmp_path / "models" / "too-big"
    with pytest.raises(ValueError, match="max_megabytes"):
        presets.export_preset(run_dir, target, name="big", registry=registry, max_megabytes=0.001)
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny-test"]
    assert "big" not in json.loads(registry.read_text())["presets"]


def test_options_and_config_must_agree(preset):
    preset_dir = preset[0]
    config = json.loads((preset_dir / "config.json").read_text())
    config["lstm_dim"] = 16
    (preset_dir / "config.json").write_text(json.dumps(config))
    manifest = json.loads((preset_dir / "preset.json").read_text())
    manifest["files"]["config.json"]["sha256"] = presets.sha256_file(preset_dir / "config.json")
    (preset_dir / "preset.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"different models \(keys that differ: \['lstm'\]"):
        presets.load_trainer(preset_dir)
    (preset_dir / "preset.json").unlink()  # not a preset directory any more
    with pytest.raises(FileNotFoundError, match="preset.json not found"):
        presets.load_trainer(preset_dir)


def test_export_script_writes_a_preset(run_dir, tmp_path):
    script = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "export_preset.py"
    target = tmp_path / "models" / "by-script"
    result = subprocess.run([sys.executable, str(script), str(run_dir), str(target), "--name",
                             "by_script", "--registry", str(tmp_path / "r.json")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["preset"] == "by_script"
    presets.verify_preset(target)


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_model_files_under_models_are_not_ignored_by_git():
    root = pathlib.Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    for path in ("models/p/weights.hdf5", "models/p/softmax.hdf5"):
        ignored = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", path])
        assert ignored.returncode == 1, path  # 1 = not ignored
    assert subprocess.run(["git", "-C", str(root), "check-ignore", "-q", "runs/w.h5"]
                          ).returncode == 0


def test_encoder_only_preset_loads_without_its_softmax(preset, tmp_path):
    """export_encoder_only drops softmax.hdf5 (and lists only what it copied, with sha256), gives
    the same encoder, and is refused where a softmax is needed (lessons 06-08's PRESET path)."""
    source = preset[0]
    target = presets.export_encoder_only(source, tmp_path / "encoder_only")
    manifest = presets.verify_preset(target)  # every listed file present with its sha256
    assert presets.SOFTMAX_FILE not in manifest["files"]
    assert not (target / presets.SOFTMAX_FILE).exists() and manifest["parameters"]["softmax"] == 0
    assert set(manifest["files"]) == set(json.loads((source / "preset.json").read_text())["files"]) - {
        presets.SOFTMAX_FILE}
    assert presets.has_softmax(source) and not presets.has_softmax(target)
    assert not presets.has_softmax("allennlp_small")  # published without a softmax: no download
    ids = text.char_ids([WORDS[:5]])
    ours, theirs = (bilm.BiLMEncoder.from_preset(p)(ids) for p in (source, target))
    for key in ("word_emb", "lstm_outputs1", "lstm_outputs2"):
        np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(theirs[key]))
    with pytest.raises(ValueError, match="has no softmax"):
        presets.load_trainer(target)
    with pytest.raises(FileExistsError, match="encoder_only exists"):
        presets.export_encoder_only(source, target)
