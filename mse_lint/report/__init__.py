"""Reporters: they render a finished run and never decide anything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Notice
from mse_lint.core.record import Frozen
from mse_lint.core.redact import Redactor


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
