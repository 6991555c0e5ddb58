"""Suppression comments: ``# mse-lint: ignore[MSE101, MSE2] -- reason``, ``# noqa: MSE101`` and
file-level ``# mse-lint: ignore-file[MSE1]``.

A comment applies to a finding on its own line, on the first line of the statement holding the
finding (multi-line statements), or, when it stands alone on its line, to the line after it.
A bare ``# mse-lint: ignore`` without IDs is refused: it would also hide rules added later.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator

from mse_lint.core.diagnostics import Diagnostic, Notice, Span
from mse_lint.core.record import Mutable, field, replace

_MSE = re.compile(
    r"#\s*mse-lint\s*:\s*(ignore-file|ignore)\b\s*(\[([^\]]*)\])?\s*(--\s*(.*))?", re.I
)
_NOQA = re.compile(r"#\s*noqa\s*:\s*([A-Z]+[0-9]*(?:[\s,]+[A-Z]+[0-9]*)*)", re.I)
_CODE = re.compile(r"^MSE\d{0,3}$")


class Suppression(Mutable):
    line: int
    col: int
    codes: tuple[str, ...]
    standalone: bool
    file_level: bool = False
    used: set[str] = field(default_factory=set)

    def covers(self, rule: str) -> str | None:
        for c in self.codes:
            if rule.startswith(c):
                return c
        return None


def _comments(source: str) -> Iterator[tuple[int, int, str, bool]]:
    """(line, col, text, standalone) for every comment token."""
    import tokenize  # only for files that mention mse-lint or noqa

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return
    code_lines: set[int] = set()
    comments = []
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            comments.append(tok)
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            for ln in range(tok.start[0], tok.end[0] + 1):
                code_lines.add(ln)
    for tok in comments:
        yield tok.start[0], tok.start[1] + 1, tok.string, tok.start[0] not in code_lines


def _plain_comments(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """Comments of a `#`-commented text file (requirements.txt, TOML): no string syntax."""
    for number, line in enumerate(text.splitlines(), start=1):
        at = line.find("#")
        if at >= 0:
            yield number, at + 1, line[at:], not line[:at].strip()


def parse(source: str, path: str, python: bool = True) -> tuple[list[Suppression], list[Notice]]:
    low = source.lower()
    # both comment forms are case-insensitive; a noqa counts only when it names an MSE code
    # (projects are full of noqa comments for other tools: tokenizing them was a tenth of a run)
    if "mse-lint" not in low and not ("noqa" in low and "mse" in low):
        return [], []
    found: list[Suppression] = []
    notices: list[Notice] = []
    comments = _comments(source) if python else _plain_comments(source)
    for line, col, text, standalone in comments:
        m = _MSE.search(text)
        if m:
            kind, bracket, inner = m.group(1).lower(), m.group(2), m.group(3)
            codes = tuple(c.strip().upper() for c in (inner or "").split(",") if c.strip())
            bad = [c for c in codes if not _CODE.match(c)]
            if bracket is None or not codes:
                notices.append(
                    Notice(
                        f"bare `# mse-lint: {kind}` refused: name the rule IDs, "
                        f"e.g. `# mse-lint: {kind}[MSE101]`, so that future rules are not hidden",
                        path,
                        line,
                    )
                )
                continue
            if bad:
                notices.append(Notice(f"suppression names unknown rule IDs {bad}", path, line))
            codes = tuple(c for c in codes if _CODE.match(c))
            found.append(Suppression(line, col, codes, standalone, kind == "ignore-file"))
            continue
        m = _NOQA.search(text)
        if m:
            codes = tuple(
                c.upper() for c in re.split(r"[\s,]+", m.group(1)) if c.upper().startswith("MSE")
            )
            if codes:
                found.append(Suppression(line, col, codes, standalone))
    return found, notices


def apply(
    diagnostics: Iterable[Diagnostic], suppressions: list[Suppression]
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Split into (kept, suppressed)."""
    if not suppressions:
        return list(diagnostics), []
    by_line: dict[int, list[Suppression]] = {}
    file_level = [s for s in suppressions if s.file_level]
    for s in suppressions:
        if not s.file_level:
            by_line.setdefault(s.line, []).append(s)
    kept: list[Diagnostic] = []
    suppressed: list[Diagnostic] = []
    for d in diagnostics:
        hit = None
        for s in file_level:
            code = s.covers(d.rule)
            if code:
                hit = (s, code)
                break
        if hit is None:
            for line in {d.span.line, d.stmt_line or d.span.line}:
                candidates = list(by_line.get(line, ()))
                candidates += [s for s in by_line.get(line - 1, ()) if s.standalone]
                for s in candidates:
                    code = s.covers(d.rule)
                    if code:
                        hit = (s, code)
                        break
                if hit:
                    break
        if hit:
            hit[0].used.add(hit[1])
            suppressed.append(d)
        else:
            kept.append(d)
    return kept, suppressed


def unused(
    suppressions: list[Suppression], enabled: frozenset[str], template: Diagnostic
) -> list[Diagnostic]:
    """MSE003 findings for suppression codes that covered nothing (enabled rules only).
    ``template`` carries the rule, severity, path and a message with a ``{codes}`` slot."""
    out = []
    for s in suppressions:
        stale = [c for c in s.codes if c not in s.used and any(r.startswith(c) for r in enabled)]
        if stale:
            span = Span(s.line, s.col, s.line, s.col + 1)
            message = template.message.replace("{codes}", ", ".join(stale))
            out.append(replace(template, span=span, stmt_line=s.line, message=message))
    return out
