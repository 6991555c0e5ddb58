"""The values that flow from checks to reporters."""

from __future__ import annotations

import enum
from typing import Optional

from mse_lint.core.record import Frozen


class Severity(enum.IntEnum):
    """Ordered so that ``a >= b`` means "at least as serious as"."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Accept the full name or the catalogue's one-letter form."""
        key = text.strip().lower()
        for sev in cls:
            if key in (sev.label, sev.label[0]):
                return sev
        raise ValueError(f"unknown severity {text!r} (use error, warning or info)")


class Span(Frozen):
    """1-based lines and columns; ``end_col`` is one past the last character. Ordered by
    (line, col, end_line, end_col)."""

    line: int
    col: int
    end_line: int
    end_col: int

    def _key(self) -> tuple[int, int, int, int]:
        return (self.line, self.col, self.end_line, self.end_col)

    def __lt__(self, other: Span) -> bool:
        if other.__class__ is self.__class__:
            return self._key() < other._key()
        return NotImplemented

    def __le__(self, other: Span) -> bool:
        if other.__class__ is self.__class__:
            return self._key() <= other._key()
        return NotImplemented

    def __gt__(self, other: Span) -> bool:
        if other.__class__ is self.__class__:
            return self._key() > other._key()
        return NotImplemented

    def __ge__(self, other: Span) -> bool:
        if other.__class__ is self.__class__:
            return self._key() >= other._key()
        return NotImplemented


# Where a finding about a file as a whole points (it ships, it is a symlink, it is too big)
FILE_SPAN = Span(1, 1, 1, 2)


class Edit(Frozen):
    """One change of a file's text: the characters of ``span`` (1-based lines and columns, the
    end exclusive; an empty span inserts) become ``replacement``."""

    path: str  # the file, as Diagnostic.path names it
    span: Span
    replacement: str


class Fix(Frozen):
    """Edits that mend a finding, applied together or not at all. ``safe``: the app's behaviour
    in the enclave changes only by no longer failing; an unsafe fix needs the user's decision."""

    title: str  # what the fix does, for a person choosing it ("move app.run() under __main__")
    edits: tuple[Edit, ...]
    safe: bool = False


class Diagnostic(Frozen):
    """One finding. ``path`` is relative to the report root, with ``/`` separators."""

    path: str
    span: Span
    rule: str
    severity: Severity
    message: str
    fix: Optional[str] = None
    # First line of the innermost statement holding the construct: suppression comments there
    # (or alone on the line before) also apply, as they do for multi-line statements.
    stmt_line: int = 0
    # True when the span covers secret text: reporters never show it (see mse_lint.core.redact)
    secret: bool = False
    # True when the finding is about the file as a whole: reporters quote none of its lines
    # (a shipped secrets file or key, a binary, a symlink's target)
    whole_file: bool = False
    # the edits that mend it, when a check knows them (the reporters do not show them yet)
    autofix: Optional[Fix] = None

    def sort_key(self) -> tuple[str, Span, str, str]:
        return (self.path, self.span, self.rule, self.message)


class Notice(Frozen):
    """Something the user should know that is not a finding (skipped file, bad comment...)."""

    message: str
    path: Optional[str] = None
    line: Optional[int] = None

    def render(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return where + self.message
