"""Human output: findings grouped by file, with the source line and a marker under the span.

One layout, two sinks: plain text (not a terminal, NO_COLOR, pre-commit, CI logs) and rich
styles on a terminal. rich is only imported for the latter, which keeps small runs fast."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from typing import Optional, TextIO

from ..diagnostics import Diagnostic, Severity
from ..redact import mask_span
from . import Report

Segment = tuple[str, str]  # (text, rich style)
Line = list[Segment]

_SEV_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


class _Sources:
    """Source lines for display, with every secret span of the run masked."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self._cache: dict[str, list[str]] = {}
        self._secrets: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for d in diagnostics:
            if not d.secret:
                continue
            sp = d.span
            for n in range(sp.line, sp.end_line + 1):
                start = sp.col - 1 if n == sp.line else 0
                end = sp.end_col - 1 if n == sp.end_line else 1 << 30
                self._secrets.setdefault((d.path, n), []).append((start, end))

    def line(self, path: str, number: int) -> Optional[str]:
        if path not in self._cache:
            try:
                if _escapes(path):
                    raise FileNotFoundError(path)
                with open(path, "rb") as fh:
                    data = fh.read()
                text = data.decode("utf-8", "replace")
                self._cache[path] = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            except OSError:
                self._cache[path] = []
        lines = self._cache[path]
        if not 0 < number <= len(lines):
            return None
        text = lines[number - 1]
        for start, end in self._secrets.get((path, number), ()):
            text = mask_span(text, start, end)
        return text


def _escapes(path: str) -> bool:
    """The path goes through a symlink to outside the folder of the run: what it points to is
    not part of the project (MSE207) and is never shown."""
    import os

    real = os.path.realpath(path)
    if real == os.path.abspath(path):
        return False
    here = os.path.realpath(os.getcwd())
    return not (real == here or real.startswith(here.rstrip(os.sep) + os.sep))


def _finding(d: Diagnostic, name: str, sources: _Sources) -> Iterator[Line]:
    sev = d.severity
    yield [
        (f"  {d.span.line}:{d.span.col}", "dim"),
        ("  ", ""),
        (f"{sev.label:<7}", _SEV_STYLE[sev]),
        (" ", ""),
        (f"{d.rule} ", "bold"),
        (f"{name}", "magenta"),
        (": ", ""),
        (d.message, ""),
    ]
    text = sources.line(d.path, d.span.line)
    if text is not None and text.strip():
        shown = text.expandtabs(4) if "\t" not in text[: d.span.col] else text
        width = len(str(d.span.line))
        yield [(f"    {d.span.line} | ", "dim"), (shown.rstrip(), "")]
        start = max(d.span.col - 1, 0)
        end = d.span.end_col - 1 if d.span.end_line == d.span.line else len(text.rstrip())
        end = max(end, start + 1)
        yield [
            (f"    {' ' * width} | ", "dim"),
            (" " * start + "^" * (end - start), _SEV_STYLE[sev]),
        ]
    if d.fix:
        yield [("    fix: ", "green"), (d.fix, "")]


def _summary(report: Report) -> Iterator[Line]:
    diags = report.diagnostics
    took = f"{report.elapsed:.2f} s"
    files = f"{report.files_checked} file{'s' if report.files_checked != 1 else ''}"
    if not diags:
        yield [("No problems found", "bold green"), (f": {files} checked in {took}.", "")]
    else:
        by_sev = Counter(d.severity for d in diags)
        parts = [
            f"{by_sev[s]} {s.label}{'s' if by_sev[s] != 1 else ''}"
            for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
            if by_sev[s]
        ]
        n_files = len({d.path for d in diags})
        yield [
            (f"Found {len(diags)} problem{'s' if len(diags) != 1 else ''}", "bold"),
            (f" ({', '.join(parts)}) in {n_files} file{'s' if n_files != 1 else ''}; ", ""),
            (f"{files} checked in {took}.", ""),
        ]
        by_rule = Counter(d.rule for d in diags)
        for rule_id in sorted(by_rule):
            rule = report.catalog.rules.get(rule_id)
            yield [
                (f"  {by_rule[rule_id]:>4}  ", ""),
                (f"{rule_id} ", "bold"),
                (rule.name if rule else "", "magenta"),
            ]
    if report.suppressed:
        n = len(report.suppressed)
        yield [(f"{n} finding{'s' if n != 1 else ''} suppressed by comments.", "dim")]


def lines(report: Report, quiet: bool) -> Iterator[Line]:
    sources = _Sources(report.diagnostics)
    current = None
    for d in report.diagnostics:
        if d.path != current:
            if current is not None:
                yield []
            yield [(d.path, "bold underline")]
            current = d.path
        rule = report.catalog.rules.get(d.rule)
        yield from _finding(d, rule.name if rule else d.rule, sources)
    if quiet:
        return
    if report.diagnostics:
        yield []
    yield from _summary(report)


def render(report: Report, out: TextIO, quiet: bool, color: bool) -> None:
    if not color:
        for line in lines(report, quiet):
            out.write("".join(t for t, _ in line) + "\n")
        return
    from rich.console import Console
    from rich.text import Text

    tty = hasattr(out, "isatty") and out.isatty()
    console = Console(
        file=out,
        highlight=False,
        soft_wrap=True,
        force_terminal=True,
        color_system="auto" if tty else "standard",
    )
    for line in lines(report, quiet):
        console.print(Text.assemble(*line))


def use_color(stream: TextIO, force: Optional[bool]) -> bool:
    import os

    if force is not None:
        return force
    if os.environ.get("NO_COLOR"):
        return False
    return (hasattr(stream, "isatty") and stream.isatty() and sys.platform != "win32") or False
