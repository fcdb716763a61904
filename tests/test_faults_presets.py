"""Presets, downloads and exports survive stalled servers, hostile registries, damaged files and
kills (elmo_lib.presets, .preset_export, .download, .cli).

Servers are local (tests/local_http.py on 127.0.0.1): one that accepts and never answers, one that
sends more than a registry declares. Exports are killed for real (tests/fault_worker.py).
"""

import json
import subprocess
import sys
import time

import pytest
from fault_worker import finish, start
from local_http import Body, Unsized, serve, stalled_url

from elmo_lib import atomic, cli, download, presets

NAME = "fault_test"


@pytest.fixture()
def preset(tiny_finished_run, tmp_path):
    """The tiny run exported to tmp/models/tiny with its own registry file."""
    registry = tmp_path / "registry.json"
    preset_dir = tmp_path / "models" / "tiny"
    manifest = presets.export_preset(tiny_finished_run, preset_dir, name=NAME, registry=registry,
                                     training_command="pytest", machine="test")
    return preset_dir, registry, manifest


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ----- timeouts ---------------------------------------------------------------------------------
def test_a_server_that_never_answers_times_out_naming_the_url(tmp_path):
    entry = {"directory": "tiny", "files": {"vocab.txt": {"sha256": "0" * 64, "bytes": 3}}}
    with stalled_url() as url:
        start_time = time.monotonic()
        with pytest.raises(download.DownloadError, match="no answer within the timeout") as error:
            download.download_file(url, tmp_path / "file", timeout=0.5)
        assert url in str(error.value)
        with pytest.raises(OSError) as error:
            presets.resolve_preset(NAME, base_url=url.rsplit("/", 1)[0], cache_dir=tmp_path,
                                   registry={"presets": {NAME: entry}}, timeout=0.5)
        assert url.rsplit("/", 1)[0] + "/tiny/vocab.txt" in str(error.value)
        with pytest.raises(download.DownloadError, match=url):
            download.cached_url(url, cache_dir=tmp_path, timeout=0.5)
        assert time.monotonic() - start_time < 15  # three timeouts of 0.5 s, not a hang
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("vocab.txt"))


# ----- hostile registries and manifests -----------------------------------------------------------
@pytest.mark.parametrize("directory,file", [("../../x", "vocab.txt"), ("/abs", "vocab.txt"),
                                            ("tiny", "../../evil.txt"), ("tiny", "a\\..\\b")])
def test_registry_paths_that_leave_the_cache_are_refused(directory, file, tmp_path):
    entry = {"directory": directory, "files": {file: {"sha256": "0" * 64, "bytes": 3}}}
    cache = tmp_path / "deep" / "cache"
    with serve({}) as server, pytest.raises(ValueError, match="refusing") as error:
        presets.resolve_preset(NAME, base_url=server.url(""), cache_dir=cache,
                               registry={"presets": {NAME: entry}})
    assert repr(directory if directory != "tiny" else file) in str(error.value)
    assert not server.requests  # refused before any download
    assert sorted(p.name for p in tmp_path.rglob("*")) == []


