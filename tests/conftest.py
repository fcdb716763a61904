"""Shared fixtures. Data-backed tests need the real datasets: with ``ELMO_DATA_DIR`` set (as CI
does) a missing dataset fails the test; without it, such tests are skipped with the reason."""

import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    env = os.environ.get("ELMO_DATA_DIR")
    if env:
        path = pathlib.Path(env)
        assert path.is_dir(), f"ELMO_DATA_DIR={env} is not a directory"
        return path
    local = pathlib.Path(__file__).resolve().parents[1] / "data"
    if (local / "wikitext-2").is_dir():
        return local
    pytest.skip("datasets not found: set ELMO_DATA_DIR (CI sets it to ../shared/data)")


@pytest.fixture(scope="session")
def tiny_finished_run(tmp_path_factory) -> pathlib.Path:
    """A finished 2-epoch run directory of train_bilm on fault_worker's tiny corpus (the fault
    tests damage copies of it; never modify it in place)."""
    from fault_worker import EPOCHS, tiny_run

    from elmo_lib import train

    sentences, _, config, kwargs = tiny_run()
    out = tmp_path_factory.mktemp("finished") / "run"
    train.train_bilm(config, sentences, sentences[:8], output_dir=out, epochs=EPOCHS, **kwargs)
    return out


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty ELMO_DATA_DIR; the repo data/ and the cache point into tmp_path too; no proxy
    (the dataset tests: test_data.py, test_imdb.py)."""
    from elmo_lib import data

    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("env", "repo", "cache"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("ELMO_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(data, "_repo_data_dir", lambda: tmp_path / "repo")
    monkeypatch.setattr(data, "_cache_dir", lambda: tmp_path / "cache")
    return tmp_path
