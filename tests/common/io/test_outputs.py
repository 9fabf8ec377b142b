"""Output paths checked against inputs and each other before any work (common/io/outputs.py)."""
import pytest

from sciffusion.common.io.outputs import check_outputs, refuse_over_inputs


def test_an_output_never_is_holds_or_lies_inside_an_input(tmp_path):
    data = tmp_path / "in" / "store.zarr"
    data.mkdir(parents=True)
    for out, relation in ((data, "is"), (tmp_path / "in", "holds"), (data / "report", "lies inside")):
        with pytest.raises(ValueError, match=f"--out: {out} {relation} the --data input {data}; writing there"):
            refuse_over_inputs("--out", out, {"--data": data, "--model": None})
    with pytest.raises(ValueError, match=f"--out: {data} is the input"):
        refuse_over_inputs("--out", data, [None, data])
    for name in (".", "..", ""):
        with pytest.raises(ValueError, match="names no new file or folder"):
            refuse_over_inputs("--out", name, [])
    refuse_over_inputs("--out", tmp_path / "in" / "other.zarr", {"--data": data})  # a sibling is fine


def test_outputs_are_checked_together(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "plots").mkdir()
    with pytest.raises(ValueError, match="--compare: .* is or overlaps --out"):
        check_outputs([("--out", tmp_path / "o.mp4", False), ("--compare", tmp_path / "o.mp4", False)], [])
    with pytest.raises(FileExistsError, match="already exists"):
        check_outputs([("--out", tmp_path / "a.mp4", False)], [])
    with pytest.raises(ValueError, match="is an existing folder; this output is a file"):
        check_outputs([("--out", tmp_path / "plots", False)], [], overwrite=True)
    with pytest.raises(NotADirectoryError, match="a.mp4 is a file, not a folder"):
        check_outputs([("--out", tmp_path / "a.mp4" / "x.zarr", True)], [])
    check_outputs([("--out", tmp_path / "a.mp4", False)], [], overwrite=True)  # same kind, allowed
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(ValueError, match="cannot resolve the path"):
        check_outputs([("--out", loop / "x", True)], [])


def test_an_output_where_nothing_can_be_written_is_refused_before_any_work(tmp_path, monkeypatch):
    """The probe leaves nothing behind where it may write, and names the option where it may not (root
    ignores permission bits, so the refusal is simulated the way a read-only file system answers)."""
    import os
    import tempfile

    check_outputs([("--out", tmp_path / "new" / "clip.gif", False)], [])
    assert list(tmp_path.iterdir()) == []  # the probe folder is gone

    def read_only(*args, **kwargs):
        raise OSError(30, os.strerror(30))

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    with pytest.raises(PermissionError, match=f"--out: {tmp_path}/clip.gif: cannot write in {tmp_path} "
                                              r"\(Read-only file system\)"):
        check_outputs([("--out", tmp_path / "clip.gif", False)], [])
    if os.geteuid() != 0:  # a real folder without write permission (root would write anyway)
        monkeypatch.undo()
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="--out: .*cannot write in"):
            check_outputs([("--out", locked / "x.gif", False)], [])