@pytest.mark.parametrize("route", [Unsized, Body])
def test_a_body_bigger_than_declared_is_cut_off(route, tmp_path):
    content = b"x" * (1 << 20)  # 1 MiB for an entry that declares 3 bytes
    entry = {"directory": "tiny", "files": {"vocab.txt": {"sha256": "0" * 64, "bytes": 3}}}
    with serve({"/tiny/vocab.txt": route(content)}) as server:
        with pytest.raises(OSError) as error:
            presets.resolve_preset(NAME, base_url=server.url(""), cache_dir=tmp_path,
                                   registry={"presets": {NAME: entry}})
    message = str(error.value)
    assert "3 bytes declared" in message and server.url("/tiny/vocab.txt") in message
    if route is Unsized:  # no Content-Length: reading stopped one chunk past the declared size
        assert "stopped reading at 65,536" in message
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_manifest_listing_files_outside_its_directory_is_refused(preset, tmp_path):
    preset_dir = preset[0]
    (tmp_path / "models" / "secret.txt").write_text("not part of the preset")
    manifest = json.loads((preset_dir / "preset.json").read_text())
    manifest["files"]["../secret.txt"] = {"sha256": "0" * 64, "bytes": 22}
    (preset_dir / "preset.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"refusing file of preset .*'\.\./secret\.txt'"):
        presets.verify_preset(preset_dir)


# ----- damaged files: clear errors, one CLI line naming the file ---------------------------------
def _cut(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("case", ["preset.json cut", "preset.json incomplete", "vocab.txt cut",
                                  "weights.hdf5 cut", "softmax.hdf5 cut", "config.json cut"])
def test_damaged_preset_files_are_one_cli_line_naming_the_file(case, preset, tmp_path, capsys):
    preset_dir = preset[0]
    name = case.split()[0]
    if case == "preset.json incomplete":
        (preset_dir / name).write_text(json.dumps({"name": NAME}))
    else:
        _cut(preset_dir / name)
    (tmp_path / "in.txt").write_text("the cat sat\n")
    with pytest.raises(ValueError, match=name):
        presets.resolve_preset(preset_dir)
    # the CLI: one line, no traceback, the file named (evaluate reads every file)
    manifest = preset_dir / "preset.json"
    if name not in ("preset.json",):  # other files: make the checksums agree so loading is tried
        data = json.loads(manifest.read_text())
        path = preset_dir / name
        data["files"][name] = {"sha256": presets.sha256_file(path), "bytes": path.stat().st_size}
        manifest.write_text(json.dumps(data))
    code = cli.main(["evaluate", "--model", str(preset_dir), "--file", str(tmp_path / "in.txt")])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert str(preset_dir / name) in err, err


# ----- exports killed mid-way ---------------------------------------------------------------------
def test_a_killed_export_loses_neither_the_old_preset_nor_the_registry(preset, tiny_finished_run,
                                                                       tmp_path):
    preset_dir, registry, manifest = preset
    before = registry.read_text()
    swap = start("export", tiny_finished_run, preset_dir, registry, "--kill-before",
                 f"{preset_dir.name}:1")  # the old preset renamed aside, the new one not in
    in_registry = start("export", tiny_finished_run, tmp_path / "models" / "second", registry,
                        "--kill-before", f"{registry.name}:1")
    assert finish(swap)[0] == -9 and finish(in_registry)[0] == -9
    assert json.loads(registry.read_text()) == json.loads(before)  # whole, the old entries
    # Killed between its two renames: the old preset is aside (or the concurrent export's cleanup
    # already renamed it back); never deleted.
    assert preset_dir.exists() or list(preset_dir.parent.glob(".tmp-*-old-tiny"))
    assert presets.resolve_preset(preset_dir) == preset_dir  # put back from aside, verified
    assert presets.verify_preset(preset_dir)["files"] == manifest["files"]
    # The next export deletes the temporaries of the killed ones and swaps in a new preset.
    presets.export_preset(tiny_finished_run, preset_dir, name=NAME, registry=registry,
                          overwrite=True, training_command="pytest", machine="test")
    assert not list(preset_dir.parent.glob(".tmp-*"))
    assert NAME in presets.read_registry(registry)["presets"]


# ----- weights by URL, dataset temporaries --------------------------------------------------------
def test_url_cache_is_keyed_by_url_and_refetches_a_cut_copy(tmp_path):
    routes = {"/a/weights.hdf5": Body(b"model A" * 100), "/b/weights.hdf5": Body(b"model B" * 90)}
    with serve(routes) as server:
        a = download.cached_url(server.url("/a/weights.hdf5"), cache_dir=tmp_path)
        b = download.cached_url(server.url("/b/weights.hdf5"), cache_dir=tmp_path)
        assert a != b and a.read_bytes() == b"model A" * 100 and b.read_bytes() == b"model B" * 90
        a.write_bytes(a.read_bytes()[:50])  # cut short (a kill, a full disk)
        again = download.cached_url(server.url("/a/weights.hdf5"), cache_dir=tmp_path)
        assert again == a and a.read_bytes() == b"model A" * 100
        assert len(server.requests) == 3


def test_stale_download_temporaries_are_deleted(tmp_path):
    pid = dead_pid()
    stale = [tmp_path / f".download.{pid}.0123abcd.part", tmp_path / f".tmp-{pid}-0a1b-x.txt.part"]
    live = tmp_path / f".download.{__import__('os').getpid()}.beef.part"
    for path in (*stale, live):
        path.write_bytes(b"half a file")
    with serve({"/x.txt": Body(b"data")}) as server:
        download.download_file(server.url("/x.txt"), tmp_path / "x.txt")
    assert not any(p.exists() for p in stale) and live.exists()
    assert atomic.clean_stale(tmp_path) == []


def test_cleanup_puts_back_a_preset_left_aside_and_deletes_dead_temporaries(tmp_path):
    pid = dead_pid()
    aside = tmp_path / f".tmp-{pid}-0123abcd-old-tiny"
    aside.mkdir()
    (aside / "preset.json").write_text("{}")
    half_new = tmp_path / f".tmp-{pid}-4567ef01-tiny"
    half_new.mkdir()
    removed = atomic.clean_stale(tmp_path)
    assert removed == [half_new] and (tmp_path / "tiny" / "preset.json").is_file()
