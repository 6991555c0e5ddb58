"""The check command's options, each defined once: a field of :class:`CheckOptions`.

A field declared with :func:`option` is an option. Its declaration holds everything about it:
the flags (long name first, then aliases), what kind of value it takes, the default, the
``--help`` text, the ``[tool.mse-lint]`` key of the same setting where there is one, and the
README's description. From these fields come the typer command's parameters
(``mse_lint.cli.app``), the start-up fast path's table of flags (``FLAGS``, used by
``mse_lint.cli.fastpath``), the command line's part of the settings (``mse_lint.cli.command``) and
the option table of README.md (``python -m mse_lint.cli.options`` rewrites it; a test fails
when it is stale). Adding an option is one field here plus the code that acts on it.

Kinds of value: ``multi`` (a string, the option may repeat), ``value`` (a string), ``path``,
``int``, ``flag`` (``--x``, no value), ``switch`` (``--x/--no-x``, None when neither is given).

This module is imported by the fast path: it imports nothing beyond the record base and the
report registry, which every check run imports anyway.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar, Optional

from mse_lint.core.record import Frozen, replace
from mse_lint.report import FORMATS

KINDS = ("multi", "value", "path", "int", "flag", "switch")


class Option(Frozen):
    """One option of the check command (see the module's docstring)."""

    flags: tuple[str, ...]  # the long name first, then its aliases: ("--output", "-o")
    kind: str  # one of KINDS
    help: str  # the --help text
    default: Any = None
    key: str = ""  # the [tool.mse-lint] key of the same setting, if there is one
    off: str = ""  # a switch's negative flag: "--no-color"
    value_name: str = ""  # README: what the value looks like ("FILE", "MSE1,MSE201")
    doc: str = ""  # README: the description, where it says more than the help text
    dest: str = ""  # the field of CheckOptions (set when the class is made)


def option(
    *flags: str,
    kind: str,
    help: str,
    default: Any = None,
    key: str = "",
    off: str = "",
    value_name: str = "",
    doc: str = "",
) -> Any:
    """The declaration of an option, as the default of a :class:`CheckOptions` field."""
    if kind not in KINDS:
        raise ValueError(f"{flags[0]}: unknown kind {kind!r}")
    return Option(flags, kind, help, default, key, off, value_name, doc)


class _OptionFields(Frozen):
    """A record some of whose fields are declared with :func:`option`: the class keeps the
    declarations in ``_options`` (by field name) and the fields get their defaults."""

    _options: ClassVar[dict[str, Option]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        declared: dict[str, Option] = {}
        for name, value in list(vars(cls).items()):
            if isinstance(value, Option):
                declared[name] = replace(value, dest=name)
                setattr(cls, name, value.default)
        cls._options = declared
        super().__init_subclass__(**kwargs)


def _formats_help() -> str:
    names = list(FORMATS)
    return f"{', '.join(names[:-1])} or {names[-1]}." if len(names) > 1 else f"{names[0]}."


def _formats_doc() -> str:
    shown = []
    for fmt in FORMATS.values():
        about = "default" if fmt.name == "console" else fmt.summary
        shown.append(f"`{fmt.name}` ({about})" if about else f"`{fmt.name}`")
    return f"{', '.join(shown)} ([docs/output.md](docs/output.md))"


PATHS_HELP = "Project folders or files (default: .)."


class CheckOptions(_OptionFields):
    """Everything the check command was asked, however it was asked (typer or the fast path);
    ``mse_lint.cli.command.check`` acts on it. Lists of values are tuples."""

    paths: tuple[Path, ...] = (Path("."),)
    select: Optional[tuple[str, ...]] = option(
        "--select",
        kind="multi",
        key="select",
        help="Only these rule IDs or prefixes (repeat or comma-separate).",
        value_name="MSE1,MSE201",
        doc="only these rule IDs or prefixes",
    )
    extend_select: Optional[tuple[str, ...]] = option(
        "--extend-select",
        kind="multi",
        key="extend-select",
        help="Add rules to the selection (e.g. MSE003).",
        value_name="MSE003",
        doc="add rules (e.g. the off-by-default MSE003)",
    )
    ignore: Optional[tuple[str, ...]] = option(
        "--ignore",
        kind="multi",
        key="ignore",
        help="Skip these rule IDs or prefixes.",
        value_name="MSE109",
        doc="skip these rule IDs or prefixes (the most specific of select/ignore wins)",
    )
    severity: Optional[tuple[str, ...]] = option(
        "--severity",
        kind="multi",
        key="severity",
        help="Override a rule's severity: ID=error|warning|info.",
        value_name="MSE109=error",
        doc="override a rule's severity",
    )
    fail_on: Optional[str] = option(
        "--fail-on",
        kind="value",
        key="fail-on",
        help="Lowest severity that makes the exit code 1 (default: info).",
        value_name="error|warning|info",
        doc="lowest severity that makes the exit code 1 (default `info`)",
    )
    output_format: str = option(
        "--format",
        kind="value",
        default="console",
        help=_formats_help(),
        value_name="FORMAT",
        doc=_formats_doc(),
    )
    output: Optional[Path] = option(
        "--output",
        "-o",
        kind="path",
        help="Write the report to this file (- for stdout).",
        value_name="FILE",
        doc="write the report to a file (atomically); `-` for stdout",
    )
    sarif_root: Optional[Path] = option(
        "--sarif-root",
        kind="path",
        help="The folder that sarif, github and gitlab paths are relative to "
        "(default: the git repository root, else the current folder).",
        value_name="DIR",
        doc="the folder sarif, github and gitlab paths are relative to (default: the git "
        "repository root)",
    )
    include_suppressed: bool = option(
        "--include-suppressed",
        kind="flag",
        default=False,
        help="sarif: also list findings suppressed by comments, marked as suppressed.",
    )
    config: Optional[Path] = option(
        "--config",
        kind="path",
        help="Read settings from this file instead of searching for one.",
        value_name="FILE",
        doc="read settings from FILE instead of searching for a settings file",
    )
    isolated: bool = option(
        "--isolated", kind="flag", default=False, help="Ignore every configuration file."
    )
    target_python: Optional[str] = option(
        "--target-python",
        kind="value",
        key="target-python",
        help="The enclave's Python version (default: from the docker image tag, else 3.10).",
        value_name="3.8",
        doc="the enclave's Python (default: from the docker image tag, else 3.10; see "
        "[docs/python-version.md](docs/python-version.md))",
    )
    jobs: Optional[int] = option(
        "--jobs",
        "-j",
        kind="int",
        key="jobs",
        help="Worker processes (0: one per CPU).",
        value_name="N",
        doc="worker processes (default and 0: one per CPU)",
    )
    no_cache: bool = option(
        "--no-cache",
        kind="flag",
        default=False,
        key="cache",
        help="Neither read nor write the results cache (.mse_lint_cache/, see README).",
        doc="neither read nor write the results cache (see [Speed](#speed-and-the-cache))",
    )
    quiet: bool = option(
        "--quiet",
        "-q",
        kind="flag",
        default=False,
        help="Print findings only.",
        doc="findings only, no summary or notices",
    )
    color: Optional[bool] = option(
        "--color",
        kind="switch",
        off="--no-color",
        help="Force colours on or off (default: on a terminal).",
        doc="force colours (default: on a terminal, unless `NO_COLOR` is set)",
    )
    debug: bool = option(
        "--debug",
        kind="flag",
        default=False,
        help="Show how the run decided (target Python) and internal tracebacks.",
        doc="print how the run decided (the target Python of each project and why) and the "
        "traceback of an internal error",
    )
    baseline: Optional[Path] = option(
        "--baseline",
        kind="path",
        help="Report only findings not recorded in this baseline file.",
        value_name="FILE",
        doc="report only findings not recorded in FILE; recorded ones never make the exit code 1",
    )
    write_baseline: Optional[Path] = option(
        "--write-baseline",
        kind="path",
        help="Record every current finding in this file (exit 0) instead of reporting them.",
        value_name="FILE",
        doc="record every current finding in FILE and exit 0 "
        "([docs/baseline.md](docs/baseline.md))",
    )


OPTIONS: dict[str, Option] = CheckOptions._options

# The keys of [tool.mse-lint] that no option sets (the settings module reads every key; a
# test asserts that its keys are exactly these plus the options' keys).
FILE_ONLY_KEYS = frozenset({"exclude", "secrets", "max-files", "max-depth"})


def _flags() -> dict[str, tuple[str, str]]:
    """Every flag of the command line: (field of CheckOptions, how it is read). A switch's two
    flags read as "true" and "false"."""
    out: dict[str, tuple[str, str]] = {}
    for opt in OPTIONS.values():
        for flag in opt.flags:
            out[flag] = (opt.dest, "true" if opt.kind == "switch" else opt.kind)
        if opt.off:
            out[opt.off] = (opt.dest, "false")
    return out


FLAGS = _flags()


def check_options(values: dict[str, Any]) -> CheckOptions:
    """The record of a command line's values by field name (absent ones take their default;
    lists become tuples; no paths means the current folder)."""
    given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    if not given.get("paths"):
        given.pop("paths", None)
    return CheckOptions(**given)


def readme_table() -> str:
    """The option table of README.md, in the order of ``--help``."""
    rows = ["| option | meaning |", "|---|---|"]
    for opt in OPTIONS.values():
        if opt.kind == "switch":
            shown = f"`{opt.flags[0]}/{opt.off}`"
        elif opt.value_name:
            shown = f"`{opt.flags[0]} {opt.value_name}`"
        else:
            shown = f"`{opt.flags[0]}`"
        shown += "".join(f", `{alias}`" for alias in opt.flags[1:])
        meaning = opt.doc or opt.help[:1].lower() + opt.help[1:].rstrip(".")
        rows.append(f"| {_cell(shown)} | {_cell(meaning)} |")
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    """Text for a Markdown table's cell: a ``|`` (``error|warning``) escaped."""
    return text.replace("|", "\\|")


README_START = "<!-- options: generated by `python -m mse_lint.cli.options` -->\n"
README_END = "<!-- /options -->\n"


def readme_with_table(text: str) -> str:
    """README.md's text with the generated option table between its markers."""
    head, start, rest = text.partition(README_START)
    _, end, tail = rest.partition(README_END)
    if not start or not end:
        raise ValueError("README.md: the option table's markers are missing")
    return head + start + "\n" + readme_table() + "\n" + end + tail


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    readme = Path(__file__).resolve().parents[2] / "README.md"
    new = readme_with_table(readme.read_text(encoding="utf-8"))
    readme.write_text(new, encoding="utf-8")
    sys.stdout.write(f"wrote the option table of {readme}\n")
