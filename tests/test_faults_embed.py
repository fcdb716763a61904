"""``embed_file`` never replaces a file it did not write, and one process writes an output at a time.

The kill-and-resume case (SIGKILL mid-way, the rerun equals an uninterrupted run) is
tests/test_elmo.py::test_embed_file_survives_sigkill; here: foreign files at the output and
``.partial`` paths, a partial file a kill left unreadable, and a second process on the output.
"""

import h5py
import numpy as np
import pytest
from fault_worker import finish, start

from elmo_lib import atomic, bilm, cli, elmo


@pytest.fixture(scope="module")
def encoder():
    return bilm.encoder_layer(bilm.build_encoder(bilm.BiLMConfig.tiny()))


@pytest.fixture()
def source(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("the cat sat\na dog\n\nred door\n", encoding="utf-8")
    return path


def _contents(path):
    with h5py.File(path, "r") as handle:
        return {key: handle[key][...] for key in handle}


@pytest.mark.parametrize("foreign", ["text", "hdf5"])
def test_an_unrelated_output_is_kept_unless_overwrite(foreign, encoder, source, tmp_path,
                                                      capsys):
    target = tmp_path / "out.h5"
    if foreign == "text":
        target.write_text("my notes\n")
    else:
        with h5py.File(target, "w") as handle:
            handle["data"] = np.arange(3)
    before = target.read_bytes()
    with pytest.raises(FileExistsError, match=f"{target} exists .*overwrite"):
        elmo.embed_file(source, target, encoder, progress=False)
    assert target.read_bytes() == before and not (tmp_path / "out.h5.partial").exists()
    elmo.embed_file(source, target, encoder, progress=False, overwrite=True)
    assert sorted(_contents(target)) == ["0", "1", "2", "3", "sentence_to_index"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.h5"]


def test_cli_refuses_naming_the_file_and_overwrite_replaces(tmp_path, source, capsys,
                                                            tiny_finished_run):
    target = tmp_path / "out.h5"
    target.write_text("my notes\n")
    args = ["embed", str(source), str(target), "--model", str(tiny_finished_run)]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(target) in err and "--overwrite" in err
    assert target.read_text() == "my notes\n"
    assert cli.main([*args, "--overwrite"]) == 0
    assert "sentence_to_index" in _contents(target)


def test_a_partial_file_a_kill_left_unreadable_is_started_over(encoder, source, tmp_path):
    clean = _contents(elmo.embed_file(source, tmp_path / "clean.h5", encoder, progress=False))
    partial = tmp_path / "out.h5.partial"
    with h5py.File(partial, "w") as handle:  # ours, then cut by a kill mid-write
        handle.attrs["written_by"] = "elmo_lib.embed_file"
        handle["0"] = np.zeros((3, 3, 8), "float32")
    partial.write_bytes(partial.read_bytes()[:600])
    (tmp_path / "out.h5.partial.done").write_text("0\n")
    out = _contents(elmo.embed_file(source, tmp_path / "out.h5", encoder, progress=False))
    for key in clean:
        np.testing.assert_array_equal(out[key], clean[key])


def test_a_second_writer_is_refused_naming_the_output_and_owner(encoder, source, tmp_path):
    target = tmp_path / "out.h5"
    holder = start("hold", target)  # another process writing out.h5 (its lock file)
    try:
        assert holder.stdout.readline().startswith("READY")
        with pytest.raises(atomic.PathLockedError) as error:
            elmo.embed_file(source, target, encoder, progress=False)
        assert str(target) in str(error.value) and f"process {holder.pid}" in str(error.value)
        assert not (tmp_path / "out.h5.partial").exists()  # it touched nothing
    finally:
        holder.kill()
        finish(holder)
    elmo.embed_file(source, target, encoder, progress=False)  # the dead owner's lock is taken
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.h5"]
