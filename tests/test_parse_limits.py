"""Hostile input to the parsers: TOML and JSON nested past any parser's recursion, declared
source encodings that are not text encodings, Python nested past CPython's parser, files too big
or too complex to check in bounded time. Each case is what a user sees, through the installed
``mse-lint``: the finding or the message, the exit code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest
from helpers import mse_lint_command

from mse_lint.nesting import TOML_MAX_DEPTH, json_depth_problem, toml_too_deep

TOML = (
    'name = "deep"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\n'
    'tests_cmd = "pytest"\ntests_requirements = ["pytest==7.2.0"]\n'
    '[cloud]\ncode = "src"\ntests = "tests"\ndocker = "ghcr.io/cosmian/mse-flask:20230810125234"\n'
    'project = "default"\nhardware = "4g-eu-001"\n'
)
APP = (
    b"from flask import Flask\napp = Flask(__name__)\n\n"
    b"@app.get('/health')\ndef h():\n    return 'ok'\n"
)


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run(
        [*mse_lint_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr
    return proc


def project(tmp_path: Path, files: dict[str, bytes], toml: Optional[str] = TOML) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / ".git").mkdir()  # configuration discovery stops here
    if toml is not None:
        (root / "mse.toml").write_text(toml)
    for rel, data in {"src/app.py": APP, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def findings(proc: subprocess.CompletedProcess[str]) -> list[tuple[str, str, int, int, str]]:
    return [
        (f["path"], f["rule"], f["line"], f["column"], f["message"])
        for f in json.loads(proc.stdout)
    ]


def notices(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("mse-lint: ")]


TOO_DEEP = (
    f"arrays, tables and dotted keys nested more than {TOML_MAX_DEPTH} levels deep; "
    "mse-lint reads no deeper"
)
MSE401_DEEP = (
    "mse.toml cannot be read by mse-cli: arrays, tables and dotted keys nested more than 100 "
    "levels deep (mse-lint reads no deeper; mse-cli's parser fails with RecursionError a few "
    "hundred levels down); every mse command fails on it"
)


# -- TOML ---------------------------------------------------------------------------------------
DEEP_VALUES = [
    pytest.param("x = " + "[" * 600 + "]" * 600, 105, id="600-deep-array"),
    pytest.param("x = " + "{a = " * 600 + "1" + "}" * 600, 4 + 5 * 100 + 1, id="inline-tables"),
    pytest.param("x = " + "[" * 100_000, 105, id="unclosed-array"),
    pytest.param("x" + ".a" * 30_000 + " = 1", 202, id="30000-part-dotted-key"),
]


@pytest.mark.parametrize(("line", "col"), DEEP_VALUES)
def test_deep_mse_toml_is_mse401_at_the_limit(tmp_path: Path, line: str, col: int) -> None:
    root = project(tmp_path, {}, toml=TOML.replace("[cloud]", line + "\n[cloud]"))
    start = time.monotonic()
    proc = run(".", "--format", "json", cwd=root)
    assert time.monotonic() - start < 30  # the dotted key took tomllib minutes (quadratic)
    assert proc.returncode == 1, proc.stderr
    assert [f for f in findings(proc) if f[1] == "MSE401"] == [
        ("mse.toml", "MSE401", 6, col, MSE401_DEEP)
    ]


def test_manifest_of_a_deep_mse_toml_is_a_message(tmp_path: Path) -> None:
    root = project(
        tmp_path, {}, toml=TOML.replace("[cloud]", "x = " + "[" * 600 + "]" * 600 + "\n[cloud]")
    )
    proc = run("manifest", cwd=root)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("mse-lint: error: ")
    assert "mse.toml:6:105: " in proc.stderr and "nested more than 100 levels deep" in proc.stderr


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        pytest.param(
            "pyproject.toml",
            '[tool.mse-lint]\nselect = ["MSE"]\n\n[tool.other]\nx = ' + "[" * 600 + "]" * 600,
            "5:103",  # [tool.other] is two levels
            id="pyproject-elsewhere",
        ),
        pytest.param(
            "mse-lint.toml",
            'select = ["MSE"]\nx = ' + "{a = " * 600 + "1" + "}" * 600,
            "2:505",
            id="mse-lint.toml-inline-tables",
        ),
        pytest.param(
            "mse-lint.toml", "[" + ".".join(["t"] * 50_000) + "]\n", "1:201", id="long-header"
        ),
    ],
)
def test_deep_settings_file_is_exit_2_with_file_and_line(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    root = project(tmp_path, {})
    (root / name).write_text(text)
    proc = run(".", cwd=root)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"mse-lint: error: {root / name}:{where}: {TOO_DEEP}\n"
    explicit = run(".", "--config", name, cwd=root)
    assert explicit.returncode == 2
    assert explicit.stderr == f"mse-lint: error: {name}:{where}: {TOO_DEEP}\n"


def test_nesting_within_the_limit_still_reads(tmp_path: Path) -> None:
    """99 levels are read as before: the schema checks see the value (an unknown key)."""
    root = project(
        tmp_path, {}, toml=TOML.replace("[cloud]", "x = " + "[" * 99 + "]" * 99 + "\n[cloud]")
    )
    proc = run(".", "--format", "json", cwd=root)
    assert [f[1:4] for f in findings(proc)] == [("MSE403", 6, 1)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("x = " + "[" * 100 + "]" * 100, None),
        ("x = " + "[" * 101 + "]" * 101, (1, 105)),
        # brackets and dots inside strings and comments are text, not nesting
        ('x = "' + "[" * 500 + "\"\ny = '" + "{" * 500 + "'\n# " + "[" * 500, None),
        ('x = """\n' + "[" * 500 + "\n\"\"\"\ny = '''" + "." * 500 + "'''", None),
        ("a = " + "[1.5, 2.5], " * 2000, None),  # long, flat: many brackets, no depth
        ("[a.b.c]\n" + "k.l = 1\n" * 500, None),
        # a header's parts count towards the keys below it
        ("[" + ".".join("t" * 60) + "]\n" + "k" + ".k" * 40 + " = 1", None),
        ("[" + ".".join("t" * 60) + "]\n" + "k" + ".k" * 41 + " = 1", (2, 82)),
        ("[[" + ".".join("t" * 100) + "]]", (1, 200)),
        # each inline table and each dotted part below it adds a level
        ("x = {" + "a.b = {" * 49 + "}" * 50, None),
        ("x = {" + "a.b = {" * 50 + "}" * 51, (1, 5 + 7 * 50)),
    ],
)
def test_toml_depth_scan(text: str, expected: Optional[tuple[int, int]]) -> None:
    assert toml_too_deep(text) == expected


def test_toml_depth_scan_passes_every_shipped_toml_file() -> None:
    root = Path(__file__).resolve().parent.parent
    files = [*sorted((root / "rules").glob("*.toml")), root / "pyproject.toml"]
    files += sorted((root / "tests" / "fixtures").rglob("*.toml"))
    assert len(files) > 10
    for path in files:
        assert toml_too_deep(path.read_text(encoding="utf-8")) is None, path


# -- JSON ---------------------------------------------------------------------------------------
DEEP_JSON = "[" * 100_000 + "]" * 100_000


def test_deep_secrets_file_is_a_notice_and_the_run_goes_on(tmp_path: Path) -> None:
    toml = TOML.replace(
        'hardware = "4g-eu-001"', 'hardware = "4g-eu-001"\nsecrets = "secrets.json"'
    )
    app = APP + b"import json, os\nS = json.load(open(os.environ['SECRETS_PATH']))\nK = S['key']\n"
    root = project(tmp_path, {"src/app.py": app, "secrets.json": DEEP_JSON.encode()}, toml=toml)
    proc = run(".", "--format", "json", cwd=root)
    assert notices(proc) == [
        "mse-lint: secrets.json: the secrets file cannot be read as JSON (nested more than 100 "
        "levels deep at line 1, column 101); MSE209 cannot compare the keys the code reads with it"
    ]
    assert findings(proc) == []
    assert proc.returncode == 0
    # the same file, readable: MSE209 compares the keys
    (root / "secrets.json").write_text('{"other": 1}')
    proc = run(".", "--format", "json", cwd=root)
    assert notices(proc) == []
    assert [f[1:3] for f in findings(proc)] == [("MSE209", 9)]


def test_deep_baseline_is_exit_2(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    (root / "baseline.json").write_text(DEEP_JSON)
    proc = run(".", "--baseline", "baseline.json", cwd=root)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "mse-lint: error: baseline.json: not a mse-lint baseline (invalid JSON: nested more "
        "than 100 levels deep at line 1, column 101)\n"
    )


def test_json_depth_problem_skips_strings() -> None:
    text = '{"a": "[[[[{{{{", "b": [[["\\"[["]]]}'
    assert json_depth_problem(text) == "nested 4 levels deep at line 1, column 26"
    assert (
        json_depth_problem("[\n" * 150) == "nested more than 100 levels deep at line 101, column 1"
    )


def test_manifest_reports_a_bug_as_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever goes wrong while listing, `manifest` says it as `check` does: one line, exit 2
    (it printed a raw traceback with exit 1)."""
    from mse_lint import cli
    from mse_lint.project import Project

    root = project(tmp_path, {})

    def broken(self: Project, expand: bool = False) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(Project, "manifest", broken)
    with pytest.raises(SystemExit) as info:
        cli.app(["manifest", str(root)])
    assert info.value.code == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (
        "mse-lint: error: internal error: RecursionError: maximum recursion depth exceeded "
        "(run with --debug for the traceback; please report it)\n"
    )
