"""Every position in a TOML document: where each key is (tomllib gives values, not
positions), where the parser's error is, where the bytes stop being UTF-8.

``key_positions(text)`` scans the text once (strings, comments, arrays and inline tables are
skipped as TOML defines them) and maps each key path, e.g. ``("cloud", "ssl", "domain_name")``,
to the span of the key and of its value; a table header maps its path to the header's span.
It never raises: on text that is not valid TOML it returns what it found up to the problem.
"""

from __future__ import annotations

import contextlib
import re
from typing import Optional

from mse_lint.core.diagnostics import Span
from mse_lint.core.record import Frozen
from mse_lint.source.lines import LineIndex, byte_position

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


class KeyPos(Frozen):
    key: Span  # the key as written (the whole ``[table]`` header for a table)
    value: Optional[Span] = None  # the value (None for a table header)
    value_text: str = ""  # the value as written

    @property
    def whole(self) -> Span:
        """From the key to the end of its value (or the header)."""
        if self.value is None:
            return self.key
        return Span(self.key.line, self.key.col, self.value.end_line, self.value.end_col)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.i = 0
        self.found: dict[tuple[str, ...], KeyPos] = {}
        self.index = LineIndex(self.text)

    # -- positions -----------------------------------------------------------------------------
    def pos(self, offset: int) -> tuple[int, int]:
        return self.index.position(offset)

    def span(self, start: int, end: int) -> Span:
        line, col = self.pos(start)
        end_line, end_col = self.pos(max(end - 1, start))
        return Span(line, col, end_line, end_col + 1)

    # -- low level -----------------------------------------------------------------------------
    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def skip_ws(self, newlines: bool = False) -> None:
        """Blanks (and, with ``newlines``, line ends and comments)."""
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch in " \t" or (newlines and ch == "\n"):
                self.i += 1
            elif newlines and ch == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                return

    def string(self) -> Optional[str]:
        """A string at the cursor (any of the four kinds): its value, cursor after it."""
        t = self.text
        for quote in ('"""', "'''"):
            if t.startswith(quote, self.i):
                end = t.find(quote, self.i + 3)
                while quote == '"""' and end > 0 and _escaped(t, end):
                    end = t.find(quote, end + 1)
                if end < 0:
                    self.i = len(t)
                    return None
                while t.startswith(quote[0], end + 3):  # up to two quotes may end the content
                    end += 1
                raw = t[self.i + 3 : end]
                self.i = end + 3
                return raw.lstrip("\n")
        quote = t[self.i]
        j = self.i + 1
        out: list[str] = []
        while j < len(t) and t[j] != quote and t[j] != "\n":
            if quote == '"' and t[j] == "\\" and j + 1 < len(t):
                nxt = t[j + 1]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                    j += 2
                    continue
                if nxt in "uU":
                    width = 4 if nxt == "u" else 8
                    with contextlib.suppress(ValueError):
                        out.append(chr(int(t[j + 2 : j + 2 + width], 16)))
                    j += 2 + width
                    continue
            out.append(t[j])
            j += 1
        self.i = min(j + 1, len(t))
        return "".join(out)

    def key(self) -> Optional[tuple[tuple[str, ...], int, int]]:
        """A dotted key at the cursor: (parts, start, end offsets)."""
        parts: list[str] = []
        start = self.i
        end = self.i
        while True:
            self.skip_ws()
            if self.i >= len(self.text):
                break
            ch = self.text[self.i]
            if ch in "\"'":
                value = self.string()
                if value is None:
                    return None
                parts.append(value)
            else:
                m = _BARE.match(self.text, self.i)
                if not m:
                    break
                parts.append(m.group())
                self.i = m.end()
            end = self.i
            self.skip_ws()
            if self.peek() == ".":
                self.i += 1
                continue
            break
        if not parts:
            return None
        return tuple(parts), start, end

    def value(self, path: tuple[str, ...]) -> tuple[int, int]:
        """Skip a value (recording inline-table keys under ``path``): its start and end."""
        self.skip_ws()
        start = self.i
        t = self.text
        if self.i >= len(t):
            return start, start
        ch = t[self.i]
        if ch in "\"'":
            self.string()
        elif ch == "[":
            self.i += 1
            index = 0
            while self.i < len(t):
                self.skip_ws(newlines=True)
                if self.peek() == "]":
                    self.i += 1
                    break
                if self.peek() == ",":
                    self.i += 1
                    index += 1
                    continue
                before = self.i
                self.value((*path, str(index)))
                if self.i == before:
                    self.i += 1
        elif ch == "{":
            self.i += 1
            while self.i < len(t):
                self.skip_ws()
                if self.peek() in ("}", "\n", ""):
                    self.i += 1
                    break
                if self.peek() == ",":
                    self.i += 1
                    continue
                if not self.pair(path):
                    self.i += 1
        else:
            m = re.compile(r"[^\s,\]}#]+(?:[ T][0-9:.+\-Z]+)?").match(t, self.i)
            self.i = m.end() if m else self.i + 1
        return start, self.i

    def pair(self, table: tuple[str, ...]) -> bool:
        """``key = value`` at the cursor, recorded under ``table``."""
        found = self.key()
        if found is None:
            return False
        parts, kstart, kend = found
        self.skip_ws()
        if self.peek() != "=":
            return False
        self.i += 1
        full = (*table, *parts)
        vstart, vend = self.value(full)
        self.found.setdefault(
            full,
            KeyPos(self.span(kstart, kend), self.span(vstart, vend), self.text[vstart:vend]),
        )
        return True

    def scan(self) -> dict[tuple[str, ...], KeyPos]:
        table: tuple[str, ...] = ()
        t = self.text
        while True:
            self.skip_ws(newlines=True)
            if self.i >= len(t):
                break
            if t[self.i] == "[":
                start = self.i
                double = t.startswith("[[", self.i)
                self.i += 2 if double else 1
                found = self.key()
                self.skip_ws()
                if found is None or not t.startswith("]]" if double else "]", self.i):
                    break
                self.i += 2 if double else 1
                table = found[0]
                self.found.setdefault(table, KeyPos(self.span(start, self.i)))
            elif not self.pair(table):
                break
            # the rest of the line: only a comment may follow
            self.skip_ws()
            if self.peek() == "#":
                end = t.find("\n", self.i)
                self.i = len(t) if end < 0 else end
        return self.found


