"""Bad input never produces a traceback: odd files, folders and configuration, run through the
installed CLI with the exact message and exit code a user sees; writes are atomic; Ctrl-C stops
cleanly; output is the same bytes whatever the run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import pytest
from helpers import mse_lint_command

from mse_lint.cli import app as cli
from mse_lint.core.catalog import load_catalog
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "report-service"
TOML = (
    'name = "robust"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\n'
    '[cloud]\ncode = "src"\ndocker = "ghcr.io/cosmian/mse-flask:20230810125234"\n'
    'project = "default"\nhardware = "4g-eu-001"\n'
)
# The families whose findings the table pins down; a run with every rule is checked too.
CORE_AND_PROCESS = "MSE0,MSE1"


def run(
    *args: str, cwd: Optional[Path] = None, timeout: float = 120, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run(
        [*prefix, *mse_lint_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    # the one invariant of every row: a message, never a traceback or an internal error
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr
    return proc


def project(tmp_path: Path, files: dict[str, bytes], toml: Optional[str] = TOML) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()  # stop configuration discovery here
    if toml is not None:
        (root / "mse.toml").write_text(toml)
    for rel, data in files.items():
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


# -- odd Python files ---------------------------------------------------------------------------
OS_SYSTEM = (
    "`os.system` cannot start a shell in the enclave; it does not raise but returns 32512 "
    "(exit 127), so the command silently never runs"
)
RUN = (
    "`subprocess.run` starts a child process; the enclave forbids fork, so it raises "
    "BlockingIOError [Errno 11]"
)


def _parse(detail: str) -> str:
    return f"this file does not parse: {detail}; the enclave's import of it raises SyntaxError"


def _decode(detail: str) -> str:
    return f"this file cannot be decoded: {detail}; Python refuses to import it"


FILES: list[tuple[str, bytes, list[tuple[str, int, int, str]], int]] = [
    ("empty", b"", [], 0),
    ("bom", b"\xef\xbb\xbfimport os\nos.system('x')\n", [("MSE103", 2, 1, OS_SYSTEM)], 1),
    ("crlf", b"import os\r\n\r\nos.system('x')\r\n", [("MSE103", 3, 1, OS_SYSTEM)], 1),
    ("cr", b"import os\ros.system('x')\r", [("MSE103", 2, 1, OS_SYSTEM)], 1),
    (
        "50000-lines",
        b"import os\n" + b"x = 1\n" * 49_998 + b"os.system('x')\n",
        [("MSE103", 50_000, 1, OS_SYSTEM)],
        1,
    ),
    (
        "nested-parentheses",  # deeper than CPython's parser accepts (200 levels)
        b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n",
        [("MSE001", 1, 205, _parse("too many nested parentheses at line 1, column 205"))],
        1,
    ),
    (
        "deep-sum",  # valid, but the ast is deeper than the default recursion limit
        b"import os\nx = " + b"1 + " * 100_000 + b"1\nos.system('x')\n",
        [("MSE103", 3, 1, OS_SYSTEM)],
        1,
    ),
    (
        "deep-call-chain",  # the checks recurse deeper than the default limit
        b"import subprocess\nx = subprocess.run" + b"(1)" * 2000 + b"\n",
        [("MSE101", 2, 5, RUN)],
        1,
    ),
    ("nul-byte", b"x = 1\x00\n", [("MSE001", 1, 6, _parse("a NUL byte at line 1, column 6"))], 1),
    (
        "latin-1-declared",
        b"# -*- coding: latin-1 -*-\nimport os\nos.system('caf\xe9')\n",
        [("MSE103", 3, 1, OS_SYSTEM)],
        1,
    ),
    (
        "cp1252-declared",
        b"# vim: set fileencoding=cp1252 :\nimport os\nos.system('\x80')\n",
        [("MSE103", 3, 1, OS_SYSTEM)],
        1,
    ),
    (
        "unknown-encoding-declared",
        b"# coding: klingon\nx = 1\n",
        [("MSE002", 1, 1, _decode("unknown encoding 'klingon' declared"))],
        1,
    ),
    (
        "latin-1-undeclared",
        b"x = 1\nname = 'caf\xe9'\n",
        [("MSE002", 2, 12, _decode("byte 0xe9 is not valid utf-8"))],
        1,
    ),
    (
        "invalid-utf-8-in-a-comment",  # CPython never decodes comments: it imports this file
        b"import os\n# caf\xe9 \xff\nos.system('x')\n",
        [("MSE103", 3, 1, OS_SYSTEM)],
        1,
    ),
    (
        "invalid-utf-8",
        b'x = "\xff\xfe"\n',
        [("MSE002", 1, 6, _decode("byte 0xff is not valid utf-8"))],
        1,
    ),
]


@pytest.mark.parametrize(
    ("content", "expected", "code"),
    [pytest.param(c, e, x, id=name) for name, c, e, x in FILES],
)
def test_odd_python_file(
    tmp_path: Path, content: bytes, expected: list[tuple[str, int, int, str]], code: int
) -> None:
    root = project(tmp_path, {"src/app.py": content})
    proc = run(".", "--format", "json", "--select", CORE_AND_PROCESS, cwd=root)
    assert [f[1:] for f in findings(proc)] == expected
    assert {f[0] for f in findings(proc)} <= {"src/app.py"}
    assert notices(proc) == []
    assert proc.returncode == code


def test_every_rule_on_every_odd_file_at_once(tmp_path: Path) -> None:
    """All the files above in one project, every rule enabled (the families of today and of
    tomorrow): no crash, and the parse problems are still MSE001 / MSE002."""
    root = project(tmp_path, {f"src/{name.replace('-', '_')}.py": c for name, c, _, _ in FILES})
    every = ",".join(load_catalog().rules)
    proc = run(".", "--format", "json", "--select", every, cwd=root)
    assert proc.returncode == 1
    got = {(f[0], f[1]) for f in findings(proc) if f[1] in ("MSE001", "MSE002")}
    assert got == {
        (f"src/{name.replace('-', '_')}.py", rule)
        for name, _, expected, _ in FILES
        for rule, *_ in expected
        if rule in ("MSE001", "MSE002")
    }


# -- odd folders and links ------------------------------------------------------------------------
def test_folder_named_like_a_python_file(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/x.py/inner.py": b"import os\nos.system('x')\n"})
    proc = run(".", "--format", "json", "--select", CORE_AND_PROCESS, cwd=root)
    assert findings(proc) == [("src/x.py/inner.py", "MSE103", 2, 1, OS_SYSTEM)]
    assert proc.returncode == 1
    named = run("src/x.py", "--format", "json", "--select", CORE_AND_PROCESS, cwd=root)
    assert findings(named) == [("src/x.py/inner.py", "MSE103", 2, 1, OS_SYSTEM)]


def _without_dac_override() -> tuple[str, ...]:
    """A command prefix under which root is refused files like anyone else, or ()."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv is missing: root reads any file")
    caps = "-dac_override,-dac_read_search"
    prefix = (setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}")
    with tempfile.NamedTemporaryFile() as fh:
        os.chmod(fh.name, 0)
        probe = subprocess.run([*prefix, "cat", fh.name], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("running as root and cannot drop the capability to read any file")
    return prefix


def test_unreadable_file_is_a_notice_and_the_rest_is_checked(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"src/app.py": b"import os\nos.system('x')\n", "src/locked.py": b"import os\n"},
    )
    (root / "src" / "locked.py").chmod(0)
    prefix = _without_dac_override()
    proc = run(".", "--format", "json", "--select", CORE_AND_PROCESS, cwd=root, prefix=prefix)
    assert notices(proc) == ["mse-lint: src/locked.py: cannot read: Permission denied; not checked"]
    assert findings(proc) == [("src/app.py", "MSE103", 2, 1, OS_SYSTEM)]
    assert proc.returncode == 1


