"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

What GitHub reads shapes it: every catalogue rule (not only those that fired) with descriptions,
help and a help URI; paths relative to the repository root under ``%SRCROOT%`` (never absolute
``file://`` URIs, so the file is the same on every machine); 1-based regions with an exclusive
end column counted in code points; a line hash that survives lines added above; suppressed
findings only on request (GitHub shows suppressed results as open alerts)."""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from mse_lint import __version__
from mse_lint.core.catalog import Rule
from mse_lint.core.diagnostics import Diagnostic, Notice, Severity
from mse_lint.core.links import REPOSITORY_URL, rule_url
from mse_lint.core.redact import encodable
from mse_lint.report import Report, Where
from mse_lint.report.source import Sources, file_uri, fingerprints, relative_to_root, uri_path

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
# GitHub's own scale for non-security alerts
_PROBLEM = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "recommendation"}
_DESCRIPTION_MAX = 1024  # GitHub truncates (and the Multitool warns) beyond this


def _plain(markdown: str) -> str:
    """Markdown of the catalogue as readable plain text (emphasis markers dropped)."""
    return re.sub(r"\*\*(.+?)\*\*", r"\1", markdown, flags=re.S)


def _paragraphs_within(text: str, limit: int) -> str:
    """Whole paragraphs up to ``limit`` characters; the first one cut at a word if too long."""
    out = ""
    for para in text.split("\n\n"):
        para = " ".join(para.split())
        candidate = f"{out}\n\n{para}" if out else para
        if len(candidate) > limit:
            break
        out = candidate
    if not out:
        first = " ".join(text.split())
        out = first[: limit - 1].rsplit(" ", 1)[0] + "…"
    return out


def _help_markdown(rule: Rule) -> str:
    from mse_lint.report.rule_docs import rule_markdown

    page = rule_markdown(rule)
    # the page's `# ID name` title repeats what the viewer already shows above the help
    return page.split("\n", 1)[1].lstrip("\n") if page.startswith("# ") else page


def rule_descriptor(rule: Rule, docs: str) -> dict[str, Any]:
    explanation = _plain(rule.explanation)
    tags = ["mse", rule.family]
    if rule.security_severity is not None:
        tags.append("security")
    properties: dict[str, Any] = {
        "tags": tags,
        "precision": rule.precision,
        "problem.severity": _PROBLEM[rule.severity],
    }
    if rule.security_severity is not None:
        properties["security-severity"] = f"{float(rule.security_severity):.1f}"
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": _paragraphs_within(rule.summary, _DESCRIPTION_MAX)},
        "fullDescription": {"text": _paragraphs_within(explanation, _DESCRIPTION_MAX)},
        "help": {
            "text": f"{explanation}\n\nFix: {rule.fix}",
            "markdown": _help_markdown(rule),
        },
        "helpUri": rule_url(docs, rule.id),
        "defaultConfiguration": {"level": _LEVEL[rule.severity], "enabled": rule.enabled},
        "properties": properties,
    }


def _artifact(path: str, where: Where) -> dict[str, str]:
    rel = relative_to_root(path, where.root, where.cwd)
    if rel is None:  # outside the repository: an absolute URI is all that can be said
        return {"uri": file_uri(path, where.cwd)}
    return {"uri": uri_path(rel), "uriBaseId": SRCROOT}


def _location(d: Diagnostic, where: Where) -> dict[str, Any]:
    sp = d.span
    return {
        "physicalLocation": {
            "artifactLocation": _artifact(d.path, where),
            "region": {
                "startLine": sp.line,
                "startColumn": sp.col,
                "endLine": sp.end_line,
                "endColumn": sp.end_col,
            },
        }
    }


def _notification(n: Notice, where: Where) -> dict[str, Any]:
    # A notice about one file means that file was not (fully) checked; the others are context.
    out: dict[str, Any] = {
        "level": "warning" if n.path else "note",
        "message": {"text": encodable(n.message)},
    }
    if n.path:
        physical: dict[str, Any] = {"artifactLocation": _artifact(n.path, where)}
        if n.line:
            physical["region"] = {"startLine": n.line}
        out["locations"] = [{"physicalLocation": physical}]
    return out


def document(report: Report, where: Where, version: Optional[str] = None) -> dict[str, Any]:
    rules = report.catalog.sorted_rules()
    index = {r.id: i for i, r in enumerate(rules)}
    shown = [(d, False) for d in report.diagnostics]
    if where.include_suppressed:
        shown += [(d, True) for d in report.suppressed]
        shown.sort(key=lambda item: item[0].sort_key())
    sources = Sources([*report.diagnostics, *report.suppressed], where.cwd, report.redactor)
    hashes = fingerprints([d for d, _ in shown], sources)
    results = []
    for (d, suppressed), line_hash in zip(shown, hashes):
        result: dict[str, Any] = {"ruleId": d.rule}
        if d.rule in index:
            result["ruleIndex"] = index[d.rule]
        result.update(
            {
                "level": _LEVEL[d.severity],
                "message": {"text": encodable(d.message)},
                "locations": [_location(d, where)],
                "partialFingerprints": {"primaryLocationLineHash": line_hash},
            }
        )
        if suppressed:
            result["suppressions"] = [{"kind": "inSource"}]
        results.append(result)
    version = version or __version__
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "mse-lint",
                "version": version,
                "semanticVersion": version,
                "informationUri": REPOSITORY_URL,
                "rules": [rule_descriptor(r, where.docs) for r in rules],
            }
        },
        "automationDetails": {"id": where.category},
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [_notification(n, where) for n in report.notices],
            }
        ],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: Report, where: Where) -> str:
    return json.dumps(document(report, where), indent=2, ensure_ascii=False) + "\n"
