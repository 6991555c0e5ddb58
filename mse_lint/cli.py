"""Command line: ``mse-lint [check] PATH...``, ``rules``, ``explain ID``, ``manifest [PATH]``.

Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 usage / configuration / internal
error (a message, never a traceback unless --debug)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from . import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _DefaultCheckGroup(TyperGroup):
    """Run ``check`` when the first argument is not a subcommand: ``mse-lint .`` works."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["check", *args]
        elif not args:
            args = ["check"]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultCheckGroup,
    add_completion=False,
    no_args_is_help=False,
    help="Find what breaks or leaks when a Python web app runs in a Cosmian MSE enclave.",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class UserError(Exception):
    """Reported as ``mse-lint: error: ...`` with exit code 2."""


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"mse-lint: error: {message}\n")
    return typer.Exit(EXIT_ERROR)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mse-lint {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Find what breaks or leaks when a Python web app runs in a Cosmian MSE enclave.

    Run `mse-lint PATH` (the same as `mse-lint check PATH`) on a project folder holding
    mse.toml, or on files inside it."""


@app.command("check")
def check(
    paths: list[Path] = typer.Argument(None, help="Project folders or files (default: .)."),
    select: Optional[list[str]] = typer.Option(
        None, "--select", help="Only these rule IDs or prefixes (repeat or comma-separate)."
    ),
    extend_select: Optional[list[str]] = typer.Option(
        None, "--extend-select", help="Add rules to the selection (e.g. MSE003)."
    ),
    ignore: Optional[list[str]] = typer.Option(
        None, "--ignore", help="Skip these rule IDs or prefixes."
    ),
    severity: Optional[list[str]] = typer.Option(
        None, "--severity", help="Override a rule's severity: ID=error|warning|info."
    ),
    fail_on: Optional[str] = typer.Option(
        None, "--fail-on", help="Lowest severity that makes the exit code 1 (default: info)."
    ),
    output_format: str = typer.Option("console", "--format", help="console or json."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the report to this file instead of stdout."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Read settings from this file instead of searching for one."
    ),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore every configuration file."),
    target_python: Optional[str] = typer.Option(
        None, "--target-python", help="The enclave's Python version (default 3.10)."
    ),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", help="Worker processes (0: one per CPU)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print findings only."),
    color: Optional[bool] = typer.Option(
        None, "--color/--no-color", help="Force colours on or off (default: on a terminal)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
) -> None:
    """Check the code that ships to the enclave (the default command)."""
    try:
        code = _check(
            paths or [Path(".")],
            select,
            extend_select,
            ignore,
            severity,
            fail_on,
            output_format,
            output,
            config,
            isolated,
            target_python,
            jobs,
            quiet,
            color,
        )
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        # Say why the run stopped (typer would exit 130 silently); nothing was written. Exit
        # at once: the exit hooks of an interrupted process pool can block or print tracebacks.
        import os

        sys.stdout.flush()
        sys.stderr.write("mse-lint: interrupted\n")
        sys.stderr.flush()
        os._exit(130)
    except UserError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # internal error: a message, a traceback only on request
        if debug:
            raise
        from .engine import CheckCrash

        what = (
            f" while checking {exc}"
            if isinstance(exc, CheckCrash)
            else f": {type(exc).__name__}: {exc}"
        )
        raise _fail(
            f"internal error{what} (run with --debug for the traceback; please report it)"
        ) from None
    raise typer.Exit(code)


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
        catalog = load_catalog()
        settings = load_settings(paths[0], config, use_files=not isolated)
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
    import contextlib
    import os
    import tempfile

    folder = path.parent if str(path.parent) else Path(".")
    tmp: Optional[str] = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise UserError(f"{path}: cannot write the report: {exc.strerror}") from None
    finally:
        if tmp is not None:  # a failed or interrupted write leaves nothing behind
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@app.command("rules")
def rules_command(
    output_format: str = typer.Option("console", "--format", help="console or json."),
) -> None:
    """List every rule: ID, name, default severity, summary."""
    from .catalog import load_catalog

    catalog = load_catalog()
    if output_format == "json":
        import json

        items = [
            {
                "id": r.id,
                "name": r.name,
                "severity": r.severity.label,
                "enabled": r.enabled,
                "summary": r.summary,
            }
            for r in catalog.sorted_rules()
        ]
        sys.stdout.write(json.dumps(items, indent=2) + "\n")
        return
    if output_format != "console":
        raise _fail(f"--format {output_format!r}: choose console or json")
    rows = [
        (r.id, r.name, r.severity.label + ("" if r.enabled else " (off)"), r.summary)
        for r in catalog.sorted_rules()
    ]
    from .report.console import use_color

    if use_color(sys.stdout, None):
        from rich.console import Console
        from rich.table import Table

        table = Table("ID", "name", "severity", "summary", header_style="bold")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    w_id = max(len(r[0]) for r in rows)
    w_name = max(len(r[1]) for r in rows)
    w_sev = max(len(r[2]) for r in rows)
    for rid, name, sev, summary in rows:
        sys.stdout.write(f"{rid:<{w_id}}  {name:<{w_name}}  {sev:<{w_sev}}  {summary}\n")


@app.command("explain")
def explain_command(
    rule_id: str = typer.Argument(..., help="A rule ID such as MSE101, or its name."),
) -> None:
    """Explain a rule: what it flags, why it breaks in the enclave, how to fix, examples."""
    from .catalog import load_catalog
    from .docs import rule_markdown

    catalog = load_catalog()
    wanted = rule_id.strip()
    rule = catalog.rules.get(wanted.upper()) or next(
        (r for r in catalog.rules.values() if r.name == wanted.lower()), None
    )
    if rule is None:
        raise _fail(f"no rule {rule_id!r}; `mse-lint rules` lists them all")
    sys.stdout.write(rule_markdown(rule))


@app.command("manifest")
def manifest_command(
    path: Path = typer.Argument(Path("."), help="The project folder (holding mse.toml)."),
) -> None:
    """List every file of the code dir and what mse-cli does with it when deploying."""
    from .files import display
    from .project import Fate, ProjectError, discover

    if not path.exists():
        raise _fail(f"{path}: no such file or folder")
    try:
        project = discover(path)
        if project.mse_toml is None or project.code_dir is None:
            raise _fail(f"no mse.toml found in {path} or above: nothing to deploy, no manifest")
        manifest = project.manifest(expand=True)
    except ProjectError as exc:
        raise _fail(str(exc)) from None
    assert manifest is not None
    cwd = Path.cwd().resolve()
    code_shown = display(project.code_dir.resolve(), cwd) or "."
    sys.stdout.write(
        f"code dir: {code_shown} (from {project.code_dir_origin})\n"
        f".mseignore patterns, as mse-cli applies them: "
        f"{', '.join(repr(p) for p in manifest.patterns) or 'none'}\n\n"
    )
    width = max((len(e.rel) for e in manifest.entries), default=10)
    for e in manifest.entries:
        fate = e.fate.value
        if e.fate is Fate.EXCLUDED:
            fate = f"excluded by pattern {e.pattern!r}"
        elif e.fate is Fate.BROKEN_LINK:
            fate = f"broken symlink to {e.link} (copying the code dir fails)"
        elif e.fate is Fate.LINK_LOOP:
            fate = f"symlink loop via {e.link} (copying the code dir fails)"
        via = f"  [via symlink to {e.link}]" if e.link and e.fate.ships else ""
        sys.stdout.write(f"{e.rel:<{width}}  {_size(e.size):>9}  {fate}{via}\n")
    totals = manifest.totals()
    shipped_n = sum(totals.get(f, (0, 0))[0] for f in (Fate.ENCRYPTED, Fate.CLEAR))
    shipped_b = sum(totals.get(f, (0, 0))[1] for f in (Fate.ENCRYPTED, Fate.CLEAR))
    sys.stdout.write("\n")
    for kind in Fate:
        if kind in totals:
            n, size = totals[kind]
            sys.stdout.write(f"{kind.value:>15}: {n} file{'s' if n != 1 else ''}, {_size(size)}\n")
    sys.stdout.write(
        f"{'ships':>15}: {shipped_n} file{'s' if shipped_n != 1 else ''}, {_size(shipped_b)}\n"
    )


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("mse-lint: interrupted\n")
        sys.exit(130)
