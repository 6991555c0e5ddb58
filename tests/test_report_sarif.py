"""SARIF: the fixture project with findings in .py, mse.toml and requirements.txt, run through the
installed mse-lint, validated against the SARIF 2.1.0 schema (../shared/sarif/, beside the
project) and checked for what GitHub code scanning reads."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import mse_lint_command
from report_helpers import FIXTURE, SECRETS, SHARED_SARIF, notice_report, where

from mse_lint.core.catalog import Catalog
from mse_lint.core.links import default_docs_base
from mse_lint.report import sarif

SCHEMA_FILE = SHARED_SARIF / "sarif-schema-2.1.0.json"
needs_schema = pytest.mark.skipif(
    not SCHEMA_FILE.is_file(), reason=f"the SARIF schema is not at {SCHEMA_FILE}"
)


def validate(doc: Any) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if k != "MSE_LINT_DOCS_URL"}
    full.update(env or {})
    return subprocess.run(
        [*mse_lint_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=full
    )


def sarif_of(tmp_path: Path, *args: str, cwd: Path = FIXTURE) -> tuple[int, str, dict[str, Any]]:
    out = tmp_path / "out.sarif"
    proc = run(".", "--format", "sarif", "--output", str(out), *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    text = out.read_text(encoding="utf-8")
    return proc.returncode, text, json.loads(text)


@needs_schema
def test_fixture_sarif_is_valid_and_locates_findings_in_every_kind_of_file(
    catalog: Catalog, tmp_path: Path
) -> None:
    rc, text, doc = sarif_of(tmp_path, "--sarif-root", ".")
    assert rc == 1
    validate(doc)
    (run_,) = doc["runs"]
    results = run_["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert {"app.py", "mse.toml", "requirements.txt"} <= uris
    # the same findings, at the same places, as --format json (robust to rules added later)
    plain = json.loads(run(".", "--format", "json", cwd=FIXTURE).stdout)
    assert [
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"],
        )
        for r in results
    ] == [
        (
            f["rule"],
            f["path"],
            {
                "startLine": f["line"],
                "startColumn": f["column"],
                "endLine": f["end_line"],
                "endColumn": f["end_column"],
            },
        )
        for f in plain
    ]
    by_key = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]): r
        for r in results
    }
    # columns count code points: "café ☕" precedes the second call on line 25
    second = [r for r in results if r["ruleId"] == "MSE101"][1]
    assert second["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 25,
        "startColumn": 23,
        "endLine": 25,
        "endColumn": 37,
    }
    assert run_["columnKind"] == "unicodeCodePoints"
    for r in results:
        loc = r["locations"][0]["physicalLocation"]["artifactLocation"]
        assert loc["uriBaseId"] == "%SRCROOT%"
        assert run_["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] in ("error", "warning", "note")
        assert r["partialFingerprints"]["primaryLocationLineHash"].count(":") == 1
    assert by_key[("MSE206", 1)]["message"]["text"].startswith("mse.toml ships to the enclave")
    # the suppressed MSE205 on requirements.txt line 3 is left out by default
    assert ("MSE205", 3) not in by_key
    for secret in SECRETS:
        assert secret not in text
    assert str(FIXTURE) not in text and "file://" not in text
    assert run_["automationDetails"]["id"] == "mse-lint/"
    (invocation,) = run_["invocations"]
    assert invocation["executionSuccessful"] is True


def test_every_catalogue_rule_is_described(catalog: Catalog, tmp_path: Path) -> None:
    _, _, doc = sarif_of(tmp_path, "--sarif-root", ".")
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["name"] == "mse-lint"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == sorted(catalog.rules)
    for desc in rules:
        rule = catalog.rules[desc["id"]]
        assert desc["name"] == rule.name
        assert desc["shortDescription"]["text"] == rule.summary
        assert 0 < len(desc["fullDescription"]["text"]) <= 1024
        assert rule.fix in desc["help"]["text"]
        assert desc["help"]["markdown"].startswith("Severity: **")
        assert desc["helpUri"] == f"{default_docs_base()}/{rule.id}.md"
        level = {"error": "error", "warning": "warning", "info": "note"}[rule.severity.label]
        assert desc["defaultConfiguration"] == {"level": level, "enabled": rule.enabled}
        props = desc["properties"]
        assert props["precision"] in ("very-high", "high", "medium", "low")
        assert rule.family in props["tags"] and len(props["tags"]) <= 20
        if rule.security_severity is not None:
            value = props["security-severity"]
            assert isinstance(value, str) and 0.0 <= float(value) <= 10.0
            assert float(value) == float(rule.security_severity)
            assert "security" in props["tags"]
        else:  # any value would make GitHub file the result as a security alert
            assert "security-severity" not in props and "security" not in props["tags"]
    # the catalogue rates the process and secrets families (later families may add their own)
    security = {r["id"][:4] for r in rules if "security-severity" in r["properties"]}
    assert {"MSE1", "MSE2"} <= security
    assert rules[[r["id"] for r in rules].index("MSE204")]["properties"]["precision"] == "medium"


def test_docs_url_is_configurable(tmp_path: Path) -> None:
    out = tmp_path / "o.sarif"
    run(
        ".",
        "--format",
        "sarif",
        "-o",
        str(out),
        cwd=FIXTURE,
        env={"MSE_LINT_DOCS_URL": "https://mirror.example/r/"},
    )
    rules = json.loads(out.read_text())["runs"][0]["tool"]["driver"]["rules"]
    assert rules[0]["helpUri"] == f"https://mirror.example/r/{rules[0]['id']}.md"


@needs_schema
def test_zero_findings_is_valid(tmp_path: Path) -> None:
    clean = FIXTURE.parent / "scaffold_cloud"
    # clean but for its three never-matching .mseignore lines (MSE501, by design)
    rc, _, doc = sarif_of(tmp_path, "--ignore", "MSE501", cwd=clean)
    assert rc == 0
    validate(doc)
    assert doc["runs"][0]["results"] == []
    assert len(doc["runs"][0]["tool"]["driver"]["rules"]) > 20


def test_stdout_with_dash_and_default_root_is_the_repository(tmp_path: Path) -> None:
    # URIs are relative to the repository holding the checked folder, wherever mse-lint runs;
    # the category names the folder so that two projects of one repository do not replace
    # each other's upload
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    shutil.copytree(FIXTURE, repo / "services" / "api")
    for cwd, arg in (
        (repo / "services" / "api", "."),
        (repo, "services/api"),
        (tmp_path, "repo/services/api"),
    ):
        proc = run(arg, "--format", "sarif", "-o", "-", cwd=cwd)
        doc = json.loads(proc.stdout)
        uris = {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in doc["runs"][0]["results"]
        }
        assert {"services/api/app.py", "services/api/mse.toml"} <= uris, cwd
        assert doc["runs"][0]["automationDetails"]["id"] == "mse-lint/services/api/"
    # github annotations use the same root
    proc = run("services/api", "--format", "github", cwd=repo)
    assert "::error file=services/api/app.py,line=9,endLine=9,col=29," in proc.stdout


@needs_schema
def test_include_suppressed(tmp_path: Path) -> None:
    _, text, doc = sarif_of(tmp_path, "--sarif-root", ".", "--include-suppressed")
    validate(doc)
    results = doc["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert [
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
        for r in suppressed
    ] == [("MSE205", 3)]
    assert suppressed[0]["suppressions"] == [{"kind": "inSource"}]
    assert "Wh33lsPass9" not in text


def test_include_suppressed_is_for_sarif_only() -> None:
    proc = run(".", "--format", "json", "--include-suppressed", cwd=FIXTURE)
    assert proc.returncode == 2
    assert "--include-suppressed applies to --format sarif only" in proc.stderr


def test_fingerprints_survive_lines_added_above(tmp_path: Path) -> None:
    copy = tmp_path / "proj"
    shutil.copytree(FIXTURE, copy)
    (copy / ".git").mkdir()
    _, _, before = sarif_of(tmp_path, cwd=copy)
    app = copy / "app.py"
    app.write_text("# one\n# two\n\n" + app.read_text(encoding="utf-8"), encoding="utf-8")
    req = copy / "requirements.txt"
    req.write_text("# pinned\n" + req.read_text(encoding="utf-8"), encoding="utf-8")
    _, _, after = sarif_of(tmp_path, cwd=copy)

    def prints(doc: dict[str, Any]) -> list[tuple[str, str, int]]:
        return [
            (
                r["ruleId"],
                r["partialFingerprints"]["primaryLocationLineHash"],
                r["locations"][0]["physicalLocation"]["region"]["startLine"],
            )
            for r in doc["runs"][0]["results"]
        ]

    old, new = prints(before), prints(after)
    assert [p[:2] for p in old] == [p[:2] for p in new]
    assert [p[2] for p in new] != [p[2] for p in old]
    # GitHub matches alerts on (rule, fingerprint): two MSE101 on one line differ by occurrence
    keys = [p[:2] for p in old]
    assert len(set(keys)) == len(keys)
    assert {k[1].split(":")[1] for k in keys} == {"0", "1"}


@needs_schema
def test_notices_become_tool_notifications(catalog: Catalog) -> None:
    doc = sarif.document(notice_report(catalog), where())
    validate(doc)
    notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert notes[0] == {
        "level": "warning",
        "message": {"text": "cannot read: Permission denied; not checked"},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": "app.py", "uriBaseId": "%SRCROOT%"}}}
        ],
    }
    assert notes[1]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}
    assert notes[2] == {
        "level": "note",
        "message": {"text": "no mse.toml found in . or above: checking every Python file there"},
    }


@needs_schema
def test_paths_outside_the_root_and_odd_names(catalog: Catalog) -> None:
    from report_helpers import ODD, fixture_report

    report = fixture_report(catalog, odd=True)
    doc = sarif.document(report, where(root=FIXTURE / "sub"))
    validate(doc)
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"] for r in doc["runs"][0]["results"]
    ]
    assert all("uriBaseId" not in u and u["uri"].startswith("file:///") for u in uris)
    doc = sarif.document(report, where())
    odd = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in doc["runs"][0]["results"]
        if r["message"]["text"] == ODD.message
    ]
    assert odd == ["odd%20dir/we%2Cird%3Aname.py"]
