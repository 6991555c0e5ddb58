"""The typer-free entry point (mse_lint.cli.fastpath): same output, stderr and exit code as
the typer app for every command line it accepts; everything else goes to typer; typer is not
imported for a plain check."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mse_lint.cli import fastpath
from mse_lint.cli.options import OPTIONS, CheckOptions

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "report-service"
TYPER = "import sys; from mse_lint.cli.app import main; sys.argv[0] = 'mse-lint'; main()"
FAST = "import sys; from mse_lint.cli.fastpath import main; sys.argv[0] = 'mse-lint'; main()"


def run(code: str, args: list[str], cwd: Path) -> tuple[int, str, str]:
    p = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    # the console summary says how long the run took: the one thing allowed to differ
    out = re.sub(r"checked in \d+(\.\d+)? m?s", "checked in T", p.stdout)
    return p.returncode, out, p.stderr


CASES = [
    [".", "--no-color"],
    ["check", ".", "--format", "json", "-q"],
    ["--format=json", "--select", "MSE1", "--select=MSE2", ".", "--no-cache"],
    [
        ".",
        "--ignore",
        "MSE101,MSE2",
        "--severity",
        "MSE102=info",
        "--fail-on",
        "warning",
        "-j",
        "1",
    ],
    [".", "--target-python", "3.8", "--isolated", "--quiet", "--no-color"],
    ["--", "."],
    [".", "--format", "xml"],  # a usage error from _check
    [".", "--select", "NOPE"],  # a configuration error
    ["missing-folder"],
]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_fast_path_matches_typer(args: list[str]) -> None:
    assert fastpath.parse(args) is not None  # really the fast path
    assert run(FAST, args, EXAMPLE) == run(TYPER, args, EXAMPLE)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["check", "--help"],
        ["--version"],
        ["rules"],
        ["explain", "MSE101"],
        [".", "--jobs", "many"],  # typer's message for a bad number
        [".", "--select"],  # a missing value
        [".", "--unknown-option"],
        [".", "-qj1"],  # combined short options
        [".", "--quiet=yes"],
    ],
    ids=" ".join,
)
def test_everything_else_goes_to_typer(args: list[str]) -> None:
    assert fastpath.parse(args) is None
    if args[0] in ("--help", "--version", "rules", "check"):  # still the same output
        assert run(FAST, args, EXAMPLE) == run(TYPER, args, EXAMPLE)


def test_parse() -> None:
    options = fastpath.parse(["a.py", "-o", "-", "--select", "MSE1", "--select", "MSE2", "b.py"])
    assert options is not None
    assert options.paths == (Path("a.py"), Path("b.py"))
    assert options.output == Path("-")
    assert options.select == ("MSE1", "MSE2")
    assert fastpath.parse([]) == CheckOptions(paths=(Path("."),))  # every default
    assert fastpath.parse(["--no-color"]).color is False  # type: ignore[union-attr]


def test_tables_match_the_typer_app() -> None:
    """The typer app and the fast path are made from the same option definitions: the same
    flags reach the same fields with the same defaults, and a command of the typer app is never
    taken for a path by the fast path."""
    import typer.main

    from mse_lint.cli.app import app

    group = typer.main.get_command(app)
    assert set(group.commands) - {"check"} == set(fastpath.COMMANDS)  # type: ignore[attr-defined]
    check = group.commands["check"]  # type: ignore[attr-defined]
    names = {
        opt: p.name for p in check.params for opt in (*p.opts, *p.secondary_opts) if opt != "-h"
    }
    names.pop("--help", None)
    names.pop("paths", None)  # the argument
    assert names == {k: d for k, (d, _) in fastpath.OPTIONS.items()}
    defaults = CheckOptions()
    for p in check.params:
        if p.name in OPTIONS:
            assert p.default == getattr(defaults, p.name), p.name
            assert p.multiple == (OPTIONS[p.name].kind == "multi"), p.name
    assert {p.name for p in check.params} == {"paths", *OPTIONS}


def test_a_check_does_not_import_typer(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import os\nos.fork()\n")
    code = (
        "import sys; from mse_lint.cli import fastpath\n"
        "sys.argv = ['mse-lint', 'app.py', '--isolated', '-q']\n"
        "try:\n    fastpath.main()\nexcept SystemExit as e:\n    code = e.code\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'rich', "
        "'libcst', 'pathspec'))\n"
        "print(code, bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip().splitlines()[-1] == "1 []", out.stderr


def test_one_file_run_imports_only_what_it_needs(tmp_path: Path) -> None:
    """The pre-commit case, in its own process: no run parses the catalogue's TOML (the
    compiled copy ships); the first run (no results cached yet) checks the file; the next one,
    with the results cached, must not import dataclasses (and inspect), any check family or
    the project-level helpers; a file run never needs requirements.txt or mse.toml parsing."""
    import os

    (tmp_path / "app.py").write_text("import subprocess\nsubprocess.run(['ls'])\n")
    code = (
        "import sys; from mse_lint.cli import fastpath\n"
        "sys.argv = ['mse-lint', 'app.py', '--isolated', '-q', '--format', 'json']\n"
        "try:\n    fastpath.main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = ('dataclasses', 'inspect', 'tomllib', 'tomli', 'mse_lint.checks.',"
        " 'mse_lint.project.requirements', 'mse_lint.project.tomlpos', 'typer', 'rich', 'libcst')\n"
        "print(code, sorted({h for h in heavy for m in sys.modules if m.startswith(h)}))\n"
    )
    env = {**os.environ, "MSE_LINT_CACHE_DIR": str(tmp_path / "cache")}

    def run_once() -> str:
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert '"MSE101"' in out.stdout, out.stderr
        return out.stdout.strip().splitlines()[-1]

    first = run_once()  # the file checked
    assert "mse_lint.project.requirements" not in first and "mse_lint.project.tomlpos" not in first
    assert "tomllib" not in first and "tomli" not in first
    assert "dataclasses" not in first and "inspect" not in first  # no family defines one
    assert "typer" not in first and "libcst" not in first
    assert first.startswith("1 ["), first
    assert run_once() == "1 []"  # served from the cache
