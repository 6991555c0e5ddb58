"""Reporters: they render a finished run and never decide anything.

``FORMATS`` is the registry of output formats: a name (the value of ``--format``) and the module
whose ``render`` writes it. A new format is one module here and one line in ``FORMATS``; the
command line's choices and ``--help``, the README's option table and the check command's
dispatch all come from this table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Notice
from mse_lint.core.record import Frozen
from mse_lint.core.redact import Redactor


class Format(Frozen):
    """An output format. ``render(report, where)`` of ``module`` returns the text when
    ``where`` is true, ``render(report)`` otherwise; ``summary`` says what reads it (README).
    ``console`` writes to a terminal itself (colours, the rule links, a broken pipe): the check
    command calls its ``render`` with the stream."""

    name: str
    module: str
    where: bool = False  # render takes the run's Where (paths relative to the repository)
    summary: str = ""


# In the order --help and the README list them; console is the default.
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("console", "mse_lint.report.console"),
        Format("json", "mse_lint.report.json"),
        Format("sarif", "mse_lint.report.sarif", True, "GitHub code scanning"),
        Format("github", "mse_lint.report.github", True, "Actions annotations"),
        Format("gitlab", "mse_lint.report.gitlab", True, "Code Quality"),
        Format("junit", "mse_lint.report.junit"),
    )
}


class Report(Frozen):
    diagnostics: list[Diagnostic]
    suppressed: list[Diagnostic]
    notices: list[Notice]
    files_checked: int
    elapsed: float
    catalog: Catalog
    # the run's secrets: what source windows and fingerprints mask (see mse_lint.core.redact)
    redactor: Optional[Redactor] = None


def learn_all(redactor: Redactor, notices: Sequence[Notice], debug: Sequence[str] = ()) -> None:
    """Let the run's redactor judge the run's notices and debug lines before anything is
    written (the engine has judged every finding's message and masked it): a secret one of
    them quotes is then masked in all of them, and in every window."""
    for n in notices:
        redactor.learn(n.message)
    for line in debug:
        redactor.learn(line)


class Where(Frozen):
    """Decided by the CLI, rendered by the CI formats (sarif, github, gitlab).

    ``cwd``: the folder the findings' paths are relative to. ``root``: the folder the report's
    paths must be relative to (the repository root: SARIF's ``%SRCROOT%``). ``docs``: the base
    URL of the rule pages (see mse_lint.core.links). ``category``: SARIF
    ``automationDetails.id``."""

    cwd: str
    root: str
    docs: str
    category: str = "mse-lint/"
    include_suppressed: bool = False
