"""Many files checked in worker processes: the pool, how work is spread over it, and the
workers' lot (no Ctrl-C of their own, dying with the run, the cyclic collector tuned for
parsing). The engine decides whether a run is worth a pool (:func:`check_in_pool`)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from mse_lint.pipeline.engine import Engine, FileResult
    from mse_lint.project.files import FileJob

JobResult = tuple[Optional[str], "FileResult"]


def check_in_pool(
    engine: Engine,
    jobs: Sequence[FileJob],
    workers: int,
    keyed: bool,
    on_file: Optional[Callable[[], None]] = None,
) -> list[JobResult]:
    """``engine.check_job`` of every job, in ``workers`` processes; the results in job order.
    ``on_file`` is called once per file done (in this process)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    fork = sys.platform == "linux"
    ctx = multiprocessing.get_context("fork" if fork else "spawn")
    # Largest files first, in small chunks: a worker never ends the run alone on a big file
    # picked up last while the others wait (the results come back in job order).
    order = sorted(range(len(jobs)), key=lambda i: -_size(jobs[i].disk_path))
    chunk = max(1, len(jobs) // (workers * 24))
    shipped: Optional[tuple[Any, ...]] = None
    if fork:
        # the workers inherit this engine with its checks built (patterns compiled once)
        _ = engine.checks
        _WORKER[:] = [engine]
    else:
        shipped = (engine.catalog, engine.settings, engine.local_modules, engine.info)
    pool = ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=(shipped, os.getpid())
    )
    try:
        out: list[Optional[JobResult]] = [None] * len(jobs)
        ordered = [jobs[i] for i in order]
        for i, r in zip(order, pool.map(_work, ordered, [keyed] * len(jobs), chunksize=chunk)):
            out[i] = r
            if on_file is not None:
                on_file()
    except BaseException:
        # Ctrl-C or a crash: stop now, not after every file already queued
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        # no waiting: a worker killed while sending a result can leave the pool's manager
        # thread blocked for good (the CLI then exits without running exit hooks)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        _WORKER.clear()
    pool.shutdown()
    return [r for r in out if r is not None]


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


_WORKER: list[Engine] = []  # the engine of a pool worker process (set once by its initializer)


# Parsing allocates millions of short-lived objects (freed by reference counting: ast trees
# hold no cycles); with the default threshold the collector runs every 700 allocations and
# walks everything alive each time. A larger first threshold, and imported modules moved out of
# the collector's sight (gc.freeze), make a parse-heavy run about a fifth faster.
_GC_THRESHOLD = (50_000, 20, 100)


@contextlib.contextmanager
def gc_tuned() -> Iterator[None]:
    import gc

    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _init_worker(shipped: Optional[tuple[Any, ...]], parent: int) -> None:
    """``shipped``: what a spawned worker builds its engine from (None: forked, inherited);
    ``parent``: the process id of the run."""
    import gc
    import signal

    # Ctrl-C reaches the whole process group: the parent stops the pool and reports it once;
    # workers that took it too would each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    if shipped is not None:
        from mse_lint.pipeline.engine import Engine

        _WORKER[:] = [Engine(*shipped)]
    # what the worker starts with is never freed: keep the collector off it
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLD)


def _die_with(parent: int) -> None:
    """End this worker when the run's process ends, however it ends: a parent killed with
    SIGKILL (an OOM kill, a CI timeout) runs no clean-up, and its workers, waiting on the pool's
    queue, would wait for ever. On Linux the kernel sends SIGKILL to the worker when the parent
    dies (prctl PR_SET_PDEATHSIG); elsewhere a thread polls the parent's id."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1  # <linux/prctl.h>
            armed = libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if os.getppid() != parent:  # died before the signal was armed
            os._exit(1)
        if armed:
            return

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="mse-lint-parent-watch", daemon=True).start()


def _work(job: FileJob, keyed: bool) -> JobResult:
    return _WORKER[0].check_job(job, keyed)


def cpu_count() -> int:
    """The CPUs this process may run on (a container or taskset may allow fewer than exist)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1
