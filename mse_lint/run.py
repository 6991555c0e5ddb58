"""One lint run over paths: collect files per project, run file and project checks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from .cache import open_cache
from .catalog import Catalog
from .checks import ProjectContext, project_info
from .config import Settings
from .diagnostics import Diagnostic, Notice
from .engine import Engine, RunResult
from .files import collect, display


def lint(
    paths: Sequence[Path], catalog: Catalog, settings: Settings, cwd: Optional[Path] = None
) -> RunResult:
    """Raises ProjectError / ConfigError for what makes the run impossible (exit code 2)."""
    cwd = (cwd or Path.cwd()).resolve()
    collected = collect(paths, cwd=cwd, exclude=settings.exclude)
    diagnostics: list[Diagnostic] = []
    suppressed: list[Diagnostic] = []
    notices = list(collected.notices)
    checked = unreadable = 0
    for group in collected.groups:
        info = project_info(group.project)
        cache = open_cache(group.project, cwd, catalog, settings, info) if settings.cache else None
        engine = Engine(catalog, settings, info.local_modules, info, cache)
        result = engine.run(group.jobs)
        diagnostics.extend(result.diagnostics)
        suppressed.extend(result.suppressed)
        notices.extend(result.notices)
        checked += result.files_checked
        unreadable += result.files_unreadable
        if group.whole and group.project.mse_toml is not None:
            pctx = ProjectContext(
                group.project,
                group.project.manifest(),
                catalog,
                lambda p: display(Path(os.path.abspath(p)), cwd),
                settings.target_python,
            )
            whole = engine.run_project(pctx, str(cwd))
            diagnostics.extend(whole.diagnostics)
            suppressed.extend(whole.suppressed)
            notices.extend(whole.notices)
    diagnostics.sort(key=Diagnostic.sort_key)
    suppressed.sort(key=Diagnostic.sort_key)
    if collected.skipped_unshipped:
        n = collected.skipped_unshipped
        notices.append(
            Notice(f"{n} named file{'s' if n != 1 else ''} not checked: not shipped to the enclave")
        )
    return RunResult(diagnostics, suppressed, notices, checked, unreadable)
