"""One lint run over paths: collect files per project, run file and project checks."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

from mse_lint.checks import ProjectContext, project_info
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Notice
from mse_lint.core.record import replace
from mse_lint.core.redact import Redactor, TextJudge
from mse_lint.core.settings import DEFAULT_TARGET_PYTHON, Settings
from mse_lint.pipeline import filters
from mse_lint.pipeline.cache import open_cache, refusal_message
from mse_lint.pipeline.engine import Engine, RunResult
from mse_lint.project.files import Collected, Group, collect, display
from mse_lint.project.target import effective_target


def lint(
    paths: Sequence[Path],
    catalog: Catalog,
    settings: Settings,
    cwd: Optional[Path] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> RunResult:
    """Raises ProjectError / ConfigError for what makes the run impossible (exit code 2).

    ``progress(done, total)`` is called with 0 before the first file and after each file."""
    cwd = (cwd or Path.cwd()).resolve()
    collected = collect(
        paths,
        cwd=cwd,
        exclude=settings.exclude,
        max_files=settings.max_files,
        max_depth=settings.max_depth,
    )
    on_file = _counter(collected, progress)
    run = RunResult([], [], list(collected.notices), 0, 0)
    judge: Optional[TextJudge] = None
    for group in collected.groups:
        engine = _lint_group(group, catalog, settings, cwd, on_file, run)
        if judge is None and engine.judges_built:
            judge = engine.text_judge  # no second copy of the secret families
    run.diagnostics.sort(key=Diagnostic.sort_key)
    run.suppressed.sort(key=Diagnostic.sort_key)
    if collected.skipped_unshipped:
        n = collected.skipped_unshipped
        run.notices.append(
            Notice(f"{n} named file{'s' if n != 1 else ''} not checked: not shipped to the enclave")
        )
    # the notices and debug lines still to judge (mse_lint.cli.command) make one if they need it
    run.redactor = Redactor(run.secrets, judge or (lambda: TextJudge.build(catalog, settings)))
    return run


def _counter(
    collected: Collected, progress: Optional[Callable[[int, int], None]]
) -> Optional[Callable[[], None]]:
    """What the engine calls once per file done, for ``progress(done, total)``."""
    if progress is None:
        return None
    total = sum(len(g.jobs) for g in collected.groups)
    done = [0]
    progress(0, total)

    def on_file() -> None:
        done[0] += 1
        progress(done[0], total)

    return on_file


def _lint_group(
    group: Group,
    catalog: Catalog,
    settings: Settings,
    cwd: Path,
    on_file: Optional[Callable[[], None]],
    run: RunResult,
) -> Engine:
    """One project's files, then its project checks, added to ``run``; the engine used."""
    info = project_info(group.project)
    target = effective_target(settings, group.project, info.docker, catalog)
    where = display(group.project.root.resolve(), cwd) or "."
    notices = run.notices
    notices.extend(Notice(m, display(Path(os.path.abspath(f)), cwd)) for f, m in info.notices)
    run.debug.append(f"{where}: target Python {target.label}: {target.reason}")
    if target.inferred and target.version != DEFAULT_TARGET_PYTHON:
        # it changes what MSE506 and the stdlib lists report; the usual 3.10 stays silent
        notices.append(
            Notice(
                f"target Python {target.label}, {target.reason}; --target-python overrides",
                where,
            )
        )
    group_settings = replace(settings, target_python=target.version)
    cache = (
        open_cache(group.project, cwd, catalog, group_settings, info) if settings.cache else None
    )
    engine = Engine(catalog, group_settings, info.local_modules, info, cache)
    result = engine.check_files(group.jobs, on_file=on_file)
    if cache is not None and cache.refused is not None:
        refused = cache.refused
        notice = Notice(refusal_message(refused.found), display(refused.where, cwd))
        if notice not in notices:  # several groups can share one cache folder
            notices.append(notice)
    _add(run, result)
    run.files_checked += result.files_checked
    run.files_unreadable += result.files_unreadable
    toml = group.project.mse_toml
    if (group.whole or group.config) and toml is not None:
        pctx = ProjectContext(
            group.project,
            group.project.manifest(),
            catalog,
            lambda p: display(Path(os.path.abspath(p)), cwd),
            target.version,
        )
        whole = engine.check_project(pctx, str(cwd))
        if not group.whole:  # only mse.toml was named: only its findings
            shown = display(Path(os.path.abspath(toml.path)), cwd)
            whole.diagnostics = filters.in_paths(whole.diagnostics, (shown,))
            whole.suppressed = filters.in_paths(whole.suppressed, (shown,))
        _add(run, whole)
    # what the project's walk and its fixed-name reads could not read: one notice each
    for path, message in group.project.read_notices():
        notices.append(Notice(message, display(Path(path), cwd) or "."))
    return engine


def _add(run: RunResult, more: RunResult) -> None:
    run.diagnostics.extend(more.diagnostics)
    run.suppressed.extend(more.suppressed)
    run.notices.extend(more.notices)
    _merge(run.secrets, more.secrets)


def _merge(into: dict[str, list[str]], more: dict[str, list[str]]) -> None:
    for path, values in more.items():
        into.setdefault(path, []).extend(values)
