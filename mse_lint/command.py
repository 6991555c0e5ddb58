"""The ``check`` command without its command-line parsing: settings, lint, report, exit code.

Kept free of typer (and of everything a run does not use) so that ``mse-lint PATH``, the
pre-commit case, starts fast: ``mse_lint.fastpath`` parses a plain check invocation and calls
``_check``; the typer app in ``mse_lint.cli`` calls the same function for everything else."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UserError(Exception):
    """Reported as ``mse-lint: error: ...`` with exit code 2."""


def _split(values: Optional[list[str]]) -> Optional[list[str]]:
    if values is None:
        return None
    return [v for item in values for v in item.replace(" ", ",").split(",") if v]


def _check(
    paths: list[Path],
    select: Optional[list[str]],
    extend_select: Optional[list[str]],
    ignore: Optional[list[str]],
    severity: Optional[list[str]],
    fail_on: Optional[str],
    output_format: str,
    output: Optional[Path],
    config: Optional[Path],
    isolated: bool,
    target_python: Optional[str],
    jobs: Optional[int],
    quiet: bool,
    color: Optional[bool],
    no_cache: bool = False,
) -> int:
    from dataclasses import replace

    from .catalog import CatalogError, load_catalog
    from .config import (
        ConfigError,
        load_settings,
        parse_python,
        parse_severity_overrides,
        settings_from_mapping,
    )
    from .project import ProjectError
    from .report import Report
    from .run import lint

    started = time.perf_counter()
    if output_format not in ("console", "json"):
        raise UserError(f"--format {output_format!r}: choose console or json")
    for p in paths:
        if not p.exists():
            raise UserError(f"{p}: no such file or folder")
    try:
        settings = load_settings(paths[0], config, use_files=not isolated)
        if no_cache:
            settings = replace(settings, cache=False)
        catalog = load_catalog(cached=settings.cache)
        cli: dict[str, Any] = {}
        if select is not None:
            cli["select"] = _split(select)
        if extend_select is not None:
            cli["extend-select"] = _split(extend_select)
        if ignore is not None:
            cli["ignore"] = _split(ignore)
        if fail_on is not None:
            cli["fail-on"] = fail_on
        if jobs is not None:
            cli["jobs"] = jobs
        settings = settings_from_mapping(cli, "command line", settings)
        if severity:
            merged = dict(settings.severity)
            merged.update(parse_severity_overrides(severity))
            settings = replace(settings, severity=merged)
        if target_python is not None:
            settings = replace(
                settings, target_python=parse_python(target_python, "--target-python")
            )
        unknown = [
            p
            for p in (*settings.select, *settings.extend_select, *settings.ignore)
            if not any(r.startswith(p) for r in catalog.rules)
        ]
        if unknown:
            raise ConfigError(f"no rule matches {unknown[0]!r} (see `mse-lint rules`)")
        outcome = lint(paths, catalog, settings)
    except (ConfigError, ProjectError, CatalogError) as exc:
        raise UserError(str(exc)) from None
    diagnostics = outcome.diagnostics
    report = Report(
        diagnostics,
        outcome.suppressed,
        outcome.notices,
        outcome.files_checked,
        time.perf_counter() - started,
        catalog,
    )
    _emit(report, output_format, output, quiet, color)
    worst = max((d.severity for d in diagnostics), default=None)
    failing = worst is not None and worst >= settings.fail_on
    return EXIT_FINDINGS if failing else EXIT_CLEAN


def _emit(
    report: Any, fmt: str, output: Optional[Path], quiet: bool, color: Optional[bool]
) -> None:
    from .report import console

    if not quiet:
        for n in report.notices:
            sys.stderr.write(f"mse-lint: {n.render()}\n")
    if fmt == "json":
        from .report import json as json_report

        text = json_report.render(report)
        if output is None or str(output) == "-":
            sys.stdout.write(text)
        else:
            _write(output, text)
        return
    if output is not None and str(output) != "-":
        import io

        buf = io.StringIO()
        console.render(report, buf, quiet, color=False)
        _write(output, buf.getvalue())
        return
    console.render(report, sys.stdout, quiet, console.use_color(sys.stdout, color))


def _write(path: Path, text: str) -> None:
    """Atomic: a temp file in the same folder, then a rename."""
    import os
    import tempfile

    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"{path}: cannot write the report: {exc.strerror}") from None
