"""Split a (multi-record) SDF into records with their line ranges, so that a truncated or garbage
record never swallows the good record after it.

A record normally ends at a ``$$$$`` line. The molfile counts line (``... V2000`` or ``... V3000``)
is always the 4th line of a record, so a second counts line before the next ``$$$$`` means a new
record started 3 lines above it: the text before that is a record cut short. Text holding no
counts line at all is not a molecule record. Each such piece becomes one :class:`SdfBlock`; the
structural problems found here (no counts line, no ``M  END``, fewer atom/bond lines than the counts
line declares) are set in ``problem`` so that the reader reports them instead of parsing.
"""
from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

COUNTS_LINE = re.compile(r"^\s*\d+\s*\d+.*V[23]000\s*$")
RECORD_END = "$$$$"
HEADER_LINES = 3  # name, program/timestamp, comment


@dataclass(frozen=True)
class SdfBlock:
    """One record of an SDF file.

    record: 1-based record number. first_line, last_line: 1-based inclusive line range in the file
    (the ``$$$$`` line included when present). text: the record's lines, ``$$$$`` excluded.
    problem: empty when the record looks complete; else why it cannot be parsed.
    """

    record: int
    first_line: int
    last_line: int
    text: str
    problem: str = ""


def read_sdf_lines(path: Path) -> list[str]:
    """Lines of a plain or gzipped SDF, newlines kept; undecodable bytes kept as surrogates
    (``surrogateescape``), so that :func:`block_bytes` gives RDKit the original bytes."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (EOFError, OSError) as exc:
        raise ValueError(f"{path}: cannot read the file ({exc})") from None
    return data.decode("utf-8", errors="surrogateescape").splitlines(keepends=True)


def block_bytes(block: SdfBlock) -> bytes:
    """The record as bytes with a ``$$$$`` terminator (what RDKit's SD suppliers read)."""
    return (block.text + ("" if block.text.endswith("\n") else "\n") + RECORD_END + "\n").encode(
        "utf-8", errors="surrogateescape")


def sdf_blocks(lines: list[str]) -> Iterator[SdfBlock]:
    """Every record of an SDF given as its lines (see the module docstring); blank-only stretches
    (e.g. trailing newlines) are no record."""
    record, chunk, chunk_start = 0, [], 1
    for number, line in enumerate(lines, start=1):
        if line.strip() == RECORD_END:
            for block in _split_chunk(chunk, chunk_start, terminated=True, first_record=record + 1):
                record = block.record
                yield block
            chunk, chunk_start = [], number + 1
        else:
            chunk.append(line)
    for block in _split_chunk(chunk, chunk_start, terminated=False, first_record=record + 1):
        yield block


def _split_chunk(chunk: list[str], start: int, terminated: bool, first_record: int) -> Iterator[SdfBlock]:
    """Records in the lines between two ``$$$$`` lines; ``start`` is the first line's number."""
    if not any(line.strip() for line in chunk):
        return
    counts = [i for i, line in enumerate(chunk) if COUNTS_LINE.match(line)]
    if not counts:
        yield _block(first_record, chunk, start, terminated,
                     "not a molecule record (no V2000/V3000 counts line)")
        return
    starts: list[int] = []
    for c in counts:
        starts.append(max(c - HEADER_LINES, starts[-1] + 1 if starts else 0))
    record = first_record
    if any(line.strip() for line in chunk[: starts[0]]):  # text before the first record's header
        yield _block(record, chunk[: starts[0]], start, False,
                     "not a molecule record (no V2000/V3000 counts line)")
        record += 1
    ends = starts[1:] + [len(chunk)]
    for k, (s, e, c) in enumerate(zip(starts, ends, counts)):
        last = k == len(starts) - 1
        lines = chunk[s:e]
        problem = _structure_problem(lines, c - s, start + s, next_start=None if last else start + e,
                                     at_eof=last and not terminated)
        yield _block(record, lines, start + s, terminated and last, problem)
        record += 1


def _block(record: int, lines: list[str], first_line: int, terminated: bool, problem: str) -> SdfBlock:
    last_line = first_line + len(lines) - 1 + (1 if terminated else 0)
    return SdfBlock(record=record, first_line=first_line, last_line=last_line, text="".join(lines),
                    problem=problem)


def _structure_problem(lines: list[str], counts_at: int, first_line: int, next_start: int | None,
                       at_eof: bool) -> str:
    """Why a record with its counts line at ``lines[counts_at]`` is incomplete ("" if it is not)."""
    where = (f"the next record starts at line {next_start}" if next_start is not None
             else "the file ends" if at_eof else "the $$$$ line")
    if counts_at != HEADER_LINES:
        return (f"truncated header: counts line is line {first_line + counts_at}, "
                f"{counts_at} header line(s) before it instead of {HEADER_LINES}")
    m_end = next((i for i, line in enumerate(lines) if line.startswith("M  END")), None)
    if m_end is None:
        return f"truncated: no 'M  END' line before {where}"
    counts = lines[counts_at]
    if "V2000" in counts:
        try:
            n_atoms, n_bonds = int(counts[0:3]), int(counts[3:6])
        except ValueError:
            return f"bad counts line {first_line + counts_at}: {counts.strip()!r}"
        body = m_end - counts_at - 1
        if body < n_atoms + n_bonds:
            return (f"atom/bond block too short: {body} line(s) before 'M  END', "
                    f"counts line declares {n_atoms} atoms and {n_bonds} bonds")
    return ""
