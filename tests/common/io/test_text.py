"""User text files: UTF-8 with an optional byte-order mark, or one line naming the file."""
import pytest

from sciffusion.common.io.text import read_text


def test_utf8_with_a_byte_order_mark_and_binary_files(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"\xef\xbb\xbfid,smiles\n1,CCO\n")  # as spreadsheet exports write it
    assert read_text(tmp_path / "a.csv", "a CSV file").startswith("id,smiles")
    (tmp_path / "b.smi").write_bytes(b"CCO\n\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"b.smi: not UTF-8 text \(undecodable byte 0xff at offset 4\); is this "
                                         r"really a SMILES file\?"):
        read_text(tmp_path / "b.smi", "a SMILES file")