def test_broken_and_looping_symlinks(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": b"import os\nos.system('x')\n"})
    src = root / "src"
    (src / "dangling.py").symlink_to(src / "nowhere.py")
    (src / "self.py").symlink_to(src / "self.py")
    (src / "loop").symlink_to(src)
    (src / "sub").mkdir()
    (src / "sub" / "up").symlink_to(src / "sub")
    proc = run(".", "--format", "json", "--select", CORE_AND_PROCESS, cwd=root, timeout=60)
    assert findings(proc) == [("src/app.py", "MSE103", 2, 1, OS_SYSTEM)]
    assert proc.returncode == 1
    for name in ("dangling.py", "self.py"):
        named = run(f"src/{name}", cwd=root)
        assert named.stderr == f"mse-lint: error: src/{name}: no such file or folder\n"
        assert named.returncode == 2
    # without mse.toml every .py file is listed by walking: the loops end there too
    (root / "mse.toml").unlink()
    walked = run("src", "--format", "json", "--select", CORE_AND_PROCESS, cwd=root, timeout=60)
    assert findings(walked) == [("src/app.py", "MSE103", 2, 1, OS_SYSTEM)]


def test_path_that_vanishes_during_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file deleted between listing and reading (an editor's temp file, a build) is a
    notice; the rest of the run goes on."""
    import mse_lint.pipeline.runner as run_module

    root = project(
        tmp_path,
        {"src/app.py": b"import os\nos.system('x')\n", "src/gone.py": b"import os\n"},
    )
    real_collect = run_module.collect

    def collect_then_delete(*args: object, **kwargs: object) -> object:
        collected = real_collect(*args, **kwargs)  # type: ignore[arg-type]
        (root / "src" / "gone.py").unlink()
        return collected

    monkeypatch.setattr(run_module, "collect", collect_then_delete)
    result = lint([root], load_catalog(), Settings(select=("MSE0", "MSE1")), cwd=root)
    assert [(d.path, d.rule) for d in result.diagnostics] == [("src/app.py", "MSE103")]
    assert [n.render() for n in result.notices] == [
        "src/gone.py: cannot read: No such file or directory; not checked"
    ]


# -- mse.toml, .mseignore, requirements.txt --------------------------------------------------------
# A broken mse.toml is a finding, never a crash: the run goes on over the Python files under the
# given path and exits 1; each case pins the finding that says what is wrong, where.
MSE_TOMLS: list[tuple[str, bytes, tuple[str, int, int, str]]] = [
    ("empty", b"", ("MSE402", 1, 1, "lacks the required key `name`")),
    ("binary", b"\x00\xff\xfe\x01\x02", ("MSE401", 1, 2, "byte 0xff is not valid UTF-8")),
    (
        "invalid-toml",
        b'name = "x"\n[cloud\ncode = "src"\n',
        ("MSE401", 2, 7, "Expected ']' at the end of a table declaration"),
    ),
    (
        "wrong-types-everywhere",
        b"name = 1\npython_application = 2\nhealthcheck_endpoint = []\n"
        b"[cloud]\ncode = 3\ndocker = 4\nproject = 5\nhardware = 6\nsecrets = 7\n",
        ("MSE402", 5, 1, "`[cloud] code` must be a path (a string), not a number"),
    ),
    (
        "code-is-a-file",
        TOML.replace('code = "src"', 'code = "src/app.py"').encode(),
        ("MSE407", 5, 1, "src/app.py is a file, not a folder"),
    ),
    (
        "code-is-missing",
        TOML.replace('code = "src"', 'code = "nowhere"').encode(),
        ("MSE407", 5, 1, "nowhere does not exist"),
    ),
]


@pytest.mark.parametrize(("content", "want"), [pytest.param(c, w, id=i) for i, c, w in MSE_TOMLS])
def test_broken_mse_toml(tmp_path: Path, content: bytes, want: tuple[str, int, int, str]) -> None:
    root = project(tmp_path, {"src/app.py": b"import os\n"}, toml=None)
    (root / "mse.toml").write_bytes(content)
    proc = run(".", "--format", "json", cwd=root)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    rule, line, col, text = want
    found = [
        (f["rule"], f["line"], f["column"])
        for f in json.loads(proc.stdout)
        if f["path"] == "mse.toml" and text in f["message"]
    ]
    assert found == [(rule, line, col)], proc.stdout


def test_code_dir_outside_the_project_folder_is_checked(tmp_path: Path) -> None:
    root = project(tmp_path, {}, toml=TOML.replace('code = "src"', 'code = "../shared"'))
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "app.py").write_text("import os\nos.system('x')\n")
    proc = run(".", "--format", "json", "--select", CORE_AND_PROCESS, cwd=root)
    # shown by absolute path: it is not under the folder of the run
    shared = (tmp_path / "shared" / "app.py").resolve().as_posix()
    assert findings(proc) == [(shared, "MSE103", 2, 1, OS_SYSTEM)]
    assert proc.returncode == 1


def test_binary_mseignore(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "src/app.py": b"import os\nos.system('x')\n",
            "src/skip.py": b"import os\nos.system('x')\n",
            "src/.mseignore": b"\x00\xff\xfe\x01\n\x89PNG\r\n\x1a\nskip.py\n\xc3\x28\n",
        },
    )
    proc = run(".", "--format", "json", "--select", CORE_AND_PROCESS, cwd=root)
    assert findings(proc) == [("src/app.py", "MSE103", 2, 1, OS_SYSTEM)]
    assert proc.returncode == 1


def test_mseignore_with_very_long_lines(tmp_path: Path) -> None:
    """fnmatch compiles a megabyte pattern in seconds and a run of ``[`` in quadratic time;
    neither can match a file name (at most 255 characters), so neither may stall the run."""
    lines = [b"a" * 1_000_000, b"[" * 200_000, b"*" * 100_000 + b"x.py", b"skip.py"]
    root = project(
        tmp_path,
        {
            "src/app.py": b"import os\nos.system('x')\n",
            "src/skip.py": b"import os\nos.system('x')\n",
            "src/x.py": b"import os\nos.system('x')\n",
            "src/.mseignore": b"\n".join(lines) + b"\n",
        },
    )
    started = time.monotonic()
    proc = run(".", "--format", "json", "--select", CORE_AND_PROCESS, cwd=root, timeout=120)
    assert time.monotonic() - started < 60
    assert findings(proc) == [("src/app.py", "MSE103", 2, 1, OS_SYSTEM)]
    manifest = run("manifest", ".", cwd=root, timeout=120)
    assert "skip.py" in manifest.stdout and "excluded by pattern 'skip.py'" in manifest.stdout


REQUIREMENTS = """\
# every form pip accepts in a requirements file
-r other-requirements.txt
--requirement other-requirements.txt
-c constraints.txt
--constraint constraints.txt
-e git+https://github.com/org/editable.git@v1#egg=editable
--editable ./local-package
./wheels/local-1.0-py3-none-any.whl
https://files.example.org/pkg-1.0.tar.gz#sha256=00
-i https://pypi.org/simple
--index-url https://pypi.org/simple
--extra-index-url https://deploy:Hunter2isNotAPassword@pypi.internal.example/simple
--no-index
-f https://download.example.org/links.html
--find-links ./wheels
--no-binary :all:
--only-binary :none:
--prefer-binary
--require-hashes
--pre
--trusted-host pypi.internal.example
--use-feature truststore
--config-settings editable_mode=compat
flask==2.2.5 \\
    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000 \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111
requests[socks,security]>=2.28,<3; python_version >= "3.8" and sys_platform != "win32"
private-lib @ git+https://ci:Hunter3isNotAPassword@github.com/org/private-lib.git@v1.2.0
numpy ; platform_machine == "x86_64"  # trailing comment
--global-option="--no-user-cfg"
pkg-with-option==1.0 --install-option="--prefix=/usr"
--unknown-option-pip-does-not-know
\\
   continued-on-next-line==1.0
"""


def test_requirements_with_every_pip_option_form(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "src/app.py": b"import flask\n",
            "src/requirements.txt": REQUIREMENTS.encode(),
            "src/other-requirements.txt": b"\x00\xff binary\n",
            "src/constraints.txt": b"-r requirements.txt\n",  # a cycle
        },
    )
    proc = run(".", "--format", "json", cwd=root)
    assert proc.returncode == 1
    got = [(f[0], f[1], f[2]) for f in findings(proc) if f[1] == "MSE205"]
    assert got == [
        ("src/requirements.txt", "MSE205", 12),
        ("src/requirements.txt", "MSE205", 28),
    ]


CONFIGS: list[tuple[str, str, str]] = [
    (
        "pyproject.toml",
        "[tool.mse-lint]\nbogus = 1\n",
        "pyproject.toml:2: unknown key `bogus` (known keys: ",
    ),
    ("mse-lint.toml", "select = 1\n", "mse-lint.toml:1: `select` must be a list of rule IDs"),
    ("mse-lint.toml", "ignore = [1]\n", "mse-lint.toml:1: `ignore` must be a list of rule IDs"),
    (
        "mse-lint.toml",
        'severity = "error"\n',
        "mse-lint.toml:1: `severity` must be a table like",
    ),
    (
        "mse-lint.toml",
        "severity = { MSE101 = 3 }\n",
        "mse-lint.toml:1: `severity.MSE101` must be one of error, warning, info",
    ),
    ("mse-lint.toml", "fail-on = 1\n", "mse-lint.toml:1: `fail-on` must be one of error"),
    (
        "mse-lint.toml",
        "target-python = true\n",
        'mse-lint.toml:1: `target-python` must be a version from 3.8 to 3.14, like "3.10"',
    ),
    (
        "mse-lint.toml",
        "x = 1\ntarget-python = 3.1\n",
        "mse-lint.toml:1: unknown key `x`",
    ),
    ("mse-lint.toml", 'exclude = "x"\n', "mse-lint.toml:1: `exclude` must be a list of"),
    ("mse-lint.toml", 'jobs = "2"\n', "mse-lint.toml:1: `jobs` must be a whole number >= 0"),
    ("mse-lint.toml", "jobs = -1\n", "mse-lint.toml:1: `jobs` must be a whole number >= 0"),
    (
        "mse-lint.toml",
        "[secrets]\nextra-patterns = 5\n",
        "mse-lint.toml:1: `secrets.extra-patterns` must be a list of tables like",
    ),
    (
        "mse-lint.toml",
        "[secrets]\nallowlist-regex = [1]\n",
        "mse-lint.toml:1: `secrets` entries must be strings (regular expressions)",
    ),
    (
        "mse-lint.toml",
        '[secrets]\nextra-patterns = [{ regex = "(" }]\n',
        "mse-lint.toml:1: `secrets` has an invalid regular expression '('",
    ),
    ("mse-lint.toml", "[secrets]\nnope = 1\n", "mse-lint.toml:1: unknown key `secrets.nope`"),
    ("mse-lint.toml", "\x00\xff", "mse-lint.toml: not valid TOML"),
    ("mse-lint.toml", "select = [\n", "mse-lint.toml: not valid TOML"),
    ("pyproject.toml", "[tool]\nmse-lint = 3\n", "pyproject.toml: [tool.mse-lint] must be a table"),
]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [pytest.param(n, c, m, id=f"{n}:{c[:24]!r}") for n, c, m in CONFIGS],
)
def test_bad_config_file(tmp_path: Path, name: str, content: str, message: str) -> None:
    root = project(tmp_path, {"src/app.py": b"import os\n"})
    (root / name).write_bytes(content.encode("utf-8", "surrogateescape"))
    proc = run(".", cwd=root)
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"mse-lint: error: {root / message.split(':')[0]}")
    assert message in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert proc.returncode == 2


# -- atomic writes -------------------------------------------------------------------------------
def _flag_names(expr: Any, constants: dict[str, Any], depth: int = 0) -> set[str]:
    """The names in an os.open flags expression, module constants replaced by their value."""
    import ast

    names = set()
    for n in ast.walk(expr):
        name = n.attr if isinstance(n, ast.Attribute) else getattr(n, "id", None)
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            name = n.value  # getattr(os, "O_NOFOLLOW", 0)
        if name in constants and depth < 5:
            names |= _flag_names(constants[name], constants, depth + 1)
        elif name:
            names.add(name)
    return names


def _write_calls() -> list[str]:
    """Every call in mse_lint/ that writes a file, as 'module:function', unless the function
    also renames into place (os.replace / os.rename, or atomic.replacing): the temp + rename
    pattern."""
    import ast

    found = []
    write_flags = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"}
    for path in sorted((ROOT / "mse_lint").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # module constants (``_FLAGS = os.O_RDONLY | ...``): the names an os.open's flags
        # expression stands for
        constants = {
            t.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }

        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call)]
            names = {ast.unparse(c.func) for c in calls}
            # atomic.replacing is the temp + rename (the in-place write beside it is for
            # devices and FIFOs, tests/test_atomic_device.py)
            atomic = {"os.replace", "os.rename", "replacing"} & names
            for c in calls:
                name = ast.unparse(c.func)
                writes = name.endswith((".write_text", ".write_bytes"))
                if name == "os.open" and c.args and ast.unparse(c.args[0]) == "os.devnull":
                    writes = False  # pointing a closed stream at /dev/null writes no file
                elif name == "os.open":
                    # a read-only open (O_RDONLY, O_NOFOLLOW...) writes nothing; flags that
                    # are not a visible expression count as a write
                    used = _flag_names(c.args[1], constants) if len(c.args) > 1 else set()
                    writes = bool(write_flags & used) or not used & {"O_RDONLY", "O_DIRECTORY"}
                elif name in ("open", "os.fdopen", "io.open") or name.endswith(".open"):
                    modes = [a for a in c.args[1:2]] + [
                        k.value for k in c.keywords if k.arg == "mode"
                    ]
                    writes = any(
                        isinstance(m, ast.Constant)
                        and isinstance(m.value, str)
                        and set(m.value) & set("wax+")
                        for m in modes
                    )
                if writes and not atomic:
                    found.append(f"{path.relative_to(ROOT).as_posix()}:{fn.name}")
    return sorted(set(found))


def test_every_write_of_the_tool_is_temp_then_rename() -> None:
    # docs.py regenerates docs/rules in the repository: a developer tool, not a user-facing write
    assert [w for w in _write_calls() if not w.startswith("mse_lint/report/rule_docs.py:")] == []


class _DiskFull(OSError):
    pass


@pytest.mark.parametrize("fail_at", ["write", "replace"])
def test_failed_report_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    target = tmp_path / "report.json"
    target.write_text("previous report\n")
    if fail_at == "write":
        real_write = os.write

        def half_write(fd: int, data: bytes) -> int:
            real_write(fd, data[: len(data) // 2])
            raise _DiskFull(28, "No space left on device")

        monkeypatch.setattr(os, "write", half_write)
    else:

        def no_replace(*_: object, **__: object) -> None:
            raise _DiskFull(28, "No space left on device")

        monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(cli.UserError) as info:
        cli._write(target, '[{"rule": "MSE101"}]\n' * 1000)
    assert str(info.value) == f"{target}: cannot write the report: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert target.read_text() == "previous report\n"


def test_interrupted_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def interrupted(fd: int, data: bytes) -> int:
        real_write(fd, data[:10])
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli._write(tmp_path / "out.sarif", "x" * 100)
    assert list(tmp_path.iterdir()) == []


def _big_project(tmp_path: Path, files: int) -> Path:
    root = project(tmp_path, {})
    body = "import subprocess\n\n" + "".join(
        f"def handler_{i}(x):\n    return subprocess.run([x], check=True)\n\n" for i in range(40)
    )
    for i in range(files):
        (root / "src" / f"module_{i:04d}.py").write_text(body)
    return root


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("target", ["process", "group"])
def test_sigint_leaves_no_output_file_and_exits_130(tmp_path: Path, target: str) -> None:
    """SIGINT to the process (kill -INT) or to its process group (Ctrl-C in a terminal, which
    reaches the worker processes too) while it checks 2,500 files."""
    root = _big_project(tmp_path, 2500)
    out = tmp_path / "out"
    out.mkdir()
    argv = [*mse_lint_command(), ".", "--format", "json", "--jobs", "2", "-o", str(out / "r.json")]
    proc = subprocess.Popen(
        argv,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # a runner started as a background job of a non-interactive shell ignores SIGINT, and
        # the child would inherit that: give it the default a user's terminal gives
        preexec_fn=_default_sigint,
    )
    time.sleep(2.5)  # started, listed the files, checking
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")
    if target == "group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    started = time.monotonic()
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - started < 15  # it stops, it does not finish the queued files
    assert proc.returncode == 130
    assert stderr == "mse-lint: interrupted\n"
    assert stdout == ""
    assert list(out.iterdir()) == []


# -- deterministic output ------------------------------------------------------------------------
def output_formats() -> list[str]:
    """The --format values the installed CLI accepts, read from its own refusal of an unknown
    one (so that new formats are covered without naming them here)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = run(".", "--isolated", "--format", "no-such-format", cwd=Path(tmp))
        assert proc.returncode == 2
        words = sorted(set(re.findall(r"[a-z][a-z0-9_-]+", proc.stderr)) - {"no-such-format"})
        accepted = [
            w
            for w in words
            if run(".", "--isolated", "-q", "--format", w, cwd=Path(tmp)).returncode == 0
        ]
    assert {"console", "json"} <= set(accepted)
    return accepted


# Durations are the only bytes allowed to change between runs
_TIMINGS = [
    re.compile(r"\d+\.\d+ s\b"),
    re.compile(r'(?:time|elapsed|duration)["\']?\s*[:=]\s*["\']?[0-9.]+'),
    re.compile(r'(?:start|end)TimeUtc"?\s*[:=]\s*"[^"]*"'),
    re.compile(r'timestamp["\']?\s*[:=]\s*["\']?[0-9T:.+-]+Z?'),
]


def _stable(text: str) -> str:
    for pattern in _TIMINGS:
        text = pattern.sub(lambda m: re.sub(r"[0-9]", "#", m.group(0)), text)
    return text


def test_output_is_byte_identical_across_runs_and_jobs(tmp_path: Path) -> None:
    root = tmp_path / "app"
    shutil.copytree(EXAMPLE, root)
    (root / ".git").mkdir(exist_ok=True)
    code = root / "mse_src"
    for i in range(50):  # past the threshold where the run uses worker processes
        (code / f"extra_{i:02d}.py").write_text(
            f"import os\nimport subprocess\npassword = 'Kx9#mQ2$vL{i:02d}pW7@'\n"
            f"def f(x):\n    os.system(x)\n    return subprocess.Popen([x])\n"
        )
    formats = output_formats()
    for fmt in formats:
        outputs = []
        for jobs in ("1", "2", "2"):
            proc = run(".", "--format", fmt, "--jobs", jobs, "--no-color", cwd=root)
            assert proc.returncode == 1, (fmt, proc.stderr)
            outputs.append((_stable(proc.stdout), proc.stderr))
        assert outputs[0] == outputs[1] == outputs[2], fmt
        assert len(outputs[0][0]) > 100, fmt


def test_determinism_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    root = tmp_path / "app"
    shutil.copytree(EXAMPLE, root)
    outs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [*mse_lint_command(), ".", "--format", "json"],
            cwd=root,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 1
        outs.add(proc.stdout + proc.stderr)
    assert len(outs) == 1


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("POSIX file semantics")
