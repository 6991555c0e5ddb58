"""Golden files for the github, gitlab, junit and json formats, and what each format promises:
escaping, stable fingerprints, valid XML, the JSON schema shipped in docs/.

Regenerate the golden files after an intended change with
``MSE_LINT_UPDATE_GOLDEN=1 pytest tests/test_report_formats.py`` and review the diff."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from report_helpers import FIXTURE, GOLDEN, ODD, SECRETS, fixture_report, where

from mse_lint.core.catalog import Catalog
from mse_lint.core.record import replace
from mse_lint.report import Report, github, gitlab, junit
from mse_lint.report import json as json_report

ROOT = Path(__file__).resolve().parent.parent


def render(fmt: str, report: Report) -> str:
    if fmt == "github":
        return github.render(report, where())
    if fmt == "gitlab":
        return gitlab.render(report, where())
    if fmt == "junit":
        return junit.render(report)
    return json_report.render(report)


GOLDEN_NAMES = {
    "github": "github.txt",
    "gitlab": "gitlab.json",
    "junit": "junit.xml",
    "json": "json.json",
}


@pytest.mark.parametrize("fmt", sorted(GOLDEN_NAMES))
def test_golden(catalog: Catalog, fmt: str) -> None:
    text = render(fmt, fixture_report(catalog, odd=True))
    golden = GOLDEN / GOLDEN_NAMES[fmt]
    if os.environ.get("MSE_LINT_UPDATE_GOLDEN"):
        golden.write_bytes(text.encode("utf-8"))
    assert text == golden.read_bytes().decode("utf-8")
    for secret in SECRETS:
        assert secret not in text
    assert str(FIXTURE) not in text  # no absolute path


@pytest.mark.parametrize("fmt", sorted(GOLDEN_NAMES))
def test_no_findings(catalog: Catalog, fmt: str) -> None:
    empty = Report([], [], [], 3, 0.0, catalog)
    text = render(fmt, empty)
    if fmt == "github":
        assert text == ""
    elif fmt == "junit":
        suites = ET.fromstring(text)
        assert (suites.get("tests"), suites.get("failures")) == ("1", "0")
        assert [c.get("name") for c in suites.iter("testcase")] == ["no problems found"]
    else:
        assert json.loads(text) == []


# -- github -----------------------------------------------------------------------------------
def test_github_escaping(catalog: Catalog) -> None:
    text = github.render(Report([ODD], [], [], 1, 0.0, catalog), where())
    assert text == (
        "::error file=odd dir/we%2Cird%3Aname.py,line=2,endLine=3,col=3,endColumn=1,"
        "title=MSE101 subprocess-call::"
        # the line break and the bell of the message are user text: shown as escapes, so
        # that no user text can start a line (a workflow command of its own)
        '`subprocess.run` <in> "a & b" 100%25 sure,\\r\\nsecond: line \\x07 été\n'
    )


def test_github_levels_and_paths_from_the_repository_root(catalog: Catalog) -> None:
    lines = render("github", fixture_report(catalog)).splitlines()
    assert [ln.split(" ", 1)[0] for ln in lines] == [
        "::error",  # MSE201
        "::notice",  # MSE109, lowered to info
        "::error",
        "::error",
        "::error",
        "::error",  # mse.toml
        "::error",  # requirements.txt
    ]
    assert lines[0].startswith(
        "::error file=app.py,line=9,endLine=9,col=29,endColumn=61,title=MSE201 hardcoded-secret::"
    )
    # a report root above the current folder: paths get the folder's prefix
    text = github.render(fixture_report(catalog), where(root=FIXTURE.parent.parent))
    assert text.splitlines()[0].startswith("::error file=projects/report_formats/app.py,line=9,")


# -- gitlab -----------------------------------------------------------------------------------
def _gitlab(catalog: Catalog, folder: Path) -> list[dict[str, object]]:
    w = replace(where(), cwd=str(folder), root=str(folder))
    result: list[dict[str, object]] = json.loads(
        gitlab.render(fixture_report(catalog, folder=folder), w)
    )
    return result


def test_gitlab_fingerprints_are_unique_and_survive_lines_added_above(
    catalog: Catalog, tmp_path: Path
) -> None:
    before = _gitlab(catalog, FIXTURE)
    prints = [i["fingerprint"] for i in before]
    assert len(set(prints)) == len(prints)  # two MSE101 on one line still differ
    copy = tmp_path / "report_formats"
    shutil.copytree(FIXTURE, copy)
    app = copy / "app.py"
    app.write_text("# a new first line\n\n" + app.read_text(encoding="utf-8"), encoding="utf-8")
    after = _gitlab(catalog, copy)
    assert [i["fingerprint"] for i in after] == prints
    lines = [i["location"]["positions"]["begin"]["line"] for i in after]  # type: ignore[index]
    assert lines[:5] == [11, 16, 21, 27, 27]


def test_gitlab_severity_mapping(catalog: Catalog) -> None:
    items = _gitlab(catalog, FIXTURE)
    assert {(i["check_name"], i["severity"]) for i in items} == {
        ("MSE201 hardcoded-secret", "critical"),
        ("MSE109 silent-shell-out", "info"),
        ("MSE101 subprocess-call", "critical"),
        ("MSE206 secret-file-shipped", "critical"),
        ("MSE205 secret-in-requirements", "critical"),
    }


# -- junit ------------------------------------------------------------------------------------
def test_junit_is_valid_xml_with_one_testcase_per_finding(catalog: Catalog) -> None:
    report = fixture_report(catalog, odd=True)
    suites = ET.fromstring(junit.render(report).encode("utf-8"))
    cases = list(suites.iter("testcase"))
    assert len(cases) == len(report.diagnostics) == int(suites.get("tests", "0"))
    odd = next(c for c in cases if c.get("file") == ODD.path)
    failure = odd.find("failure")
    assert failure is not None
    # markup survives the round trip; the control characters become visible, never raw
    assert (
        failure.get("message")
        == '`subprocess.run` <in> "a & b" 100% sure,\\r\\nsecond: line \\x07 été'
    )
    assert {s.get("name") for s in suites.iter("testsuite")} == {
        "app.py",
        "mse.toml",
        "requirements.txt",
        ODD.path,
    }


# -- json -------------------------------------------------------------------------------------
def test_json_output_matches_the_schema_shipped_in_docs(catalog: Catalog) -> None:
    schema = json.loads((ROOT / "docs" / "output.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = json.loads(json_report.render(fixture_report(catalog, odd=True)))
    jsonschema.Draft202012Validator(schema).validate(doc)
    # the schema is not vacuous: a finding without a rule or with a 0 line fails it
    bad = dict(doc[0])
    del bad["rule"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([bad], schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{**doc[0], "line": 0}], schema)


def test_json_schema_lists_every_key_the_format_writes(catalog: Catalog) -> None:
    schema = json.loads((ROOT / "docs" / "output.schema.json").read_text(encoding="utf-8"))
    doc = json.loads(json_report.render(fixture_report(catalog)))
    assert set(doc[0]) == set(schema["items"]["properties"]) == set(schema["items"]["required"])
