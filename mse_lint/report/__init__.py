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
