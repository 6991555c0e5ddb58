"""Shared by the report format tests: the fixture project's run as a Report."""

from __future__ import annotations

import os
from pathlib import Path

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Notice, Severity, Span
from mse_lint.core.record import replace
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint
from mse_lint.report import Report, Where

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "projects" / "report_formats"
GOLDEN = HERE / "golden"
SHARED_SARIF = HERE.parent.parent / "shared" / "sarif"
DOCS = "https://docs.example/mse-lint/rules"

# Rules that exist today and fire on the fixture: the golden files do not move when rules are
# added to the catalogue, only when these change.
SELECT = ("MSE101", "MSE109", "MSE201", "MSE205", "MSE206")
# The made-up secrets of the fixture: no format may print them.
SECRETS = ("Zq8vN2xLp4RtW7yKb9MdS3fHj6GcT1uE", "S3cretPass1", "Wh33lsPass9")

# A finding no rule produces today, to pin the escaping of every character the formats treat
# specially: %, CR, LF, ',', ':', XML markup, a control character and non-ASCII text.
ODD = Diagnostic(
    "odd dir/we,ird:name.py",
    Span(2, 3, 3, 1),
    "MSE101",
    Severity.ERROR,
    '`subprocess.run` <in> "a & b" 100% sure,\r\nsecond: line \x07 été',
    None,
    2,
)


def fixture_report(catalog: Catalog, odd: bool = False, folder: Path = FIXTURE) -> Report:
    """The fixture (or a copy in ``folder``) linted from its own folder, with paths as a user
    there sees them; MSE109 is lowered to info so that every severity appears."""
    settings = replace(Settings(select=SELECT), severity={"MSE109": Severity.INFO})
    old = Path.cwd()
    os.chdir(folder)
    try:
        outcome = lint([Path(".")], catalog, settings, cwd=folder)
    finally:
        os.chdir(old)
    diags = list(outcome.diagnostics)
    if odd:
        diags = sorted([*diags, ODD], key=Diagnostic.sort_key)
    return Report(diags, outcome.suppressed, outcome.notices, outcome.files_checked, 0.0, catalog)


def where(include_suppressed: bool = False, root: Path = FIXTURE) -> Where:
    return Where(str(FIXTURE), str(root), DOCS, "mse-lint/", include_suppressed)


def notice_report(catalog: Catalog) -> Report:
    return Report(
        [],
        [],
        [
            Notice("cannot read: Permission denied; not checked", "app.py"),
            Notice("suppression names unknown rule IDs ['MSE999']", "app.py", 3),
            Notice("no mse.toml found in . or above: checking every Python file there"),
        ],
        0,
        0.0,
        catalog,
    )