def _escaped(text: str, at: int) -> bool:
    n = 0
    while at - n - 1 >= 0 and text[at - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def key_positions(text: str) -> dict[tuple[str, ...], KeyPos]:
    try:
        return _Scanner(text).scan()
    except (IndexError, ValueError, RecursionError):  # never lose the run over a position
        return {}


class TomlProblem(Frozen):
    """Why a TOML file could not be read: where (1-based line and column) and what."""

    line: int
    col: int
    message: str


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def toml_problem(text: str, exc: Exception) -> TomlProblem:
    """The position tomllib/tomli gives in its message ("(at line 3, column 7)")."""
    message = str(exc)
    line = getattr(exc, "lineno", None)
    col = getattr(exc, "colno", None)
    m = _TOML_AT.search(message)
    if m:
        line, col = int(m.group(1)), int(m.group(2))
        message = message[: m.start()]
    elif message.endswith("(at end of document)"):
        message = message[: -len("(at end of document)")].rstrip()
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    return TomlProblem(int(line or 1), int(col or 1), message)


def not_utf8(raw: bytes, exc: UnicodeDecodeError) -> TomlProblem:
    """Where a TOML file stops being UTF-8 (TOML text is UTF-8 only)."""
    line, col = byte_position(raw, exc.start, "utf-8")
    return TomlProblem(line, col, f"byte 0x{raw[exc.start]:02x} is not valid UTF-8")
