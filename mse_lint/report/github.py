"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::error file=app.py,line=3,endLine=3,col=5,endColumn=19,title=MSE101 subprocess-call::message``
GitHub shows them on the pull request's diff. Paths are relative to the repository root (the
workspace GitHub checks out), not to wherever mse-lint ran."""

from __future__ import annotations

from mse_lint.core.diagnostics import Diagnostic, Severity
from mse_lint.core.redact import visible
from mse_lint.report import Report, Where
from mse_lint.report.source import relative_to_root

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """The message part: GitHub decodes %25, %0D and %0A (the user text in it has no line
    break left: ``visible`` shows those as ``\\n``; only our own separators remain)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: also ``:`` and ``,``, which would end it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(d: Diagnostic, name: str, path: str) -> str:
    sp = d.span
    props = [
        ("file", visible(path)),
        ("line", str(sp.line)),
        ("endLine", str(sp.end_line)),
        ("col", str(sp.col)),
        ("endColumn", str(sp.end_col)),
        ("title", f"{d.rule} {name}"),
    ]
    head = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    message = visible(d.message) + (f"\nFix: {visible(d.fix)}" if d.fix else "")
    return f"::{_COMMAND[d.severity]} {head}::{escape_data(message)}\n"


def render(report: Report, where: Where) -> str:
    out = []
    for d in report.diagnostics:
        rule = report.catalog.rules.get(d.rule)
        path = relative_to_root(d.path, where.root, where.cwd) or d.path
        out.append(annotation(d, rule.name if rule else d.rule, path))
    return "".join(out)
