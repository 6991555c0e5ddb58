"""The values that flow from checks to reporters."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional


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


@dataclass(frozen=True, order=True)
class Span:
    """1-based lines and columns; ``end_col`` is one past the last character."""

    line: int
    col: int
    end_line: int
    end_col: int


# Where a finding about a file as a whole points (it ships, it is a symlink, it is too big)
FILE_SPAN = Span(1, 1, 1, 2)


@dataclass(frozen=True)
class Diagnostic:
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
    # True when the span covers secret text: reporters never show it (see mse_lint.redact)
    secret: bool = False
    # True when the finding is about the file as a whole: reporters quote none of its lines
    # (a shipped secrets file or key, a binary, a symlink's target)
    whole_file: bool = False

    def sort_key(self) -> tuple[str, Span, str, str]:
        return (self.path, self.span, self.rule, self.message)


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not a finding (skipped file, bad comment...)."""

    message: str
    path: Optional[str] = None
    line: Optional[int] = None

    def render(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return where + self.message
