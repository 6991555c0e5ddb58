"""What the process family says and how sure it is: exact messages, fix hints and severities of
MSE104 (thread pools that need semaphores), MSE105 (asyncio.subprocess constants are not
process APIs) and MSE107 (joblib falls back to one core instead of failing)."""

from __future__ import annotations

from mse_lint.catalog import Catalog
from mse_lint.checks import FileContext
from mse_lint.checks.process import ProcessCheck
from mse_lint.diagnostics import Diagnostic, Severity


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
