"""Test helper for command-line tools: a user error is one ``error: ...`` line and exit code 2."""
from __future__ import annotations


def assert_one_line_error(result, *fragments: str) -> None:
    """``result``: a Click/Typer ``CliRunner`` result (``exit_code``, ``output``). Asserts exit code 2,
    exactly one output line starting ``error: `` and every fragment inside that line."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], result.output


__all__ = ["assert_one_line_error"]
