"""``--format junit``: JUnit XML for CI test-report views (GitLab, Jenkins, Azure...).

One ``testsuite`` per file with findings and one failing ``testcase`` per finding; a clean run is
one passing test case, so a CI view shows the check ran. No timestamps or timings: the same
findings give the same bytes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby

from mse_lint.core.redact import visible
from mse_lint.report import Report

# XML 1.0 cannot carry these even escaped; user text has its control characters shown as
# escapes before (mse_lint.core.redact.visible), these are what is left
_NOT_XML = re.compile("[\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render(report: Report) -> str:
    diags = report.diagnostics
    root = ET.Element(
        "testsuites",
        name="mse-lint",
        tests=str(max(len(diags), 1)),
        failures=str(len(diags)),
        errors="0",
    )
    if not diags:
        suite = ET.SubElement(
            root, "testsuite", name="mse-lint", tests="1", failures="0", errors="0", skipped="0"
        )
        ET.SubElement(suite, "testcase", name="no problems found", classname="mse-lint")
    for raw_path, group in groupby(diags, key=lambda d: d.path):
        found = list(group)
        path = visible(raw_path)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_xml_text(path),
            tests=str(len(found)),
            failures=str(len(found)),
            errors="0",
            skipped="0",
        )
        for d in found:
            rule = report.catalog.rules.get(d.rule)
            name = rule.name if rule else d.rule
            sp = d.span
            case = ET.SubElement(
                suite,
                "testcase",
                name=_xml_text(f"{d.rule} {name} at {path}:{sp.line}:{sp.col}"),
                classname=_xml_text(path),
                file=_xml_text(path),
                line=str(sp.line),
            )
            message = visible(d.message)
            failure = ET.SubElement(
                case, "failure", message=_xml_text(message), type=f"{d.rule} {d.severity.label}"
            )
            body = f"{path}:{sp.line}:{sp.col}: {d.severity.label} {d.rule} {name}: {message}"
            if d.fix:
                body += f"\nfix: {visible(d.fix)}"
            # XML parsers turn CR LF into LF in text anyway; writing LF keeps the bytes stable
            failure.text = _xml_text(body.replace("\r\n", "\n").replace("\r", "\n"))
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'
