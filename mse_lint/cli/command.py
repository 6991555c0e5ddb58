"""The ``check`` command without its command-line parsing: settings, lint, report, exit code.

Kept free of typer (and of everything a run does not use) so that ``mse-lint PATH``, the
pre-commit case, starts fast: ``mse_lint.cli.fastpath`` parses a plain check invocation and calls
``_check``; the typer app in ``mse_lint.cli.app`` calls the same function for everything else."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, NoReturn, Optional

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMATS = ("console", "json", "sarif", "github", "gitlab", "junit")


class UserError(Exception):
    """Reported as ``mse-lint: error: ...`` with exit code 2."""


def internal_error(exc: Exception) -> str:
    """The one-line message of a bug of mse-lint (the traceback only with --debug)."""
    from mse_lint.pipeline.engine import CheckCrash

    what = (
        f" while checking {exc}"
        if isinstance(exc, CheckCrash)
        else f": {type(exc).__name__}: {exc}"
    )
    return f"internal error{what} (run with --debug for the traceback; please report it)"


def interrupted() -> NoReturn:
    """Ctrl-C: say why the run stopped and exit 130 at once. Nothing was written (every write
    is atomic), and the exit hooks of an interrupted process pool can block or print
    tracebacks, so they are not run."""
    import os

    sys.stdout.flush()
    sys.stderr.write("mse-lint: interrupted\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def tolerant_streams() -> None:
    """Standard output and error that degrade instead of failing: a character the stream's
    encoding lacks (PYTHONIOENCODING=ascii, a latin-1 terminal) is written as a backslash
    escape (``\\u2026``) rather than ending the run with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            import contextlib

            with contextlib.suppress(ValueError, OSError):  # a closed or odd stream
                reconfigure(errors="backslashreplace")


def silence_broken_pipe() -> None:
    """The reader of standard output went away (``mse-lint manifest | head -1``): end quietly
    with exit code 0, as ruff does, without Python's complaint when it flushes at exit."""
    _silence(sys.stdout)
    sys.exit(EXIT_CLEAN)


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
    sarif_root: Optional[Path] = None,
    include_suppressed: bool = False,
    baseline: Optional[Path] = None,
    write_baseline: Optional[Path] = None,
    debug: bool = False,
    no_cache: bool = False,
) -> int:
    from mse_lint.core.catalog import CatalogError, load_catalog
    from mse_lint.core.record import replace
    from mse_lint.core.redact import Redactor, visible
    from mse_lint.core.settings import (
        ConfigError,
        load_settings,
        parse_python,
        parse_severity_overrides,
        settings_from_mapping,
    )
    from mse_lint.pipeline.runner import lint
    from mse_lint.project.model import ProjectError
    from mse_lint.report import Report, learn_all

    started = time.perf_counter()
    if output_format not in FORMATS:
        raise UserError(f"--format {output_format!r}: choose {', '.join(FORMATS)}")
    if include_suppressed and output_format != "sarif":
        raise UserError("--include-suppressed applies to --format sarif only")
    if sarif_root is not None and not sarif_root.is_dir():
        raise UserError(f"--sarif-root {sarif_root}: no such folder")
    for p in paths:
        if not p.exists():
            raise UserError(f"{p}: no such file or folder")
    if baseline is not None and write_baseline is not None:
        raise UserError(
            "--baseline and --write-baseline exclude each other: --write-baseline records "
            "every current finding, which is how a baseline is updated"
        )
    known = _read_baseline(baseline) if baseline is not None else None
    try:
        settings = load_settings(paths[0], config, use_files=not isolated)
        if no_cache:
            settings = replace(settings, cache=False)
        catalog = load_catalog()
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
        progress = None
        if output_format == "console" and not quiet and sys.stderr.isatty():
            from mse_lint.report.progress import ProgressBar

            progress = ProgressBar(sys.stderr)
        try:
            outcome = lint(paths, catalog, settings, progress=progress)
        finally:
            if progress is not None:
                progress.close()
    except (ConfigError, ProjectError, CatalogError) as exc:
        raise UserError(str(exc)) from None
    # the one redaction step (mse_lint.core.redact): from here on, only masked text
    redactor = outcome.redactor or Redactor()
    learn_all(redactor, outcome.notices, outcome.debug)
    diagnostics = redactor.diagnostics(outcome.diagnostics)
    suppressed = redactor.diagnostics(outcome.suppressed)
    notices = redactor.notices(outcome.notices)
    if debug:
        for line in outcome.debug:
            say(f"mse-lint: debug: {visible(redactor.text(line))}\n")
    if write_baseline is not None:
        if not quiet:
            for n in notices:
                say(f"mse-lint: {visible(n.render())}\n")
        _write_baseline(write_baseline, diagnostics, quiet, redactor)
        return EXIT_CLEAN
    if baseline is not None and known is not None:
        diagnostics = _filter_baseline(baseline, known, diagnostics, quiet, redactor)
    report = Report(
        diagnostics,
        suppressed,
        notices,
        outcome.files_checked,
        time.perf_counter() - started,
        catalog,
        redactor,
    )
    _emit(
        report, output_format, output, quiet, color, _where(paths, sarif_root, include_suppressed)
    )
    from mse_lint.pipeline.filters import fails

    return EXIT_FINDINGS if fails(diagnostics, settings.fail_on) else EXIT_CLEAN


