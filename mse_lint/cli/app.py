"""Command line: ``mse-lint [check] PATH...``, ``rules``, ``explain ID``, ``manifest [PATH]``.

Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 usage / configuration / internal
error (a message, never a traceback unless --debug). Findings recorded in a --baseline file are
not reported and do not count; --write-baseline exits 0 after recording."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from mse_lint import __version__

# The check itself lives in mse_lint.cli.command, which never imports typer: the common
# `mse-lint PATH...` invocation runs through mse_lint.cli.fastpath without building this app.
from mse_lint.cli.command import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    UserError,
    _emit,
    _write,
    internal_error,
    interrupted,
    say,
    silence_broken_pipe,
    tolerant_streams,
)
from mse_lint.cli.command import check as check_command
from mse_lint.cli.options import OPTIONS, PATHS_HELP, check_options
from mse_lint.report import FORMATS

__all__ = [
    "EXIT_CLEAN",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "FORMATS",
    "UserError",
    "_emit",
    "_write",
    "app",
]


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


def _fail(message: str) -> typer.Exit:
    from mse_lint.core.redact import visible

    say(f"mse-lint: error: {visible(message)}\n")
    return typer.Exit(EXIT_ERROR)


def _pipe_safe(command: Callable[..., None]) -> Callable[..., None]:
    """A command whose output may go to a reader that stops early (``mse-lint rules | head
    -1``): it ends quietly with exit code 0, as ruff does (click alone exits 1)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
            sys.stdout.flush()
        except BrokenPipeError:
            silence_broken_pipe()

    return run


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


# The typer types of the option kinds (mse_lint.cli.options); a kind whose default is not None
# takes the plain type (--format: str, a flag: bool).
_TYPES: dict[str, Any] = {
    "multi": list[str],
    "value": str,
    "path": Path,
    "int": int,
    "flag": bool,
    "switch": bool,
}


def _check_parameters() -> list[inspect.Parameter]:
    """The check command's signature as typer reads it, made from the option definitions: the
    paths, then one keyword parameter per option with its ``typer.Option`` as the default."""
    paths = inspect.Parameter(
        "paths",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Argument(None, help=PATHS_HELP),
        annotation=list[Path],
    )
    params = [paths]
    for opt in OPTIONS.values():
        kind = _TYPES[opt.kind]
        decls = (f"{opt.flags[0]}/{opt.off}", *opt.flags[1:]) if opt.off else opt.flags
        params.append(
            inspect.Parameter(
                opt.dest,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(opt.default, *decls, help=opt.help),
                annotation=kind if opt.default is not None else Optional[kind],
            )
        )
    return params


def check(**values: Any) -> None:
    """Check the code that ships to the enclave (the default command)."""
    options = check_options(values)
    try:
        code = check_command(options)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        interrupted()  # typer alone would exit 130 without a word
    except UserError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # internal error: a message, a traceback only on request
        if options.debug:
            raise
        raise _fail(internal_error(exc)) from None
    raise typer.Exit(code)


# typer reads a command's parameters from its signature: this one is the option definitions'
check.__signature__ = inspect.Signature(_check_parameters())  # type: ignore[attr-defined]
app.command("check")(check)


@app.command("rules")
@_pipe_safe
def rules_command(
    output_format: str = typer.Option("console", "--format", help="console or json."),
) -> None:
    """List every rule: ID, name, default severity, summary."""
    from mse_lint.core.catalog import load_catalog

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
    from mse_lint.report.console import use_color

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
@_pipe_safe
def explain_command(
    rule_id: str = typer.Argument(..., help="A rule ID such as MSE101, or its name."),
) -> None:
    """Explain a rule: what it flags, why it breaks in the enclave, how to fix, examples."""
    from mse_lint.core.catalog import load_catalog
    from mse_lint.report.rule_docs import rule_markdown

    catalog = load_catalog()
    wanted = rule_id.strip()
    rule = catalog.rules.get(wanted.upper()) or next(
        (r for r in catalog.rules.values() if r.name == wanted.lower()), None
    )
    if rule is None:
        raise _fail(f"no rule {rule_id!r}; `mse-lint rules` lists them all")
    sys.stdout.write(rule_markdown(rule))


