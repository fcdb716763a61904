"""elmo_lib.download against a local HTTP server on 127.0.0.1: mirrors, User-Agent, truncation."""

import hashlib
import logging
import urllib.error
import urllib.request

import pytest
from local_http import Body, Redirect, RefusesPythonAgent, Status, Truncated, refused_url, serve

from elmo_lib import __version__, download

CONTENT = b"the real file\n" * 100
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Requests go straight to 127.0.0.1, never through a proxy named in the environment."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def failure_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "elmo_lib.download"]


@pytest.mark.parametrize("first", [Status(403), Status(404), Truncated(CONTENT, 100),
                                   Body(b"<html>an error page</html>"), "refused"])
def test_a_failed_mirror_is_logged_and_the_next_used(tmp_path, caplog, first):
    with serve({"/first": first, "/second": Body(CONTENT)}) as server:
        first_url = refused_url() if first == "refused" else server.url("/first")
        target = tmp_path / "sub" / "file.txt"
        with caplog.at_level(logging.WARNING):
            path = download.download_file([first_url, server.url("/second")], target, sha256=SHA)
    assert path == target and target.read_bytes() == CONTENT
    assert files_under(tmp_path) == ["sub/file.txt"]  # no .part left behind
    [line] = failure_lines(caplog)
    assert line.startswith(f"download failed: {first_url}: ")
    expected = {Status: "HTTP ", Truncated: "truncated: received 100 of 1,400 bytes", Body: "sha256 of file.txt is"}
    assert (expected[type(first)] if first != "refused" else "connection failed") in line
    if isinstance(first, Status):
        assert f"HTTP {first.code}" in line


def test_user_agent_names_the_library(tmp_path):
    with serve({"/wikitext.zip": RefusesPythonAgent(CONTENT)}) as server:
        with pytest.raises(urllib.error.HTTPError, match="403"):  # Python's default User-Agent
            urllib.request.urlopen(server.url("/wikitext.zip"), timeout=5)
        download.download_file(server.url("/wikitext.zip"), tmp_path / "f", sha256=SHA)
        assert server.requests[-1] == ("/wikitext.zip", f"elmo_lib/{__version__}")
    assert (tmp_path / "f").read_bytes() == CONTENT


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_redirects_are_followed_with_the_user_agent(tmp_path, code):
    with serve({"/old": Redirect("/new", code), "/new": RefusesPythonAgent(CONTENT)}) as server:
        download.download_file(server.url("/old"), tmp_path / "f", sha256=SHA)
        assert [path for path, _ in server.requests] == ["/old", "/new"]
        assert {agent for _, agent in server.requests} == {download.USER_AGENT}
    assert (tmp_path / "f").read_bytes() == CONTENT


def test_all_mirrors_fail_clear_error_and_nothing_left(tmp_path, caplog):
    (tmp_path / "keep.txt").write_bytes(b"unrelated")
    target = tmp_path / "model" / "weights.h5"
    with serve({"/a": Status(403), "/b": Truncated(CONTENT, 10), "/c": Body(b"wrong")}) as server:
        urls = [server.url("/a"), refused_url("/d"), server.url("/b"), server.url("/c")]
        with caplog.at_level(logging.WARNING), pytest.raises(download.DownloadError) as info:
            download.download_file(urls, target, sha256=SHA)
    message = str(info.value)
    assert str(target) in message
    for url, reason in zip(urls, ["HTTP 403", "connection failed", "truncated", "sha256 of weights.h5"]):
        assert f"  {url}: {reason}" in message
    assert [url for url, _ in info.value.failures] == urls
    assert len(failure_lines(caplog)) == 4
    assert files_under(tmp_path) == ["keep.txt"]


def test_an_existing_file_is_replaced_only_by_a_verified_download(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with serve({"/bad": Body(b"corrupt")}) as server:
        with pytest.raises(download.DownloadError):
            download.download_file(server.url("/bad"), target, sha256=SHA)
    assert target.read_bytes() == b"old"


def test_without_sha256_only_the_length_is_checked(tmp_path):
    with serve({"/cut": Truncated(CONTENT, 5), "/ok": Body(b"anything")}) as server:
        with pytest.raises(download.DownloadError, match="truncated"):
            download.download_file(server.url("/cut"), tmp_path / "f")
        assert download.download_file(server.url("/ok"), tmp_path / "f").read_bytes() == b"anything"


def test_ctrl_c_leaves_no_partial_file(tmp_path, monkeypatch):
    def interrupted(self, current, values=None, finalize=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(download.keras.utils.Progbar, "update", interrupted)
    with serve({"/big": Body(CONTENT), "/second": Body(CONTENT)}) as server:
        with pytest.raises(KeyboardInterrupt):  # not swallowed as a failed mirror
            download.download_file([server.url("/big"), server.url("/second")], tmp_path / "f",
                                   sha256=SHA, progress=True)
        assert [path for path, _ in server.requests] == ["/big"]
    assert files_under(tmp_path) == []


def test_progress_bar_for_large_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(download, "PROGRESS_MIN_BYTES", 1000)
    with serve({"/small": Body(b"x" * 999), "/large": Body(CONTENT)}) as server:
        download.download_file(server.url("/small"), tmp_path / "small")
        assert capsys.readouterr().out == ""
        download.download_file(server.url("/large"), tmp_path / "large")
        out = capsys.readouterr().out
    assert f"Downloading {server.url('/large')}" in out and "1400/1400" in out


def test_no_urls_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no URL"):
        download.download_file([], tmp_path / "f")
