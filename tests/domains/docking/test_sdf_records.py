from __future__ import annotations

from sciffusion.domains.docking.sdf_records import sdf_blocks

COUNTS = "  2  1  0  0  0  0  0  0  0  0999 V2000\n"
ATOMS = ("    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n"
         "    1.5000    0.0000    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0\n")
RECORD = "ethanolish\n  test\n\n" + COUNTS + ATOMS + "  1  2  1  0\nM  END\n> <tag>\nvalue\n\n"


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def test_complete_records_and_line_ranges():
    blocks = list(sdf_blocks(_lines(RECORD + "$$$$\n" + RECORD + "$$$$\n\n")))
    assert [(b.record, b.first_line, b.last_line, b.problem) for b in blocks] == [
        (1, 1, 12, ""), (2, 13, 24, "")]
    assert blocks[1].text == RECORD


def test_last_record_without_terminator_is_complete():
    blocks = list(sdf_blocks(_lines(RECORD + "$$$$\n" + RECORD)))
    assert [(b.first_line, b.last_line, b.problem) for b in blocks] == [(1, 12, ""), (13, 23, "")]


def test_cut_record_ends_where_the_next_header_starts():
    cut = "".join(_lines(RECORD)[:5])  # header, counts line, one atom line
    blocks = list(sdf_blocks(_lines(cut + RECORD + "$$$$\n")))
    assert [(b.record, b.first_line, b.last_line) for b in blocks] == [(1, 1, 5), (2, 6, 17)]
    assert "no 'M  END' line before the next record starts at line 6" in blocks[0].problem
    assert blocks[1].problem == ""


def test_short_atom_block_garbage_and_short_header():
    short = "x\n\n\n" + COUNTS + ATOMS.splitlines(keepends=True)[0] + "M  END\n"
    blocks = list(sdf_blocks(_lines(short + "$$$$\nno molecule here\n$$$$\n\n" + COUNTS + ATOMS + "M  END\n")))
    assert [b.record for b in blocks] == [1, 2, 3]
    assert "1 line(s) before 'M  END', counts line declares 2 atoms and 1 bonds" in blocks[0].problem
    assert blocks[1].problem.startswith("not a molecule record") and (blocks[1].first_line, blocks[1].last_line) == (8, 9)
    assert blocks[2].problem.startswith("truncated header")
