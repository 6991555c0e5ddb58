"""``--format gitlab``: a GitLab Code Quality report (a subset of the Code Climate spec).

GitLab matches issues between the base and the merge request by ``fingerprint``: it hashes the
rule, the path and the finding's line hash and occurrence (see ``source.fingerprints``), never
the line number, so a finding keeps its identity when code is added above it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mse_lint.core.diagnostics import Severity
from mse_lint.core.redact import encodable
from mse_lint.report import Report, Where
from mse_lint.report.source import Sources, fingerprints, relative_to_root, shown_path

# GitLab's scale: info, minor, major, critical, blocker. An error breaks or leaks in the
# enclave: critical; a warning may: minor (major is left for nothing so the two stay apart).
SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "minor", Severity.INFO: "info"}


def render(report: Report, where: Where) -> str:
    sources = Sources([*report.diagnostics, *report.suppressed], where.cwd, report.redactor)
    hashes = fingerprints(report.diagnostics, sources)
    items: list[dict[str, Any]] = []
    for d, line_hash in zip(report.diagnostics, hashes):
        rule = report.catalog.rules.get(d.rule)
        path = shown_path(relative_to_root(d.path, where.root, where.cwd) or d.path)
        key = "\0".join((d.rule, path, line_hash))
        security = rule is not None and rule.security_severity is not None
        items.append(
            {
                "type": "issue",
                "check_name": f"{d.rule} {rule.name}" if rule else d.rule,
                "description": f"{d.rule}: {encodable(d.message)}",
                "categories": ["Security" if security else "Bug Risk"],
                "severity": SEVERITY[d.severity],
                "fingerprint": hashlib.sha256(key.encode("utf-8")).hexdigest()[:32],
                "location": {
                    "path": path,
                    "positions": {
                        "begin": {"line": d.span.line, "column": d.span.col},
                        "end": {"line": d.span.end_line, "column": d.span.end_col},
                    },
                },
            }
        )
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
