"""MSE413: severity per finding (error without fallback, warning with one), messages, and
severity overrides from the settings. Where each finding is: tests/fixtures/environment/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Optional

from helpers import mse_lint_command

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Severity
from mse_lint.core.record import replace
from mse_lint.core.settings import Settings
from mse_lint.pipeline.engine import Engine, FileJob

FIXTURE = Path(__file__).parent / "fixtures" / "environment" / "reads.py"


def check(
    catalog: Catalog, source: str, tmp_path: Path, settings: Optional[Settings] = None
) -> list[Diagnostic]:
    path = tmp_path / "app.py"
    path.write_text(source)
    result = Engine(catalog, settings or Settings()).check_file(FileJob(str(path), "app.py"))
    return [d for d in result.diagnostics if d.rule == "MSE413"]


def test_error_without_fallback_warning_with_one(catalog: Catalog, tmp_path: Path) -> None:
    source = (
        "import os\n"
        'A = os.environ["DATABASE_URL"]\n'
        'B = os.getenv("REDIS_URL")\n'
        'C = os.getenv("REDIS_URL", "redis://localhost")\n'
        'D = os.environ.get("QUEUE") or "memory"\n'
        'E = os.environ.pop("ONCE")\n'
    )
    found = [(d.span.line, d.span.col, d.severity) for d in check(catalog, source, tmp_path)]
    assert found == [
        (2, 5, Severity.ERROR),
        (3, 5, Severity.ERROR),
        (4, 5, Severity.WARNING),
        (5, 5, Severity.WARNING),
        (6, 5, Severity.ERROR),
    ]


def test_messages_say_what_happens(catalog: Catalog, tmp_path: Path) -> None:
    source = (
        "import os\n"
        'A = os.environ["DATABASE_URL"]\n'
        'B = os.getenv("REDIS_URL")\n'
        'C = os.getenv("DEBUG", "0")\n'
    )
    a, b, c = (d.message for d in check(catalog, source, tmp_path))
    assert a == (
        '`os.environ["DATABASE_URL"]` reads `$DATABASE_URL`, which does not exist in the enclave '
        "(only its 11 variables do): it raises KeyError"
    )
    assert b.endswith("it returns None") and "`$REDIS_URL`" in b
    assert c.endswith("the fallback is always used there")


def test_fixture_severities(catalog: Catalog) -> None:
    """In the fixture, the reads with a fallback are warnings and the others errors."""
    result = Engine(catalog, Settings()).check_file(FileJob(str(FIXTURE), "reads.py"))
    lines = FIXTURE.read_text().splitlines()
    fallback = (
        "APP_DEBUG",
        "LOG_LEVEL",
        "DJANGO_SETTINGS_MODULE",
        "LOCAL_GET",
        "A_URL",
        "FEATURE_X",
        "FEATURE_Y",
        "FEATURE_Z",
        'environ["D_URL"]',
        'environ["B_URL"]',
        'environ["C_URL"]',
    )
    warnings = {i for i, text in enumerate(lines, start=1) if any(f in text for f in fallback)}
    assert len(warnings) == 11
    by_severity: dict[Severity, set[int]] = {Severity.WARNING: set(), Severity.ERROR: set()}
    for d in result.diagnostics:
        assert d.rule == "MSE413"
        by_severity[d.severity].add(d.span.line)
    assert by_severity[Severity.WARNING] == warnings
    assert len(by_severity[Severity.ERROR]) == 9


def test_severity_override_applies_to_both_forms(catalog: Catalog, tmp_path: Path) -> None:
    source = 'import os\nA = os.environ["X_URL"]\nB = os.getenv("Y_URL", "y")\n'
    settings = replace(Settings(), severity={"MSE413": Severity.INFO})
    assert [d.severity for d in check(catalog, source, tmp_path, settings)] == [
        Severity.INFO,
        Severity.INFO,
    ]
    settings = replace(Settings(), severity={"MSE4": Severity.WARNING})
    assert [d.severity for d in check(catalog, source, tmp_path, settings)] == [
        Severity.WARNING,
        Severity.WARNING,
    ]


def test_cli_reports_the_per_finding_severity(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.py").write_text('import os\nB = os.getenv("Y_URL", "y")\n')
    done = subprocess.run(
        [*mse_lint_command(), "check", "--isolated", "--format", "json", "--fail-on", "error", "."],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (finding,) = json.loads(done.stdout)
    assert (finding["rule"], finding["severity"], finding["line"]) == ("MSE413", "warning", 2)
