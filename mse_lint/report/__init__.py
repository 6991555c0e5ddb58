"""Reporters: they render a finished run and never decide anything."""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import Catalog
from ..diagnostics import Diagnostic, Notice


@dataclass(frozen=True)
class Report:
    diagnostics: list[Diagnostic]
    suppressed: list[Diagnostic]
    notices: list[Notice]
    files_checked: int
    elapsed: float
    catalog: Catalog


@dataclass(frozen=True)
class Where:
    """Decided by the CLI, rendered by the CI formats (sarif, github, gitlab).

    ``cwd``: the folder the findings' paths are relative to. ``root``: the folder the report's
    paths must be relative to (the repository root: SARIF's ``%SRCROOT%``). ``docs``: the base
    URL of the rule pages (see mse_lint.links). ``category``: SARIF ``automationDetails.id``."""

    cwd: str
    root: str
    docs: str
    category: str = "mse-lint/"
    include_suppressed: bool = False
