"""Hostile input to the parsers: TOML and JSON nested past any parser's recursion, declared
source encodings that are not text encodings, Python nested past CPython's parser, files too big
or too complex to check in bounded time. Each case is what a user sees, through the installed
``mse-lint``: the finding or the message, the exit code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest
from helpers import mse_lint_command

from mse_lint.source.nesting import TOML_MAX_DEPTH, json_depth_problem, toml_too_deep

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
    from mse_lint.cli import app as cli
    from mse_lint.project.model import Project

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


OS_SYSTEM = (
    "`os.system` cannot start a shell in the enclave; it does not raise but returns 32512 "
    "(exit 127), so the command silently never runs"
)
SYSTEM = b"import os\nos.system('x')\n"

# codecs that exist but are no text encodings, raise UnicodeError, or are unknown by their alias
ODD_CODECS = [
    "punycode", "undefined", "rot13", "hex", "uu", "zlib", "base64", "bz2", "quopri",
    "utf-16", "utf-32", "mbcs", "string_escape", "unicode_internal",
]  # fmt: skip


@pytest.mark.parametrize("codec", ODD_CODECS)
def test_odd_declared_encoding_is_mse002_and_the_run_goes_on(tmp_path: Path, codec: str) -> None:
    root = project(
        tmp_path, {"src/odd.py": f"# coding: {codec}\nx = 1\n".encode(), "src/app.py": SYSTEM}
    )
    proc = run(".", "--format", "json", "--select", "MSE0,MSE1", cwd=root)
    got = findings(proc)
    assert [f[:2] for f in got] == [("src/app.py", "MSE103"), ("src/odd.py", "MSE002")]
    assert got[0][2:] == (2, 1, OS_SYSTEM)
    assert got[1][4].startswith("this file cannot be decoded: ")
    assert got[1][4].endswith("; Python refuses to import it")
    assert proc.returncode == 1


def _cpython_rejects(data: bytes) -> bool:
    try:
        compile(data, "m.py", "exec", dont_inherit=True)
    except SyntaxError:
        return True
    except (ValueError, MemoryError, RecursionError):  # pragma: no cover - not these inputs
        return True
    return False


def test_every_codec_is_judged_as_cpython_does(tmp_path: Path) -> None:
    """Each codec name Python knows (and some it does not), declared in a file with a non-ASCII
    string and an undecodable byte in a comment: the engine refuses exactly the files this
    Python's compiler refuses (MSE001 or MSE002), and never raises."""
    import encodings.aliases

    from mse_lint.core.catalog import load_catalog
    from mse_lint.core.settings import Settings
    from mse_lint.pipeline.engine import Engine, FileJob

    engine = Engine(load_catalog(), Settings(select=("MSE0",)))
    names = sorted({*encodings.aliases.aliases.values(), *ODD_CODECS, "utf8", "klingon"})
    bodies = [b"x = 1\n", b"x = 'caf\xc3\xa9'\n", b"x = 1  # \xff\xfe\n", b"x = '\x81'\n"]
    path = tmp_path / "m.py"
    disagree = []
    for name in names:
        for body in bodies:
            data = f"# coding: {name}\n".encode() + body
            path.write_bytes(data)
            rules = {d.rule for d in engine.check_file(FileJob(str(path), "m.py")).diagnostics}
            if bool(rules & {"MSE001", "MSE002"}) != _cpython_rejects(data):
                disagree.append((name, body, rules))
    assert disagree == []


def test_invalid_bytes_in_a_comment_of_a_declared_codec_are_mse002(tmp_path: Path) -> None:
    """Only UTF-8 source is decoded token by token: any other declared codec decodes the whole
    file first, so a byte it cannot decode fails the import even inside a comment."""
    root = project(tmp_path, {"src/app.py": b"# coding: cp1252\nx = 1  # \x81\n"})
    proc = run(".", "--format", "json", "--select", "MSE0", cwd=root)
    assert [f[1:4] for f in findings(proc)] == [("MSE002", 2, 10)]
    assert proc.returncode == 1


