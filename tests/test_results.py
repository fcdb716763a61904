"""elmo_lib.results: the lessons' results files."""

import json

import numpy as np
import pytest

import elmo_lib as el


def test_save_writes_numbers_and_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("ELMO_QUICK", "1")
    results = el.results.LessonResults("04_training_the_bilm", directory=tmp_path)
    results["test_perplexity"] = {"forward": np.float32(139.5), "tokens": np.int64(246_991)}
    results["accuracies"] = np.array([0.5, 0.75])
    path = results.save()
    assert path == tmp_path / "04_training_the_bilm.json"
    record = json.loads(path.read_text())
    assert record["lesson"] == "04_training_the_bilm" and record["quick"] is True
    assert record["test_perplexity"] == {"forward": 139.5, "tokens": 246_991}
    assert isinstance(record["test_perplexity"]["tokens"], int)
    assert record["accuracies"] == [0.5, 0.75]
    assert record["wall_seconds"] >= 0 and record["date"].endswith("+00:00")
    assert record["machine"]["cores"] >= 1 and isinstance(record["machine"]["cpu"], str)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    assert el.results.load("04_training_the_bilm", directory=tmp_path) == record


def test_results_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ELMO_RESULTS_DIR", str(tmp_path / "quick"))
    path = el.results.LessonResults("01_why_context_matters").save()
    assert path.parent == tmp_path / "quick"


def test_a_quick_run_never_writes_into_the_repository(tmp_path, monkeypatch):
    """`ELMO_QUICK=1 make lab` sets no output folders: results and figures go to a temporary
    folder, never over the committed full-run files."""
    import tempfile

    from elmo_lib import figure_files

    monkeypatch.delenv("ELMO_RESULTS_DIR", raising=False)
    monkeypatch.delenv("ELMO_FIGURES_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("ELMO_QUICK", "1")
    assert el.results.results_dir() == tmp_path / "elmo_quick" / "results"
    assert figure_files.figures_dir() == tmp_path / "elmo_quick" / "figures"
    monkeypatch.setenv("ELMO_RESULTS_DIR", str(tmp_path / "mine"))  # an explicit folder wins
    assert el.results.results_dir() == tmp_path / "mine"


@pytest.mark.parametrize("value", [float("nan"), np.float64("inf")])
def test_non_finite_numbers_are_refused(tmp_path, value):
    results = el.results.LessonResults("06_sentiment", directory=tmp_path)
    results["accuracy"] = value
    with pytest.raises(ValueError, match="finite"):
        results.save()
    assert not (tmp_path / "06_sentiment.json").exists()


@pytest.mark.parametrize("name", ["lesson4", "4_training", "04_", "04"])
def test_bad_lesson_names(name):
    with pytest.raises(ValueError, match="lesson"):
        el.results.LessonResults(name)


def test_load_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="07_pretrained_elmo.json"):
        el.results.load("07_pretrained_elmo", directory=tmp_path)


def test_measured_on_reads_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("ELMO_QUICK", raising=False)
    results = el.results.LessonResults("05_elmo_representations", directory=tmp_path)
    results.save()
    record = json.loads((tmp_path / "05_elmo_representations.json").read_text())
    record.update(wall_seconds=412.4, date="2026-11-30T07:00:00+00:00",
                  machine={"cpu": "Test CPU", "cores": 2, "avx512": True, "gpus": [],
                           "tensorflow": "2.21.0"})
    (tmp_path / "05_elmo_representations.json").write_text(json.dumps(record))
    line = el.results.measured_on("05_elmo_representations", directory=tmp_path)
    assert line == ("Measured on: Test CPU (2 cores, AVX-512, no GPU), TensorFlow 2.21.0, "
                    "2026-11-30: full run 412 s.")
