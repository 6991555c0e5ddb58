"""Per-file checks. Each family module exposes a class with ``codes`` (the rule IDs it can
report), ``wants(text)`` (a cheap text prefilter) and ``run(ctx)`` returning Diagnostics."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional, Protocol

from ..catalog import Catalog
from ..diagnostics import Diagnostic, Span


@dataclass
class FileContext:
    """What a check may look at for one file. Checks never read other files themselves."""

    path: str  # as displayed and reported
    source: str
    tree: ast.Module
    catalog: Catalog
    target_python: tuple[int, int] = (3, 10)
    local_modules: frozenset[str] = frozenset()
    _lines: Optional[list[str]] = field(default=None, repr=False)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return self._lines

    def char_col(self, line: int, byte_col: int) -> int:
        """ast columns are UTF-8 byte offsets; reports use characters (1-based)."""
        if 1 <= line <= len(self.lines):
            text = self.lines[line - 1]
            if not text.isascii():
                return len(text.encode("utf-8")[:byte_col].decode("utf-8", "ignore")) + 1
        return byte_col + 1

    def span(self, node: ast.AST) -> Span:
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        col = getattr(node, "col_offset", 0)
        end_col = getattr(node, "end_col_offset", None)
        if end_col is None:
            end_col = col + 1
        return Span(line, self.char_col(line, col), end_line, self.char_col(end_line, end_col))

    def diagnostic(
        self, rule_id: str, node: ast.AST, stmt: Optional[ast.AST] = None, **values: object
    ) -> Diagnostic:
        rule = self.catalog.get(rule_id)
        stmt_line = getattr(stmt, "lineno", 0) if stmt is not None else 0
        return Diagnostic(
            path=self.path,
            span=self.span(node),
            rule=rule_id,
            severity=rule.severity,
            message=rule.format(**values),
            fix=rule.fix,
            stmt_line=stmt_line,
        )


class Check(Protocol):
    codes: frozenset[str]

    def wants(self, text: str) -> bool: ...

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]: ...


def build_checks(catalog: Catalog, enabled: frozenset[str]) -> list[Check]:
    """The checks that can report at least one enabled rule."""
    from .process import ProcessCheck

    checks: list[Check] = [ProcessCheck(catalog)]
    return [c for c in checks if c.codes & enabled]
