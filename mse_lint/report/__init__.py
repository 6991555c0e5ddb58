"""Reporters: they render a finished run and never decide anything."""

from __future__ import annotations

from ..catalog import Catalog
from ..diagnostics import Diagnostic, Notice
from ..record import Frozen
from ..record import set_field as _set


class Report(Frozen):
    diagnostics: list[Diagnostic]
    suppressed: list[Diagnostic]
    notices: list[Notice]
    files_checked: int
    elapsed: float
    catalog: Catalog

    def __init__(
        self,
        diagnostics: list[Diagnostic],
        suppressed: list[Diagnostic],
        notices: list[Notice],
        files_checked: int,
        elapsed: float,
        catalog: Catalog,
    ) -> None:
        _set(self, "diagnostics", diagnostics)
        _set(self, "suppressed", suppressed)
        _set(self, "notices", notices)
        _set(self, "files_checked", files_checked)
        _set(self, "elapsed", elapsed)
        _set(self, "catalog", catalog)


class Where(Frozen):
    """Decided by the CLI, rendered by the CI formats (sarif, github, gitlab).

    ``cwd``: the folder the findings' paths are relative to. ``root``: the folder the report's
    paths must be relative to (the repository root: SARIF's ``%SRCROOT%``). ``docs``: the base
    URL of the rule pages (see mse_lint.links). ``category``: SARIF ``automationDetails.id``."""

    cwd: str
    root: str
    docs: str
    category: str = "mse-lint/"
    include_suppressed: bool = False

    def __init__(
        self,
        cwd: str,
        root: str,
        docs: str,
        category: str = "mse-lint/",
        include_suppressed: bool = False,
    ) -> None:
        _set(self, "cwd", cwd)
        _set(self, "root", root)
        _set(self, "docs", docs)
        _set(self, "category", category)
        _set(self, "include_suppressed", include_suppressed)
