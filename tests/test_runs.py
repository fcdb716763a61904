"""elmo_lib.runs: run.json decides load-or-train, another model's directory is refused, progress
lines (tiny models, a few steps)."""

import json

import keras
import numpy as np
import pytest

from elmo_lib import bilm, runs, text, train

WORDS = "the cat sat on a mat . a dog ran to the red door and the cat saw it".split()
STEPS = 3


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    sentences = [WORDS[: rng.integers(6, len(WORDS))] for _ in range(40)]
    return sentences, text.Vocabulary.from_corpus(sentences)


def tiny(vocab, **overrides):
    return bilm.BiLMConfig.tiny(vocab_size=len(vocab), num_sampled=8, batch_size=4,
                                unroll_steps=6, **overrides)


class Interrupt(keras.callbacks.Callback):
    """A killed run: raises in epoch ``epoch`` after one batch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.model.optimizer.iterations.numpy() > self.epoch * STEPS:
            raise KeyboardInterrupt("simulated interruption")


class CountSteps(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def _train(config, sentences, vocab, out, **kwargs):
    return train.train_bilm(config, sentences, sentences[:8], vocab=vocab, output_dir=out,
                            epochs=2, steps_per_epoch=STEPS, jit_compile=False, verbose=0,
                            **kwargs)


def test_unfinished_run_resumes_then_a_finished_run_loads(corpus, tmp_path):
    sentences, vocab = corpus
    config = tiny(vocab)
    with pytest.raises(KeyboardInterrupt):
        _train(config, sentences, vocab, tmp_path, callbacks=[Interrupt(epoch=1)])
    assert (tmp_path / "config.json").is_file() and not (tmp_path / runs.MARKER).exists()
    assert runs.check_output_dir(tmp_path, config, vocab) == "unfinished"

    counter = CountSteps()
    trainer, run = runs.load_or_train(tmp_path, config, sentences, sentences[:8], vocab=vocab,
                                      epochs=2, steps_per_epoch=STEPS, jit_compile=False,
                                      verbose=0, callbacks=[counter], progress_every_seconds=None)
    assert run["action"] == "resumed" and counter.steps == STEPS  # only epoch 2 was redone
    marker = json.loads((tmp_path / runs.MARKER).read_text())
    assert marker["finished"] and marker["stopped_by"] == "epochs"
    assert marker["epochs"] == 2 and marker["steps"] == 2 * STEPS
    assert bilm.BiLMConfig.from_dict(marker["config"]) == config
    assert runs.check_output_dir(tmp_path, config, vocab) == "finished"

    counter = CountSteps()
    loaded, run = runs.load_or_train(tmp_path, config, sentences, sentences[:8], vocab=vocab,
                                     epochs=2, steps_per_epoch=STEPS, callbacks=[counter])
    assert run["action"] == "loaded" and counter.steps == 0
    for a, b in zip(trainer.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_new_directory_is_trained_and_marked(corpus, tmp_path):
    sentences, vocab = corpus
    out = tmp_path / "new"
    _, run = runs.load_or_train(out, tiny(vocab), sentences, sentences[:8], vocab=vocab,
                                epochs=1, steps_per_epoch=2, jit_compile=False, verbose=0,
                                progress_every_seconds=None)
    assert run["action"] == "trained" and run["steps"] == 2 and run["epochs"] == 1
    assert run["vocab_sha256"] and "cores" in run["machine"]


@pytest.fixture(scope="module")
def finished(corpus, tmp_path_factory):
    sentences, vocab = corpus
    out = tmp_path_factory.mktemp("finished")
    _train(tiny(vocab), sentences, vocab, out)
    return out


def test_another_models_directory_is_refused_and_left_alone(corpus, finished):
    sentences, vocab = corpus
    before = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    other = tiny(vocab, lstm_dim=16, dropout=0.1)
    for call in (lambda: runs.load_or_train(finished, other, sentences, vocab=vocab, epochs=1),
                 lambda: _train(other, sentences, vocab, finished)):
        with pytest.raises(ValueError) as error:
            call()
        message = str(error.value)
        assert str(finished) in message and "another model" in message
        assert "lstm_dim: 8 there, 16 requested" in message
        assert "dropout: 0.0 there, 0.1 requested" in message
    after = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    assert after == before


def test_a_different_vocabulary_is_another_model(corpus, finished):
    sentences, vocab = corpus
    tokens = vocab.tokens
    tokens[3], tokens[4] = tokens[4], tokens[3]
    with pytest.raises(ValueError, match=r"another vocabulary \(vocab.txt differs first at id 3"):
        runs.load_or_train(finished, tiny(vocab), sentences, vocab=text.Vocabulary(tokens))


def test_a_preset_directory_is_never_trained_into(corpus, tmp_path):
    sentences, vocab = corpus
    (tmp_path / "preset.json").write_text("{}")
    with pytest.raises(ValueError, match="shipped preset"):
        _train(tiny(vocab), sentences, vocab, tmp_path)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _drive(progress, clock, epoch, steps, seconds_per_step, loss=2.5):
    progress.on_epoch_begin(epoch)
    for batch in range(steps):
        clock.now += seconds_per_step
        progress.on_train_batch_end(batch, {"loss": loss})


def test_progress_lines_every_n_seconds_with_rate_and_eta():
    clock, lines = FakeClock(), []
    progress = runs.Progress(60, tokens_per_step=1000, steps_per_epoch=50, total_steps=100,
                             clock=clock, print_fn=lines.append)
    progress.on_train_begin()
    _drive(progress, clock, epoch=0, steps=50, seconds_per_step=7.0)
    # a line at the first step >= 60 s after the previous line: steps 9, 18, 27, 36, 45
    assert [line.split(" |")[0] for line in lines] == [f"step {s}/100" for s in (9, 18, 27, 36, 45)]
    # 9 steps of 1,000 tokens in 63 s; 91 steps left at 7 s each
    assert lines[0] == ("step 9/100 | 143 tokens/s | sampled loss 2.500 | elapsed 0:01:03 | "
                        "ETA 0:10:37")


def test_progress_eta_uses_the_time_budget_and_resumed_steps():
    clock, lines = FakeClock(), []
    progress = runs.Progress(30, tokens_per_step=10, steps_per_epoch=100, total_steps=1000,
                             time_budget_seconds=600, already_spent_seconds=500, clock=clock,
                             print_fn=lines.append)
    progress.on_train_begin()
    _drive(progress, clock, epoch=3, steps=10, seconds_per_step=3.0)  # resumed at epoch 3
    # 10 steps after resuming at step 300; 30 s in: 530 s spent of 600 -> 70 s left, less than
    # the 690 steps left x 3 s
    assert lines == ["step 310/1,000 | 3 tokens/s | sampled loss 2.500 | elapsed 0:08:50 | "
                     "ETA 0:01:10"]
    with pytest.raises(ValueError, match="every_seconds"):
        runs.Progress(0, tokens_per_step=1, steps_per_epoch=1)


def test_train_bilm_prints_progress(corpus, tmp_path, capsys):
    sentences, vocab = corpus
    _train(tiny(vocab), sentences, vocab, tmp_path, progress_every_seconds=1e-6)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    assert [line.split(" |")[0] for line in lines] == [f"step {s}/{2 * STEPS}"
                                                      for s in range(1, 2 * STEPS + 1)]
    assert all("tokens/s" in line and "ETA" in line for line in lines)
