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
