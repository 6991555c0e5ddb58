"""The console script's entry point: ``mse-lint PATH... [options]`` without typer.

Importing typer (and the click it vendors) takes about as long as checking a small file, and
a pre-commit hook runs mse-lint on every commit. So a plain check invocation -- an optional
``check``, paths, and only the options listed in ``OPTIONS`` written the usual ways -- is
parsed here and handed to the same ``command._check`` the typer app calls. Anything else
(``--help``, ``--version``, another command, an option this table does not know, a value
typer would reject) goes to the typer app in ``mse_lint.cli.app`` unchanged, so the command line
behaves the same either way; tests/test_fastpath.py compares the two.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

# The typer app's other commands: a first argument naming one is that command, not a path.
COMMANDS = frozenset({"rules", "explain", "manifest"})

# The check command's options: (parameter of command._check, kind). Kinds: "multi" (repeatable
# value), "value", "path", "int", "flag", "true" / "false" (a --x/--no-x switch).
OPTIONS: dict[str, tuple[str, str]] = {
    "--select": ("select", "multi"),
    "--extend-select": ("extend_select", "multi"),
    "--ignore": ("ignore", "multi"),
    "--severity": ("severity", "multi"),
    "--fail-on": ("fail_on", "value"),
    "--format": ("output_format", "value"),
    "--output": ("output", "path"),
    "-o": ("output", "path"),
    "--config": ("config", "path"),
    "--isolated": ("isolated", "flag"),
    "--target-python": ("target_python", "value"),
    "--jobs": ("jobs", "int"),
    "-j": ("jobs", "int"),
    "--no-cache": ("no_cache", "flag"),
    "--quiet": ("quiet", "flag"),
    "-q": ("quiet", "flag"),
    "--color": ("color", "true"),
    "--no-color": ("color", "false"),
    "--debug": ("debug", "flag"),
    "--sarif-root": ("sarif_root", "path"),
    "--include-suppressed": ("include_suppressed", "flag"),
    "--baseline": ("baseline", "path"),
    "--write-baseline": ("write_baseline", "path"),
}

DEFAULTS: dict[str, Any] = {
    "select": None,
    "extend_select": None,
    "ignore": None,
    "severity": None,
    "fail_on": None,
    "output_format": "console",
    "output": None,
    "config": None,
    "isolated": False,
    "target_python": None,
    "jobs": None,
    "no_cache": False,
    "quiet": False,
    "color": None,
    "debug": False,
    "sarif_root": None,
    "include_suppressed": False,
    "baseline": None,
    "write_baseline": None,
}


def parse(argv: list[str]) -> Optional[dict[str, Any]]:
    """The check's parameters, or None when typer should handle this command line."""
    args = list(argv)
    if args and args[0] == "check":
        args = args[1:]
    elif args and args[0] in COMMANDS:
        return None
    values = dict(DEFAULTS)
    paths: list[Path] = []
    i = 0
    options_done = False
    while i < len(args):
        arg = args[i]
        i += 1
        if options_done or arg == "-" or not arg.startswith("-"):
            paths.append(Path(arg))
            continue
        if arg == "--":
            options_done = True
            continue
        name, eq, attached = arg.partition("=")
        if not name.startswith("--"):
            name, eq, attached = arg, "", ""  # -o=x is a value "=x" to click: let typer say
        known = OPTIONS.get(name)
        if known is None:
            return None
        dest, kind = known
        if kind in ("flag", "true", "false"):
            if eq:
                return None
            values[dest] = kind != "false"
            continue
        if eq:
            value = attached
        elif i < len(args):
            value = args[i]  # like click: the next argument, even one starting with "-"
            i += 1
        else:
            return None  # a missing value: typer's message
        if kind == "multi":
            values[dest] = [*(values[dest] or []), value]
        elif kind == "path":
            values[dest] = Path(value)
        elif kind == "int":
            try:
                values[dest] = int(value)
            except ValueError:
                return None
        else:
            values[dest] = value
    values["paths"] = paths or [Path(".")]
    return values


def run(values: dict[str, Any]) -> int:
    """What ``cli.check`` does with the same parameters, as an exit code."""
    from mse_lint.cli.command import EXIT_ERROR, UserError, _check, internal_error

    debug = values["debug"]
    try:
        return _check(**values)
    except UserError as exc:
        message = str(exc)
    except Exception as exc:  # internal error: a message, a traceback only on request
        if debug:
            raise
        message = internal_error(exc)
    from mse_lint.cli.command import say
    from mse_lint.core.redact import visible

    say(f"mse-lint: error: {visible(message)}\n")
    return EXIT_ERROR


def main() -> None:
    values = parse(sys.argv[1:])
    if values is None:
        from mse_lint.cli.app import main as typer_main

        typer_main()
        return
    from mse_lint.cli.command import silence_broken_pipe, tolerant_streams

    tolerant_streams()
    try:
        code = run(values)
        sys.stdout.flush()
    except KeyboardInterrupt:
        from mse_lint.cli.command import interrupted

        interrupted()
    except BrokenPipeError:
        silence_broken_pipe()
    sys.exit(code)
