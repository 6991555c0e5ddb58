"""The ``check`` command without its command-line parsing: settings, lint, report, exit code.

Kept free of typer (and of everything a run does not use) so that ``mse-lint PATH``, the
pre-commit case, starts fast: ``mse_lint.cli.fastpath`` parses a plain check invocation into a
``CheckOptions`` record and calls ``check``; the typer app in ``mse_lint.cli.app`` makes the same
record and calls the same function for everything else."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Optional

from mse_lint.cli.options import OPTIONS, CheckOptions
from mse_lint.report import FORMATS

if TYPE_CHECKING:
    from mse_lint.core.settings import Settings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


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


def _split(values: Optional[Sequence[str]]) -> Optional[list[str]]:
    if values is None:
        return None
    return [v for item in values for v in item.replace(" ", ",").split(",") if v]


def check(options: CheckOptions) -> int:
    """The check command: exit code 0 (nothing at or above --fail-on) or 1 (findings); a
    usage, settings or project error raises UserError (exit code 2)."""
    from mse_lint.core.redact import Redactor, visible
    from mse_lint.report import Report, learn_all

    started = time.perf_counter()
    _refuse_bad_usage(options)
    paths, baseline, quiet = list(options.paths), options.baseline, options.quiet
    write_baseline = options.write_baseline
    known = _read_baseline(baseline) if baseline is not None else None
    catalog, settings, outcome = _lint(options)
    # the one redaction step (mse_lint.core.redact): from here on, only masked text
    redactor = outcome.redactor or Redactor()
    learn_all(redactor, outcome.notices, outcome.debug)
    diagnostics = redactor.diagnostics(outcome.diagnostics)
    suppressed = redactor.diagnostics(outcome.suppressed)
    notices = redactor.notices(outcome.notices)
    if options.debug:
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
    where = _where(paths, options.sarif_root, options.include_suppressed)
    _emit(report, options.output_format, options.output, quiet, options.color, where)
    from mse_lint.pipeline.filters import fails

    return EXIT_FINDINGS if fails(diagnostics, settings.fail_on) else EXIT_CLEAN


def _refuse_bad_usage(options: CheckOptions) -> None:
    """The usage errors found before anything is read."""
    if options.output_format not in FORMATS:
        raise UserError(f"--format {options.output_format!r}: choose {', '.join(FORMATS)}")
    if options.include_suppressed and options.output_format != "sarif":
        raise UserError("--include-suppressed applies to --format sarif only")
    if options.sarif_root is not None and not options.sarif_root.is_dir():
        raise UserError(f"--sarif-root {options.sarif_root}: no such folder")
    for p in options.paths:
        if not p.exists():
            raise UserError(f"{p}: no such file or folder")
    if options.baseline is not None and options.write_baseline is not None:
        raise UserError(
            "--baseline and --write-baseline exclude each other: --write-baseline records "
            "every current finding, which is how a baseline is updated"
        )


def _lint(options: CheckOptions) -> tuple[Any, Any, Any]:
    """The catalogue, the run's settings and the outcome of the pipeline on the paths."""
    from mse_lint.core.catalog import CatalogError, load_catalog
    from mse_lint.core.settings import ConfigError
    from mse_lint.pipeline.runner import lint
    from mse_lint.project.model import ProjectError

    try:
        settings = effective_settings(options)
        catalog = load_catalog()
        unknown = [
            p
            for p in (*settings.select, *settings.extend_select, *settings.ignore)
            if not any(r.startswith(p) for r in catalog.rules)
        ]
        if unknown:
            raise ConfigError(f"no rule matches {unknown[0]!r} (see `mse-lint rules`)")
        progress = None
        if options.output_format == "console" and not options.quiet and sys.stderr.isatty():
            from mse_lint.report.progress import ProgressBar

            progress = ProgressBar(sys.stderr)
        try:
            outcome = lint(list(options.paths), catalog, settings, progress=progress)
        finally:
            if progress is not None:
                progress.close()
    except (ConfigError, ProjectError, CatalogError) as exc:
        raise UserError(str(exc)) from None
    return catalog, settings, outcome


# Options tied to a settings key whose command-line form is not the key's value: --severity's
# ID=LEVEL items are merged over the file's table, --target-python's messages name the flag,
# --no-cache only turns the cache off.
_OWN_WAY = frozenset({"severity", "target-python", "cache"})


def effective_settings(options: CheckOptions) -> Settings:
    """The run's settings: the settings file's (none with --isolated, the named one with
    --config), and over them every option tied to a settings key (mse_lint.cli.options)."""
    from mse_lint.core.record import replace
    from mse_lint.core.settings import (
        load_settings,
        parse_python,
        parse_severity_overrides,
        settings_from_mapping,
    )

    settings = load_settings(options.paths[0], options.config, use_files=not options.isolated)
    if options.no_cache:
        settings = replace(settings, cache=False)
    given: dict[str, Any] = {}
    for opt in OPTIONS.values():
        value = getattr(options, opt.dest)
        if opt.key and opt.key not in _OWN_WAY and value is not None:
            given[opt.key] = _split(value) if opt.kind == "multi" else value
    settings = settings_from_mapping(given, "command line", settings)
    if options.severity:
        merged = dict(settings.severity)
        merged.update(parse_severity_overrides(options.severity))
        settings = replace(settings, severity=merged)
    if options.target_python is not None:
        python = parse_python(options.target_python, "--target-python")
        settings = replace(settings, target_python=python)
    return settings


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
    else:
        import importlib

        entry = FORMATS[fmt]
        module: Any = importlib.import_module(entry.module)
        text = module.render(report, where) if entry.where else module.render(report)
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