def _repository_root(start: Path) -> Optional[Path]:
    """The nearest folder at or above ``start`` holding ``.git`` (a folder, or a file in a
    worktree or submodule)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _read_baseline(path: Path) -> frozenset[Any]:
    from mse_lint.pipeline.baseline import BaselineError, read

    try:
        return read(path)
    except BaselineError as exc:
        raise UserError(str(exc)) from None


def _write_baseline(path: Path, diagnostics: list[Any], quiet: bool, redactor: Any) -> None:
    """Findings recorded are accepted: later runs with --baseline do not report them."""
    from mse_lint.pipeline import baseline as bl

    cwd = Path.cwd().resolve()
    recorded = bl.entries(
        diagnostics, bl.source_lines(diagnostics, cwd, redactor), bl.relative_to(path, cwd)
    )
    try:
        bl.write(path, bl.dumps(recorded))
    except bl.BaselineError as exc:
        raise UserError(str(exc)) from None
    if not quiet:
        n = len(recorded)
        say(f"mse-lint: recorded {n} finding{'s' if n != 1 else ''} in {_shown(path)}\n")


def _filter_baseline(
    path: Path, known: frozenset[Any], diagnostics: list[Any], quiet: bool, redactor: Any
) -> list[Any]:
    """Only findings not in the baseline are reported, and only they decide the exit code."""
    from mse_lint.pipeline import baseline as bl

    cwd = Path.cwd().resolve()
    current = bl.entries(
        diagnostics, bl.source_lines(diagnostics, cwd, redactor), bl.relative_to(path, cwd)
    )
    from mse_lint.pipeline.filters import without_baseline

    new, old = without_baseline(diagnostics, current, known)
    if old and not quiet:
        n = len(old)
        say(
            f"mse-lint: {n} finding{'s' if n != 1 else ''} recorded in the baseline "
            f"{_shown(path)} not shown\n"
        )
    return new


def _shown(path: Path) -> str:
    from mse_lint.core.redact import visible

    return visible(str(path))


def say(text: str) -> None:
    """A line for standard error (notices, debug lines): a reader that went away (``2>&1 |
    head``) ends nothing."""
    try:
        sys.stderr.write(text)
    except BrokenPipeError:
        _silence(sys.stderr)


def _silence(stream: Any) -> None:
    """Point a stream whose reader went away at /dev/null, so that writing or flushing it
    again (Python flushes stdout at exit) raises nothing."""
    import os

    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except (OSError, ValueError):
        pass


def _where(paths: list[Path], sarif_root: Optional[Path], include_suppressed: bool) -> Any:
    """What the CI formats need to know about the run's place in the repository: the root is
    the repository holding the checked paths (GitHub and GitLab want paths relative to it),
    else the current folder, else the checked folder."""
    import os

    from mse_lint.core.links import docs_base
    from mse_lint.report import Where

    cwd = Path.cwd().resolve()
    folders = [str(p.resolve() if p.is_dir() else p.resolve().parent) for p in paths]
    common = Path(os.path.commonpath(folders)) if folders else cwd
    if sarif_root is not None:
        root = sarif_root.resolve()
    else:
        root = _repository_root(common) or (cwd if common.is_relative_to(cwd) else common)
    # One SARIF category per checked folder: GitHub keeps one upload per tool and category, so
    # two projects of a monorepo must not replace each other's results.
    try:
        rel = common.relative_to(root).as_posix()
    except ValueError:
        rel = "."
    category = "mse-lint/" if rel == "." else f"mse-lint/{rel}/"
    return Where(str(cwd), str(root), docs_base(), category, include_suppressed)


def _emit(
    report: Any,
    fmt: str,
    output: Optional[Path],
    quiet: bool,
    color: Optional[bool],
    where: Any,
) -> None:
    from mse_lint.core.redact import visible

    if not quiet:
        for n in report.notices:
            say(f"mse-lint: {visible(n.render())}\n")
    to_stdout = output is None or str(output) == "-"
    text: str
    # each reporter is imported only when used: start-up time matters for pre-commit
    if fmt == "console":
        from mse_lint.report import console

        if to_stdout:
            import os

            tty = sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb"
            docs = where.docs if tty else ""
            try:
                console.render(
                    report, sys.stdout, quiet, console.use_color(sys.stdout, color), docs
                )
                sys.stdout.flush()
            except BrokenPipeError:
                _silence(sys.stdout)
            return
        import io

        buf = io.StringIO()
        console.render(report, buf, quiet, color=False)
        text = buf.getvalue()
    elif fmt == "json":
        from mse_lint.report import json as json_report

        text = json_report.render(report)
    elif fmt == "sarif":
        from mse_lint.report import sarif

        text = sarif.render(report, where)
    elif fmt == "github":
        from mse_lint.report import github

        text = github.render(report, where)
    elif fmt == "gitlab":
        from mse_lint.report import gitlab

        text = gitlab.render(report, where)
    else:
        from mse_lint.report import junit

        text = junit.render(report)
    if to_stdout:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # `mse-lint . | head`: the reader has what it wanted; the exit code still tells
            # whether the run found something (docs/output.md)
            _silence(sys.stdout)
    else:
        assert output is not None
        _write(output, text)


def _write(path: Path, text: str) -> None:
    from mse_lint.core.atomic import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UserError(f"{path}: cannot write the report: {exc.strerror}") from None
