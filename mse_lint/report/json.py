"""``--format json``: a JSON array of findings, one object each, sorted by path and position.

Stable: keys are only ever added, never renamed or removed. Documented in docs/output.md."""

from __future__ import annotations

import json
from typing import Any

from mse_lint.core.redact import encodable
from mse_lint.report import Report

SCHEMA_VERSION = 1


def finding(d: Any, catalog: Any) -> dict[str, Any]:
    rule = catalog.rules.get(d.rule)
    return {
        "rule": d.rule,
        "name": rule.name if rule else d.rule,
        "severity": d.severity.label,
        "path": encodable(d.path),
        "line": d.span.line,
        "column": d.span.col,
        "end_line": d.span.end_line,
        "end_column": d.span.end_col,
        "message": encodable(d.message),
        "fix": None if d.fix is None else encodable(d.fix),
    }


def render(report: Report) -> str:
    items = [finding(d, report.catalog) for d in report.diagnostics]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
