"""The one line index: character (or byte) offsets of a text as 1-based (line, column).

Two ideas of a line end are in use, and each caller says which it means:

* ``LineIndex(text)``: ``\\n`` only, as CPython's parser counts the lines of a decoded source
  (its SyntaxError lines, the NUL byte's line, where the parser overflows) and as TOML does;
* ``LineIndex(text, universal=True)``: ``\\r\\n``, a lone ``\\r`` or ``\\n``, as
  :func:`split_lines` and the reporters' windows split a file.

The line starts are found once (``bisect`` over them for each offset): a file with many
positions to place costs one scan, not one scan per position.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from typing import Union

_UNIVERSAL = re.compile(r"\r\n|\r|\n")
_UNIVERSAL_BYTES = re.compile(rb"\r\n|\r|\n")


class LineIndex:
    """Where each line of ``text`` starts; ``position(offset)`` and ``span(start, end)``.

    ``text`` may be bytes: the columns are then byte columns (see :func:`byte_position` for
    characters)."""

    __slots__ = ("starts",)

    def __init__(self, text: Union[str, bytes], universal: bool = False) -> None:
        if universal:
            pattern = _UNIVERSAL_BYTES if isinstance(text, bytes) else _UNIVERSAL
            self.starts = [0, *[m.end() for m in pattern.finditer(text)]]  # type: ignore[arg-type]
        else:
            newline: Union[str, bytes] = b"\n" if isinstance(text, bytes) else "\n"
            starts = [0]
            at = text.find(newline)  # type: ignore[arg-type]
            while at >= 0:
                starts.append(at + 1)
                at = text.find(newline, at + 1)  # type: ignore[arg-type]
            self.starts = starts

    def line_of(self, offset: int) -> int:
        """The 1-based line holding ``offset``."""
        return bisect_right(self.starts, offset)

    def line_start(self, line: int) -> int:
        """The offset where 1-based ``line`` starts."""
        return self.starts[line - 1]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of ``offset``; an offset at a line end is on that line."""
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def span(self, start: int, end: int) -> tuple[int, int, int, int]:
        """(line, col, end_line, end_col) of ``[start, end)``, the end exclusive."""
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return line, col, end_line, end_col


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of one offset of ``text`` (``\\n`` lines), without an index."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def byte_position(data: bytes, offset: int, encoding: str) -> tuple[int, int]:
    """1-based (line, column) of byte ``offset`` of ``data``, the column in characters of the
    line decoded with ``encoding`` (a bad byte there counts as one character)."""
    before = data[:offset]
    line_start = before.rfind(b"\n") + 1
    return before.count(b"\n") + 1, len(before[line_start:].decode(encoding, "replace")) + 1


def offsets_to_spans(
    text: str, found: Iterable[tuple[int, int]]
) -> list[tuple[int, int, int, int]]:
    """Offsets in ``text`` as (line, col, end_line, end_col), 1-based, end exclusive, over the
    lines :func:`split_lines` gives; empty ranges are left out."""
    found = list(found)
    if not found:
        return []  # no index for no offsets: most files
    index = LineIndex(text, universal=True)
    return [index.span(start, end) for start, end in found if end > start]


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` at ``\\r\\n``, a lone ``\\r`` or ``\\n`` (the last one may be "")."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
