"""The console script's entry point: ``mse-lint PATH... [options]`` without typer.

Importing typer (and the click it vendors) takes about as long as checking a small file, and
a pre-commit hook runs mse-lint on every commit. So a plain check invocation -- an optional
``check``, paths, and only the options of ``OPTIONS`` written the usual ways -- is parsed here
into the ``CheckOptions`` record the typer app makes too, and handed to ``command.check``; the
table of flags comes from the option definitions (``mse_lint.cli.options``). Anything else
(``--help``, ``--version``, another command, an option this table does not know, a value
typer would reject) goes to the typer app in ``mse_lint.cli.app`` unchanged, so the command line
behaves the same either way; tests/test_fastpath.py compares the two.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

from mse_lint.cli.options import FLAGS, CheckOptions, check_options

# The typer app's other commands: a first argument naming one is that command, not a path.
COMMANDS = frozenset({"rules", "explain", "manifest"})

# Every flag of the check command: (field of CheckOptions, kind), from mse_lint.cli.options.
# Kinds: "multi" (repeatable value), "value", "path", "int", "flag", "true" / "false" (the two
# flags of a --x/--no-x switch).
OPTIONS: dict[str, tuple[str, str]] = FLAGS


def parse(argv: list[str]) -> Optional[CheckOptions]:
    """The check's options, or None when typer should handle this command line."""
    args = list(argv)
    if args and args[0] == "check":
        args = args[1:]
    elif args and args[0] in COMMANDS:
        return None
    values: dict[str, Any] = {}
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
            values[dest] = (*values.get(dest, ()), value)
        elif kind == "path":
            values[dest] = Path(value)
        elif kind == "int":
            try:
                values[dest] = int(value)
            except ValueError:
                return None
        else:
            values[dest] = value
    values["paths"] = paths
    return check_options(values)


def run(options: CheckOptions) -> int:
    """What the typer app's check command does with the same options, as an exit code."""
    from mse_lint.cli.command import EXIT_ERROR, UserError, check, internal_error

    try:
        return check(options)
    except UserError as exc:
        message = str(exc)
    except Exception as exc:  # internal error: a message, a traceback only on request
        if options.debug:
            raise
        message = internal_error(exc)
    from mse_lint.cli.command import say
    from mse_lint.core.redact import visible

    say(f"mse-lint: error: {visible(message)}\n")
    return EXIT_ERROR


def main() -> None:
    options = parse(sys.argv[1:])
    if options is None:
        from mse_lint.cli.app import main as typer_main

        typer_main()
        return
    from mse_lint.cli.command import silence_broken_pipe, tolerant_streams

    tolerant_streams()
    try:
        code = run(options)
        sys.stdout.flush()
    except KeyboardInterrupt:
        from mse_lint.cli.command import interrupted

        interrupted()
    except BrokenPipeError:
        silence_broken_pipe()
    sys.exit(code)