def test_many_invalid_bytes_in_comments_take_linear_time(tmp_path: Path) -> None:
    """Each bad byte of a comment decoded the rest of the file again: 50,000 took 6 s."""
    bad = b"import os\n# " + b"\xff" * 400_000 + b"\nos.system('x')  # \xfe\ny = '\xff'\n"
    root = project(tmp_path, {"src/app.py": bad})
    start = time.monotonic()
    proc = run(".", "--format", "json", "--select", "MSE0,MSE1", cwd=root)
    assert time.monotonic() - start < 20
    assert [f[1:4] for f in findings(proc)] == [("MSE002", 4, 6)]


def test_slow_codec_on_a_large_file_is_mse004(tmp_path: Path) -> None:
    """CPython's punycode decoder is quadratic: 1 MB took 100 s to decode."""
    data = b"# coding: punycode\nx=1\n#-" + b"a" * 1_000_000
    root = project(tmp_path, {"src/app.py": data, "src/other.py": SYSTEM})
    start = time.monotonic()
    proc = run(".", "--format", "json", "--select", "MSE0,MSE1", cwd=root)
    assert time.monotonic() - start < 20
    assert findings(proc) == [
        (
            "src/app.py",
            "MSE004",
            1,
            1,
            "this file was not checked: it declares the punycode encoding, whose decoding "
            "takes quadratic time, and is 976.6 KiB: mse-lint decodes at most 64 KiB of it; "
            "none of the other rules looked at it",
        ),
        ("src/other.py", "MSE103", 2, 1, OS_SYSTEM),
    ]
    assert proc.returncode == 1


# -- Python past the limits of the parser and of the analysis ---------------------------------
def _overflow(detail_line: int, col: int) -> str:
    return (
        f"this file does not parse: too deeply nested for Python's parser at line "
        f"{detail_line}, column {col}; the enclave's import of it raises MemoryError"
    )


@pytest.mark.parametrize(
    ("body", "low", "high"),
    [
        pytest.param("x = " + "-" * 100_000 + "1\n", 5_900, 6_100, id="unary-minus"),
        pytest.param("x = " + "not " * 30_000 + "1\n", 23_000, 24_500, id="not"),
        pytest.param("x = " + "2**" * 50_000 + "2\n", 8_500, 9_500, id="power"),
        pytest.param("f = " + "lambda: " * 20_000 + "1\n", 23_000, 24_500, id="lambda"),
    ],
)
def test_nesting_cpython_refuses_is_mse001(tmp_path: Path, body: str, low: int, high: int) -> None:
    """Every CPython stops with MemoryError ("too complex to parse") on these: the import fails
    in the enclave, so it is MSE001 where the parser gave up (it was a notice and exit 0)."""
    root = project(tmp_path, {"src/app.py": SYSTEM + body.encode()})
    proc = run(".", "--format", "json", "--select", "MSE0,MSE1", cwd=root)
    [(path, rule, line, col, message)] = findings(proc)
    assert (path, rule, line) == ("src/app.py", "MSE001", 3)
    assert low <= col <= high
    assert message == _overflow(3, col)
    assert notices(proc) == []
    assert proc.returncode == 1


def test_file_larger_than_the_limit_is_mse004(tmp_path: Path) -> None:
    """12 MB of `x = 1` took 51 s and 4.9 GB; past 2 MiB a file is not parsed at all."""
    root = project(tmp_path, {"src/big.py": b"x = 1\n" * 2_000_000, "src/other.py": SYSTEM})
    start = time.monotonic()
    proc = run(".", "--format", "json", "--select", "MSE0,MSE1", cwd=root)
    assert time.monotonic() - start < 20
    assert findings(proc) == [
        (
            "src/big.py",
            "MSE004",
            1,
            1,
            "this file was not checked: it is 11.4 MiB, more than the 2 MiB mse-lint parses in "
            "one file; none of the other rules looked at it",
        ),
        ("src/other.py", "MSE103", 2, 1, OS_SYSTEM),
    ]
    assert proc.returncode == 1
    console = run(".", "--select", "MSE0,MSE1", cwd=root)
    assert "2 files checked" in console.stdout  # app.py and other.py, not big.py
    accepted = run(".", "--select", "MSE0", "--ignore", "MSE004", cwd=root)
    assert accepted.returncode == 0


