"""Human output: findings grouped by file, with the source line and a marker under the span.

One layout, two sinks: plain text (not a terminal, NO_COLOR, pre-commit, CI logs) and rich
styles on a terminal. rich is only imported for the latter, which keeps small runs fast."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from typing import Optional, TextIO

from mse_lint.core.diagnostics import Diagnostic, Severity
from mse_lint.core.links import rule_url
from mse_lint.core.redact import line_safe, visible
from mse_lint.report import Report
from mse_lint.report.source import Sources

Segment = tuple[str, str]  # (text, rich style)
Line = list[Segment]

_SEV_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


_WIDTH = 160  # the part of a long line shown around the finding (minified or generated code)


def _window(line: str, start: int, end: int) -> tuple[str, int, int]:
    """At most ``_WIDTH`` characters of ``line`` around columns ``start:end``, with ``…`` where
    it was cut, and the columns in what is shown."""
    if len(line) <= _WIDTH:
        return line, start, end
    first = max(0, min(start - 20, len(line) - _WIDTH))
    last = first + _WIDTH
    part = line[first:last]
    if first:
        part = "…" + part[1:]
    if last < len(line):
        part = part[:-1] + "…"
    return part, start - first, max(min(end, last) - first, start - first + 1)


def _visible_columns(text: str, start: int, end: int) -> tuple[str, int, int]:
    """``text`` with its control characters shown as escapes (``\\x1b``: never sent to the
    terminal), and the columns ``start:end`` moved to where those characters are now."""
    shown = visible(text)
    if shown == text:
        return text, start, end
    where = [0]
    for ch in text:
        where.append(where[-1] + len(visible(ch)))

    def at(i: int) -> int:
        return where[max(0, min(i, len(text)))] + max(0, i - len(text))

    return shown, at(start), at(end)


def _finding(d: Diagnostic, name: str, sources: Sources, link: str) -> Iterator[Line]:
    sev = d.severity
    yield [
        (f"  {d.span.line}:{d.span.col}", "dim"),
        ("  ", ""),
        (f"{sev.label:<7}", _SEV_STYLE[sev]),
        (" ", ""),
        (d.rule, f"bold link {link}" if link else "bold"),
        (" ", ""),
        (name, "magenta"),
        (": ", ""),
        (visible(d.message), ""),
    ]
    text = None if d.whole_file else sources.line(d.path, d.span.line)
    if text is not None and text.strip():
        shown = text.expandtabs(4) if "\t" not in text[: d.span.col] else text
        shown = shown.rstrip()
        start = max(d.span.col - 1, 0)
        end = d.span.end_col - 1 if d.span.end_line == d.span.line else len(shown)
        end = max(end, start + 1)
        shown, start, end = _visible_columns(shown, start, end)
        end = max(end, start + 1)
        shown, start, end = _window(shown, start, end)
        width = len(str(d.span.line))
        yield [(f"    {d.span.line} | ", "dim"), (shown, "")]
        yield [
            (f"    {' ' * width} | ", "dim"),
            (" " * start + "^" * (end - start), _SEV_STYLE[sev]),
        ]
    if d.fix:
        yield [("    fix: ", "green"), (visible(d.fix), "")]


def _summary(report: Report, docs: str) -> Iterator[Line]:
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
                (rule_id, f"bold link {rule_url(docs, rule_id)}" if docs and rule else "bold"),
                (" ", ""),
                (rule.name if rule else "", "magenta"),
            ]
    if report.suppressed:
        n = len(report.suppressed)
        yield [(f"{n} finding{'s' if n != 1 else ''} suppressed by comments.", "dim")]


def lines(report: Report, quiet: bool, docs: str = "") -> Iterator[Line]:
    """``docs``: the base URL of the rule pages, to link rule IDs to (empty: no links)."""
    sources = Sources([*report.diagnostics, *report.suppressed], redactor=report.redactor)
    current = None
    for d in report.diagnostics:
        if d.path != current:
            if current is not None:
                yield []
            # a path starts the line: never as a command a CI log reads (``::error::``)
            yield [(line_safe(visible(d.path)), "bold underline")]
            current = d.path
        rule = report.catalog.rules.get(d.rule)
        link = rule_url(docs, d.rule) if docs and rule else ""
        yield from _finding(d, rule.name if rule else d.rule, sources, link)
    if quiet:
        return
    if report.diagnostics:
        yield []
    yield from _summary(report, docs)


def render(report: Report, out: TextIO, quiet: bool, color: bool, docs: str = "") -> None:
    """Rule IDs link to ``docs`` pages (OSC 8 hyperlinks) only on a real terminal: piped or
    forced colour output stays free of escape sequences that a log viewer would show raw."""
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
    for line in lines(report, quiet, docs if tty else ""):
        console.print(Text.assemble(*line))


def use_color(stream: TextIO, force: Optional[bool]) -> bool:
    import os

    if force is not None:
        return force
    if os.environ.get("NO_COLOR"):
        return False
    return (hasattr(stream, "isatty") and stream.isatty() and sys.platform != "win32") or False