@app.command("manifest")
@_pipe_safe
def manifest_command(
    path: Path = typer.Argument(Path("."), help="The project folder (holding mse.toml)."),
) -> None:
    """List every file of the code dir and what mse-cli does with it when deploying."""
    import os

    from mse_lint.core.redact import line_safe, visible
    from mse_lint.core.settings import ConfigError, load_settings
    from mse_lint.project.files import display
    from mse_lint.project.model import Fate, ProjectError, discover

    if not path.exists():
        raise _fail(f"{path}: no such file or folder")
    try:
        settings = load_settings(path)
        project = discover(path)
        project.max_files, project.max_depth = settings.max_files, settings.max_depth
        if project.code_dir_error is not None:
            raise _fail(project.code_dir_error)
        if project.mse_toml is None or project.code_dir is None:
            raise _fail(f"no mse.toml found in {path} or above: nothing to deploy, no manifest")
        manifest = project.manifest(expand=True)
    except (ProjectError, ConfigError) as exc:
        raise _fail(str(exc)) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a bug of mse-lint: one line, as the check command says it
        raise _fail(internal_error(exc)) from None
    assert manifest is not None
    redactor = _manifest_redactor(manifest.patterns)

    def shown(text: str) -> str:  # user text: secrets masked, control characters escaped
        return visible(redactor.text(text))

    cwd = Path.cwd().resolve()
    code = os.path.abspath(project.code_dir)
    for rel, message in manifest.notices:
        where = display(Path(os.path.join(code, rel) if rel else code), cwd) or "."
        sys.stderr.write(f"mse-lint: {visible(where)}: {shown(message)}\n")
    code_shown = display(project.code_dir.resolve(), cwd) or "."
    out = [
        f"code dir: {visible(code_shown)} (from {visible(str(project.code_dir_origin))})\n"
        f".mseignore patterns, as mse-cli applies them: "
        f"{', '.join(repr(shown(p)) for p in manifest.patterns) or 'none'}\n\n"
    ]
    rows = [(line_safe(visible(e.rel)), e) for e in manifest.entries]
    width = max((len(rel) for rel, _ in rows), default=10)
    for rel, e in rows:
        fate = e.fate.value
        link = visible(str(e.link))
        if e.fate is Fate.EXCLUDED:
            fate = f"excluded by pattern {shown(str(e.pattern))!r}"
        elif e.fate is Fate.BROKEN_LINK:
            fate = f"broken symlink to {link} (copying the code dir fails)"
        elif e.fate is Fate.LINK_LOOP:
            fate = f"symlink loop via {link} (copying the code dir fails)"
        elif e.fate is Fate.UNREADABLE:
            fate = "unreadable folder (copying the code dir fails)"
        elif e.fate is Fate.SPECIAL:
            fate = "FIFO, socket or device (copying the code dir fails)"
        if e.note is not None:
            fate = f"{fate} folder, {visible(str(e.note))}"
        via = f"  [via symlink to {link}]" if e.link and e.fate.ships else ""
        out.append(f"{rel:<{width}}  {_size(e.size):>9}  {fate}{via}\n")
    sys.stdout.write("".join(out))
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


def _manifest_redactor(patterns: tuple[str, ...]) -> Any:
    """What masks the secrets of the .mseignore lines the manifest quotes (the file may be a
    link to anything: ``~/.aws/credentials``), as a check run masks them."""
    from mse_lint.core.catalog import load_catalog
    from mse_lint.core.redact import Redactor, TextJudge
    from mse_lint.core.settings import Settings

    redactor = Redactor(judge=TextJudge.build(load_catalog(), Settings()) if patterns else None)
    redactor.learn("\n".join(patterns))
    return redactor


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def main() -> None:
    tolerant_streams()
    try:
        app()
    except KeyboardInterrupt:
        interrupted()
    except BrokenPipeError:
        silence_broken_pipe()