@pytest.mark.parametrize("fmt", ["console", "sarif", "json", "github", "gitlab", "junit"])
def test_window_of_a_file_not_checked_shows_no_secret(tmp_path: Path, fmt: str) -> None:
    """MSE004's window shows the file's first line: a token there is masked like any other,
    though the file was never parsed (the text judge reads its first bytes)."""
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    data = f'TOKEN = "{token}"\n'.encode() + b"x = 1\n" * 400_000
    root = project(tmp_path, {"src/big.py": data})
    for _ in range(2):  # and from the cache
        proc = run(".", "--format", fmt, cwd=root)
        assert proc.returncode == 1
        assert token[:5] not in proc.stdout + proc.stderr


def _newer_syntax() -> str:
    """A statement this Python cannot parse but a newer one can (libcst reads it)."""
    if sys.version_info < (3, 12):
        return "type Alias = int\n"
    if sys.version_info < (3, 14):
        return "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n"
    pytest.skip("no syntax newer than this Python that libcst parses")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            "x = " + "1 + " * 8_000 + "1\n",
            "its expressions nest too deeply (line {n})",
            id="deep-sum-8000",  # 26 s in libcst, roughly cubic
        ),
        pytest.param("x = 1\n" * 30_000, "it is {size}, more than 128 KiB", id="30000-lines"),
    ],
)
def test_fallback_parse_past_its_budget_is_mse004(tmp_path: Path, body: str, reason: str) -> None:
    newer = _newer_syntax()
    text = newer + body
    root = project(tmp_path, {"src/app.py": text.encode(), "src/other.py": SYSTEM})
    start = time.monotonic()
    proc = run(".", "--format", "json", "--select", "MSE0,MSE1,MSE506", cwd=root)
    assert time.monotonic() - start < 20
    got = findings(proc)
    assert [f[:4] for f in got] == [
        ("src/app.py", "MSE004", 1, 1),
        ("src/other.py", "MSE103", 2, 1),
    ]
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    size = f"{len(text.encode()) / 1024:.1f} KiB"
    why = reason.format(n=newer.count("\n") + 1, size=size)
    assert got[0][4].startswith(
        f"this file was not checked: this Python ({here}) cannot parse it ("
    )
    assert f"), and {why}, beyond what the fallback parser reads in bounded time" in got[0][4]
    assert proc.returncode == 1


def test_fallback_within_its_budget_still_reports_mse506(tmp_path: Path) -> None:
    newer = _newer_syntax()
    root = project(tmp_path, {"src/app.py": (newer + "x = " + "1 + " * 500 + "1\n").encode()})
    proc = run(
        ".", "--format", "json", "--select", "MSE0,MSE506", "--target-python", "3.10", cwd=root
    )
    assert [f[1] for f in findings(proc)] == ["MSE506"]


def test_python_nesting_of_real_code_is_far_below_the_budget() -> None:
    """The standard library's largest files, with the fallback budget of rules/core.toml."""
    import os as os_module

    from mse_lint.core.catalog import load_catalog
    from mse_lint.source.nesting import python_nesting

    budget = load_catalog().data("core")["limits"]["fallback_max_nesting"]
    folder = Path(os_module.__file__).parent
    files = sorted(folder.glob("*.py"), key=lambda p: p.stat().st_size)[-15:]
    for path in files:
        cost = python_nesting(path.read_text(encoding="utf-8", errors="replace"))[0]
        assert cost < budget / 10, path
    assert python_nesting("x = [" + "(1, 2), " * 10_000 + "]\n")[0] < 100
    assert python_nesting("x = " + "1 + " * 1_000 + "1\n")[0] == 1_000_000


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="3.11+ guards the recursion of ast.parse")
def test_deep_valid_file_does_not_crash_python_before_3_11(tmp_path: Path) -> None:
    """Before 3.11, building the ast objects of 150,000 levels overflowed the C stack: the
    whole run died with SIGSEGV (exit -11)."""
    deep = b"import os\nx = " + b"1 + " * 200_000 + b"1\nos.system('x')\n"
    root = project(tmp_path, {"src/app.py": deep})
    proc = run(".", "--format", "json", "--select", "MSE0,MSE1", cwd=root)
    assert [f[1:4] for f in findings(proc)] == [("MSE103", 3, 1)]
    assert proc.returncode == 1
