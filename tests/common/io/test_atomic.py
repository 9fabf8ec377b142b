"""Atomic outputs: nothing partial on failure, no silent overwrite of what the user has."""
import os

import pytest

from sciffusion.common.io.atomic import atomic_path, write_text_atomic


def test_success_moves_file_into_place(tmp_path):
    out = tmp_path / "sub" / "report.txt"
    with atomic_path(out) as tmp:
        assert tmp != out and tmp.parent.parent == out.parent
        tmp.write_text("done")
    assert out.read_text() == "done"
    assert [p.name for p in out.parent.iterdir()] == ["report.txt"]  # no temporaries left


def test_failure_leaves_nothing(tmp_path):
    out = tmp_path / "store.zarr"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(out) as tmp:
            tmp.mkdir()
            (tmp / "chunk").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "a.txt"
    out.write_text("user data")
    with pytest.raises(FileExistsError, match="a.txt: output already exists"):
        with atomic_path(out) as tmp:
            tmp.write_text("new")
    assert out.read_text() == "user data"
    with atomic_path(out, overwrite=True) as tmp:
        tmp.mkdir()
    assert out.is_dir()


def test_write_text_atomic(tmp_path):
    p = write_text_atomic(tmp_path / "x.json", "{}")
    assert p.read_text() == "{}"


def test_nothing_written_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="nothing was written"):
        with atomic_path(tmp_path / "empty.txt"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_killed_runs_temporaries_are_removed_by_the_next_run(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "clips.zarr"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a finished process: its id is free
    stale = tmp_path / f".clips.zarr.{dead.pid}.abc123.tmp"
    (stale / "clips.zarr").mkdir(parents=True)
    (stale / "clips.zarr" / "chunk").write_bytes(b"x" * 100)
    alive = tmp_path / f".clips.zarr.{os.getppid()}.def456.tmp"  # a concurrent run's temporary
    alive.mkdir()
    other = tmp_path / ".other.zarr.1.x.tmp"  # not ours
    other.mkdir()
    with atomic_path(out) as tmp:
        tmp.write_text("done")
    assert out.read_text() == "done"
    assert not stale.exists() and alive.exists() and other.exists()


def test_stale_temporaries_are_removed_even_when_the_run_fails(tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".a.txt.{dead.pid}.zz.tmp"
    stale.mkdir()
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.txt"):
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
