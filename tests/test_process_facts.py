"""What the process family says and how sure it is: exact messages, fix hints and severities of
MSE104 (thread pools that need semaphores), MSE105 (asyncio.subprocess constants are not
process APIs) and MSE107 (joblib falls back to one core instead of failing)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helpers import mse_lint_command

from mse_lint.checks import FileContext
from mse_lint.checks.process import ProcessCheck
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Severity


def check(catalog: Catalog, source: str) -> list[Diagnostic]:
    import ast

    ctx = FileContext(path="app.py", source=source, tree=ast.parse(source), catalog=catalog)
    return list(ProcessCheck(catalog).run(ctx))


def brief(found: list[Diagnostic]) -> list[tuple[str, int, int, str]]:
    return [(d.rule, d.span.line, d.span.col, d.severity.name) for d in found]


# ------------------------------------------------------------------------------------------------
# MSE104
# ------------------------------------------------------------------------------------------------
def test_thread_pool_message_and_fix(catalog: Catalog) -> None:
    [d] = check(catalog, "from multiprocessing.pool import ThreadPool\n\nPOOL = ThreadPool(4)\n")
    assert (d.rule, d.span.line, d.span.col, d.severity) == ("MSE104", 3, 8, Severity.ERROR)
    assert d.message == (
        "`multiprocessing.pool.ThreadPool` needs a POSIX semaphore in /dev/shm (it starts no "
        "process, but it signals its threads through a multiprocessing queue), which the enclave "
        "does not have; it fails when used"
    )
    # the fix names the pool that works in the enclave, and not the one that does not
    assert d.fix.startswith("Use threads instead: concurrent.futures.ThreadPoolExecutor, ")
    assert "or multiprocessing.pool.ThreadPool" not in d.fix


def test_dummy_pool_through_aliases_and_references(catalog: Catalog) -> None:
    source = (
        "import multiprocessing.dummy as md\n"
        "from multiprocessing import dummy\n"
        "from multiprocessing.dummy import Pool as P\n"
        "md.Pool(2)\n"
        "dummy.Pool()\n"
        "P(3)\n"
        "callbacks = [md.Pool]\n"
        "md.Lock()\n"  # threading.Lock: fine
        "dummy.Process(target=print)\n"  # a thread: fine
    )
    found = check(catalog, source)
    assert brief(found) == [
        ("MSE104", 4, 1, "ERROR"),
        ("MSE104", 5, 1, "ERROR"),
        ("MSE104", 6, 1, "ERROR"),
        ("MSE104", 7, 14, "ERROR"),
    ]
    assert {d.message.split("`")[1] for d in found} == {"multiprocessing.dummy.Pool"}


def test_thread_pool_reached_by_getattr_is_dynamic(catalog: Catalog) -> None:
    [d] = check(
        catalog, "import multiprocessing.pool\n\ngetattr(multiprocessing.pool, 'ThreadPool')(2)\n"
    )
    assert d.rule == "MSE106"
    assert "`multiprocessing.pool.ThreadPool` is reached dynamically" in d.message


def test_thread_pool_executor_is_never_reported(catalog: Catalog) -> None:
    source = (
        "import concurrent.futures\n"
        "from concurrent.futures import ThreadPoolExecutor as ThreadPool\n"
        "with ThreadPool(4) as pool:\n"
        "    pool.map(len, [])\n"
        "concurrent.futures.ThreadPoolExecutor()\n"
    )
    assert check(catalog, source) == []


# ------------------------------------------------------------------------------------------------
# MSE107: joblib degrades to one core, the others fail
# ------------------------------------------------------------------------------------------------
JOBLIB = (
    "import joblib\n"
    "import sh\n"
    "from joblib import Parallel, delayed\n"
    "\n"
    "def run(items):\n"
    "    Parallel(n_jobs=4)(delayed(len)(i) for i in items)\n"
    "    with joblib.parallel_backend('loky'):\n"
    "        pass\n"
    "    joblib.parallel_config(backend='multiprocessing')\n"
    "    return sh.ls('-l')\n"
)
SERIAL = (
    "in the enclave it starts none: joblib finds no semaphore when it is imported (no /dev/shm), "
    'warns that it "will operate in serial mode" and runs every task in turn, on one core'
)


def test_joblib_is_a_warning_about_one_core(catalog: Catalog) -> None:
    found = check(catalog, JOBLIB)
    assert brief(found) == [
        ("MSE107", 6, 5, "WARNING"),
        ("MSE107", 7, 10, "WARNING"),
        ("MSE107", 9, 5, "WARNING"),
        ("MSE107", 10, 12, "ERROR"),
    ]
    parallel, backend, config, shell = found
    assert parallel.message == (
        "`joblib.Parallel` with n_jobs != 1 uses joblib's default process backend (loky); " + SERIAL
    )
    assert backend.message == f"`joblib.parallel_backend` selects a process backend; {SERIAL}"
    assert config.message == f"`joblib.parallel_config` selects a process backend; {SERIAL}"
    assert parallel.fix is not None and parallel.fix.startswith("Expect one core in the enclave")
    # the rest of MSE107 keeps the rule's error, message and fix
    assert shell.message == (
        "`sh.ls` runs an external command through the `sh` package; in the enclave starting a "
        "process fails"
    )
    assert shell.fix == catalog.get("MSE107").fix
    assert catalog.get("MSE107").severity is Severity.ERROR


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mse_lint_command(), "--no-cache", *args, "app.py"],
        cwd=root,
        capture_output=True,
        text=True,
    )


def test_joblib_severity_in_the_reports(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(JOBLIB)
    done = _run(tmp_path, "--format", "json")
    assert done.returncode == 1, done.stderr
    assert [(f["rule"], f["line"], f["severity"]) for f in json.loads(done.stdout)] == [
        ("MSE107", 6, "warning"),
        ("MSE107", 7, "warning"),
        ("MSE107", 9, "warning"),
        ("MSE107", 10, "error"),
    ]
    sarif = json.loads(_run(tmp_path, "--format", "sarif").stdout)
    levels = [r["level"] for r in sarif["runs"][0]["results"]]
    assert levels == ["warning", "warning", "warning", "error"]
    # the user's override still wins over the entry's own severity
    done = _run(tmp_path, "--format", "json", "--severity", "MSE107=error")
    assert {f["severity"] for f in json.loads(done.stdout)} == {"error"}
    # only warnings left: --fail-on error passes
    (tmp_path / "app.py").write_text(JOBLIB.replace("    return sh.ls('-l')\n", ""))
    assert _run(tmp_path, "--fail-on", "error").returncode == 0


# ------------------------------------------------------------------------------------------------
# MSE105: the asyncio.subprocess constants start nothing; its functions do
# ------------------------------------------------------------------------------------------------
CONSTANTS = (
    "import asyncio\n"
    "import asyncio.subprocess\n"
    "import asyncio.subprocess as aio_sp\n"
    "from asyncio import subprocess as asp\n"
    "from asyncio.subprocess import DEVNULL, PIPE, STDOUT\n"
    "from asyncio.subprocess import PIPE as OUT\n"
    "\n"
    "STREAMS = (asyncio.subprocess.PIPE, asyncio.subprocess.STDOUT, asyncio.subprocess.DEVNULL)\n"
    "ALIASED = (aio_sp.PIPE, aio_sp.STDOUT, aio_sp.DEVNULL, asp.PIPE, asp.STDOUT, asp.DEVNULL)\n"
    "NAMES = (PIPE, STDOUT, DEVNULL, OUT)\n"
    "\n"
    "def streams(proc: asyncio.subprocess.Process, kind=aio_sp.PIPE):\n"
    "    pipe = asp.PIPE\n"
    "    return {'stdout': pipe, 'stderr': STDOUT, 'stdin': kind}\n"
)


def test_asyncio_subprocess_constants_are_never_reported(catalog: Catalog) -> None:
    assert check(catalog, CONSTANTS) == []


def test_asyncio_subprocess_functions_through_aliases(catalog: Catalog) -> None:
    source = (
        "import asyncio.subprocess as aio_sp\n"
        "from asyncio import subprocess as asp\n"
        "from asyncio.subprocess import PIPE, create_subprocess_exec as cse\n"
        "\n"
        "async def run(cmd):\n"
        "    await aio_sp.create_subprocess_exec(cmd, stdout=aio_sp.PIPE)\n"
        "    await asp.create_subprocess_shell(cmd, stdout=asp.DEVNULL)\n"
        "    await cse(cmd, stdout=PIPE, stderr=aio_sp.STDOUT)\n"
        "\n"
        "SPAWN = aio_sp.create_subprocess_exec\n"
    )
    found = sorted(check(catalog, source), key=lambda d: (d.span.line, d.span.col))
    # one finding per call (the constants passed to it are not findings), and the reference
    assert brief(found) == [
        ("MSE105", 6, 11, "ERROR"),
        ("MSE105", 7, 11, "ERROR"),
        ("MSE105", 8, 11, "ERROR"),
        ("MSE105", 10, 9, "ERROR"),
    ]
    assert [d.message.split("`")[1] for d in found] == [
        "asyncio.subprocess.create_subprocess_exec",
        "asyncio.subprocess.create_subprocess_shell",
        "asyncio.subprocess.create_subprocess_exec",
        "asyncio.subprocess.create_subprocess_exec",
    ]
    assert found[0].message == (
        "`asyncio.subprocess.create_subprocess_exec` starts a child process from the event loop; "
        "in the enclave it raises BlockingIOError"
    )
    assert [(d.span.end_line, d.span.end_col) for d in found[:3]] == [(6, 40), (7, 38), (8, 14)]
