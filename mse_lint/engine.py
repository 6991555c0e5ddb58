"""Files -> checks -> diagnostics, with suppressions, severity overrides and parallelism."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Callable, Optional, TypeVar

from . import suppress, userregex
from .cache import ResultCache, encode, file_key
from .catalog import Catalog
from .checks import (
    Check,
    FileContext,
    ProjectContext,
    ProjectInfo,
    build_checks,
    build_project_checks,
)
from .config import DEFAULT_TARGET_PYTHON, Settings
from .diagnostics import Diagnostic, Notice, Span
from .record import Frozen, Mutable, replace
from .record import set_field as _set

T = TypeVar("T")

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.M)
_PARALLEL_MIN_FILES = 48


class CheckCrash(Exception):
    """A bug of mse-lint met while checking one file: the message names the file."""

    def __init__(self, path: str, error: BaseException) -> None:
        super().__init__(f"{path}: {type(error).__name__}: {error}")
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:  # crosses process boundaries as a message
        return (_crash_from_message, (str(self),))


def _crash_from_message(message: str) -> CheckCrash:
    crash = CheckCrash.__new__(CheckCrash)
    Exception.__init__(crash, message)
    crash.path = message.split(": ", 1)[0]
    return crash


class FileJob(Frozen):
    path: str  # to open
    display: str  # as reported

    def __init__(self, path: str, display: str) -> None:
        _set(self, "path", path)
        _set(self, "display", display)


class FileResult(Mutable):
    diagnostics: list[Diagnostic]
    suppressed: list[Diagnostic]
    notices: list[Notice]
    checked: bool

    def __init__(
        self,
        diagnostics: Optional[list[Diagnostic]] = None,
        suppressed: Optional[list[Diagnostic]] = None,
        notices: Optional[list[Notice]] = None,
        checked: bool = True,
    ) -> None:
        self.diagnostics = [] if diagnostics is None else diagnostics
        self.suppressed = [] if suppressed is None else suppressed
        self.notices = [] if notices is None else notices
        self.checked = checked


class RunResult(Mutable):
    diagnostics: list[Diagnostic]
    suppressed: list[Diagnostic]
    notices: list[Notice]
    files_checked: int
    files_unreadable: int
    # lines for --debug (how the run decided things, e.g. the target Python of each project)
    debug: list[str]

    def __init__(
        self,
        diagnostics: list[Diagnostic],
        suppressed: list[Diagnostic],
        notices: list[Notice],
        files_checked: int,
        files_unreadable: int,
        debug: Optional[list[str]] = None,
    ) -> None:
        self.diagnostics = diagnostics
        self.suppressed = suppressed
        self.notices = notices
        self.files_checked = files_checked
        self.files_unreadable = files_unreadable
        self.debug = [] if debug is None else debug


def _decode(data: bytes) -> tuple[Optional[str], Optional[tuple[int, int, str]]]:
    """(text, None) or (None, (line, col, reason)) in Python's own source-decoding terms."""
    encoding = "utf-8"
    head = b"\n".join(data.split(b"\n", 2)[:2])
    m = _CODING.search(head[3:] if head.startswith(b"\xef\xbb\xbf") else head)
    if data.startswith(b"\xef\xbb\xbf"):
        declared = m.group(1).decode("ascii", "replace") if m else "utf-8"
        if _normal_name(declared) != "utf-8":
            # CPython: "encoding problem: utf8 with BOM" (it wants exactly utf-8 with a BOM)
            return None, (1, 1, f"a UTF-8 byte order mark, but the file declares {declared!r}")
        encoding = "utf-8-sig"
    elif m:
        encoding = m.group(1).decode("ascii", "replace")
    try:
        return data.decode(encoding), None
    except LookupError:
        return None, (1, 1, f"unknown encoding {encoding!r} declared")
    except UnicodeDecodeError as exc:
        first = exc.start
    # CPython's tokenizer never decodes the inside of a comment: bad bytes there are fine
    text = data.decode(encoding, "replace")
    comments = _comment_spans(text)
    offset = first
    while True:
        before = data[:offset]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode(encoding, "replace")) + 1
        if comments is None or not any(a <= (line, col) < b for a, b in comments.get(line, ())):
            return None, (line, col, f"byte 0x{data[offset]:02x} is not valid {encoding}")
        try:
            data[offset + 1 :].decode(encoding)
            break
        except UnicodeDecodeError as exc:
            offset += 1 + exc.start
    return text, None


def _comment_spans(text: str) -> Optional[dict[int, list[tuple[tuple[int, int], tuple[int, int]]]]]:
    """Comment tokens by line, as ((line, col), (line, end col)) 1-based, or None when the text
    does not tokenize."""
    import io
    import tokenize

    spans: dict[int, list[tuple[tuple[int, int], tuple[int, int]]]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                (l1, c1), (l2, c2) = tok.start, tok.end
                spans.setdefault(l1, []).append(((l1, c1 + 1), (l2, c2 + 1)))
    except (tokenize.TokenError, SyntaxError):
        return None
    return spans


def _normal_name(encoding: str) -> str:
    """The tokenizer's own spelling of a declared encoding (CPython's get_normal_name)."""
    name = encoding[:12].lower().replace("_", "-")
    if name == "utf-8" or name.startswith("utf-8-"):
        return "utf-8"
    return name


def _compiles(text: str, display: str) -> bool:
    """Whether the file parses, for a file no family analyses: the compiler's symbol table is
    built from the same parser's tree as ``ast.parse``'s, without turning that tree into Python
    objects, which is most of the cost (about 0.6x of ``ast.parse`` on Django). It also rejects
    a few things ``ast.parse`` accepts (``def f(a, a)``, ``nonlocal`` at module level): False
    then, and the caller parses the file to decide."""
    import symtable  # here: a run served by the cache never needs it

    try:
        symtable.symtable(text, display, "exec")
    except Exception:  # SyntaxError, RecursionError, MemoryError...: the caller's ast.parse
        return False
    return True


# SyntaxError messages of CPython's own nesting limits (the same in every supported version)
_NESTING_LIMITS = ("too many nested parentheses", "too many statically nested blocks")


def _with_deep_stack(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread with a large stack and recursion limit, for very deep trees."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    old_limit = sys.getrecursionlimit()
    old_size = threading.stack_size()
    try:
        threading.stack_size(512 * 1024 * 1024)
        sys.setrecursionlimit(max(old_limit, 200_000))
        t = threading.Thread(target=target)
        t.start()
        t.join()
    finally:
        threading.stack_size(old_size)
        sys.setrecursionlimit(old_limit)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


class Engine:
    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        local_modules: frozenset[str] = frozenset(),
        info: Optional[ProjectInfo] = None,
        cache: Optional[ResultCache] = None,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.enabled = settings.enabled(catalog)
        # the effective enclave Python: run.lint puts the project's inferred one in settings
        self.target_python = settings.target_python or DEFAULT_TARGET_PYTHON
        self._checks: Optional[list[Check]] = None
        self.local_modules = local_modules
        self.info = info or ProjectInfo(local_modules=local_modules)
        self.cache = cache

    @property
    def checks(self) -> list[Check]:
        # built on first use: a run served from the cache never imports a family or compiles
        # its patterns
        if self._checks is None:
            self._checks = build_checks(self.catalog, self.enabled, self.settings)
        return self._checks

    # -- one file ------------------------------------------------------------------------------
    def _core(self, job: FileJob, rule: str, line: int, col: int, detail: str) -> Diagnostic:
        r = self.catalog.get(rule)
        return Diagnostic(
            job.display,
            Span(line, col, line, col + 1),
            rule,
            r.severity,
            r.format(detail=detail),
            r.fix,
            line,
        )

    def check_file(self, job: FileJob) -> FileResult:
        return self._check_job(job, keyed=False)[1]

    def _check_job(self, job: FileJob, keyed: bool) -> tuple[Optional[str], FileResult]:
        """The file's results, and (when ``keyed``) its cache key. A bug met on the way is
        reported with the file's name (CheckCrash), not as a bare traceback."""
        try:
            key, result = self._check_job_unguarded(job, keyed)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:
            raise CheckCrash(job.display, exc) from exc
        if userregex.pending():
            # a pattern of the settings ran out of time on this file: say so, and keep the
            # result (made without that pattern) out of the cache
            result.notices.extend(Notice(m, job.display) for m in userregex.take_notices())
            key = None
        return key, result

    def _check_job_unguarded(self, job: FileJob, keyed: bool) -> tuple[Optional[str], FileResult]:
        """The cache key is made from the bytes checked: a file changed while the run reads it
        is stored under the content it had."""
        try:
            with open(job.path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            result = FileResult()
            reason = exc.strerror or str(exc)
            result.notices.append(Notice(f"cannot read: {reason}; not checked", job.display))
            result.checked = False
            return None, result
        key = file_key(job.path, job.display, data) if keyed else None
        return key, self.check_data(job, data)

    def check_data(self, job: FileJob, data: bytes) -> FileResult:
        result = FileResult()
        text, problem = _decode(data)
        found: list[Diagnostic] = []
        if text is None:
            assert problem is not None
            found.append(self._core(job, "MSE002", *problem))
        else:
            with warnings.catch_warnings():
                # the parser's warnings about the user's code (3.12+: invalid escape
                # sequences) are not mse-lint's output: they went to stderr, attributed to
                # the file, in every format
                warnings.simplefilter("ignore", SyntaxWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                found.extend(self._check_text(job, text, result))
        self._finish(job, text, found, result)
        return result

    def _check_text(self, job: FileJob, text: str, result: FileResult) -> list[Diagnostic]:
        wanted = [
            c for c in self.checks if c.wants(text) or getattr(c, "wants_file", _no)(job.display)
        ]
        if not wanted and "MSE001" not in self.enabled:
            return []
        nul = text.find("\0")
        if nul >= 0:
            # Python refuses the file (ValueError before 3.12, SyntaxError after): one wording
            line = text.count("\n", 0, nul) + 1
            col = nul - (text.rfind("\n", 0, nul) + 1) + 1
            return [
                self._core(job, "MSE001", line, col, f"a NUL byte at line {line}, column {col}")
            ]
        if not wanted and _compiles(text, job.display):
            return []  # only MSE001 looks at this file, and it parses
        try:
            try:
                tree = ast.parse(text, job.display)
            except RecursionError:
                # Deep but valid code (long sums, huge literals): Python imports it fine, only
                # building the ast objects needs a deeper stack.
                tree = _with_deep_stack(lambda: ast.parse(text, job.display))
        except SyntaxError as exc:
            return self._syntax_error(job, text, exc, result)
        except ValueError as exc:
            return [self._core(job, "MSE001", 1, 1, str(exc))]
        except (RecursionError, MemoryError) as exc:
            result.notices.append(
                Notice(
                    f"too deeply nested to analyse ({type(exc).__name__}); not checked", job.display
                )
            )
            result.checked = False
            return []
        ctx = FileContext(
            job.display,
            text,
            tree,
            self.catalog,
            self.target_python,
            self.local_modules,
            self.info,
            file=job.path,
        )
        out: list[Diagnostic] = []
        skipped = False
        try:
            for check in wanted:
                try:
                    out.extend(check.run(ctx))
                except RecursionError:
                    try:
                        out.extend(_with_deep_stack(lambda c=check: list(c.run(ctx))))  # type: ignore[misc]
                    except RecursionError:
                        skipped = True  # nested deeper than Python itself compiles
        finally:
            ctx.release()
        if skipped:
            result.notices.append(
                Notice(
                    "nested too deeply for some checks (RecursionError): not fully checked",
                    job.display,
                )
            )
        return out

    def _syntax_error(
        self, job: FileJob, text: str, exc: SyntaxError, result: FileResult
    ) -> list[Diagnostic]:
        newer = self._newer_syntax(job, text, exc, result)
        if newer is not None:
            return newer
        line = exc.lineno or 1
        col = exc.offset or 1
        if line > 0 and col > 0:
            # SyntaxError offsets are 1-based characters of the line (bytes before 3.10 on
            # some errors); clamp to the line length so the marker stays on the line
            lines = text.splitlines()
            if line <= len(lines):
                col = min(col, len(lines[line - 1]) + 1)
        detail = f"{exc.msg} at line {line}, column {col}"
        return [self._core(job, "MSE001", line, max(col, 1), detail)]

    def _newer_syntax(
        self, job: FileJob, text: str, exc: SyntaxError, result: FileResult
    ) -> Optional[list[Diagnostic]]:
        """A file this interpreter rejects but a newer Python parses: MSE506 at each construct
        newer than the target, or, when the target itself can parse it, a notice that this
        interpreter is too old to check it. None: a genuine syntax error (MSE001)."""
        from .checks.compat import feature_diagnostic, unparsable_features

        if any(limit in (exc.msg or "") for limit in _NESTING_LIMITS):
            return None  # a limit of CPython's parser: no Python version accepts the file
        try:
            # libcst's native parser recurses on the C stack, where an overflow is a crash,
            # not an exception: it always runs on the large stack
            features = _with_deep_stack(lambda: unparsable_features(text, exc, self.catalog))
        except RecursionError:
            features = None  # too deep for libcst too: report the interpreter's error
        if features is None:
            return None
        here = f"{sys.version_info[0]}.{sys.version_info[1]}"
        target = self.target_python
        too_new = [f for f in features if f.needs > target]
        if not too_new or "MSE506" not in self.enabled:
            needs = max(f.needs for f in features)
            result.notices.append(
                Notice(
                    f"uses syntax of Python {needs[0]}.{needs[1]} that this Python ({here}) "
                    "cannot parse; run mse-lint on a newer Python to check this file",
                    job.display,
                    exc.lineno,
                )
            )
            result.checked = False
            return []
        result.notices.append(
            Notice(
                f"this Python ({here}) cannot parse the file, so only MSE506 checked it; fix "
                "those findings (or run mse-lint on a newer Python) for the other rules",
                job.display,
            )
        )
        return [feature_diagnostic(self.catalog, job.display, f, target) for f in too_new]

    def _finish(
        self,
        job: FileJob,
        text: Optional[str],
        found: list[Diagnostic],
        result: FileResult,
        python: bool = True,
        report_unused: bool = True,
    ) -> None:
        enabled = self.enabled
        diags = []
        for d in found:
            if d.rule not in enabled:
                continue
            sev = self.settings.severity_of(d.rule, d.severity)
            diags.append(d if sev == d.severity else replace(d, severity=sev))
        if text is None:
            result.diagnostics = diags
            return
        sups, notices = suppress.parse(text, job.display, python)
        result.notices.extend(notices)
        kept, suppressed = suppress.apply(diags, sups)
        if report_unused and "MSE003" in enabled and sups:
            r = self.catalog.get("MSE003")
            template = Diagnostic(
                job.display,
                Span(1, 1, 1, 2),
                "MSE003",
                self.settings.severity_of("MSE003", r.severity),
                r.format(codes="{codes}"),
                r.fix,
            )
            kept.extend(suppress.unused(sups, enabled - {"MSE003"}, template))
        result.diagnostics = kept
        result.suppressed = suppressed

    # -- the project as a whole ----------------------------------------------------------------
    def run_project(self, ctx: ProjectContext, cwd: Optional[str] = None) -> RunResult:
        """Project-level checks (manifest, requirements, secrets files, mse.toml)."""
        found: dict[str, list[Diagnostic]] = {}
        for check in build_project_checks(self.catalog, self.enabled, self.settings):
            for d in check.run(ctx):
                found.setdefault(d.path, []).append(d)
        diags: list[Diagnostic] = []
        suppressed: list[Diagnostic] = []
        notices: list[Notice] = []
        for path, items in sorted(found.items()):
            result = FileResult()
            text: Optional[str] = None
            try:
                # the file a finding is about, for its suppression comments: a regular file
                # only (a finding may be about a link to a FIFO or a device)
                from .safeio import read_head

                text = read_head(os.path.join(cwd or os.getcwd(), path), 4 << 20).decode(
                    "utf-8", "replace"
                )
            except OSError:
                text = None
            self._finish(
                FileJob(path, path), text, items, result, path.endswith(".py"), report_unused=False
            )
            diags.extend(result.diagnostics)
            suppressed.extend(result.suppressed)
            notices.extend(result.notices)
        notices.extend(Notice(m) for m in userregex.take_notices())
        diags.sort(key=Diagnostic.sort_key)
        return RunResult(diags, suppressed, notices, 0, 0)

    # -- many files ----------------------------------------------------------------------------
    def run(
        self,
        jobs: Sequence[FileJob],
        workers: int = 0,
        on_file: Optional[Callable[[], None]] = None,
    ) -> RunResult:
        """``on_file`` is called once per file done (in this process), for a progress bar."""
        cache = self.cache
        results: list[Optional[FileResult]] = [None] * len(jobs)
        pending = list(range(len(jobs)))
        if cache is not None and len(cache):
            pending = []
            for i, job in enumerate(jobs):
                hit = None
                try:
                    with open(job.path, "rb") as fh:
                        hit = cache.get(file_key(job.path, job.display, fh.read()))
                except OSError:
                    pass
                if hit is None:
                    pending.append(i)
                else:
                    results[i] = FileResult(*hit)
                    if on_file is not None:
                        on_file()
        todo = [jobs[i] for i in pending]
        cpus = _cpu_count()
        asked = workers or self.settings.jobs
        # more workers than CPUs never checks faster (the work is CPU-bound), and `jobs = 2000`
        # in a cloned repository's settings would fork 2000 processes
        workers = min(asked, cpus) if asked else cpus
        computed: Iterable[tuple[Optional[str], FileResult]]
        keyed = cache is not None
        capped: list[Notice] = []
        if workers > 1 and len(todo) >= _PARALLEL_MIN_FILES:
            if asked > cpus:
                capped.append(
                    Notice(
                        f"{asked} jobs asked for (--jobs or the `jobs` setting), but this "
                        f"process may use {cpus} CPU{'s' if cpus != 1 else ''}: running "
                        f"{workers} worker processes"
                    )
                )
            computed = self._parallel(todo, workers, keyed, on_file)
        else:
            done: list[tuple[Optional[str], FileResult]] = []
            with _gc_tuned() if len(todo) > 1 else contextlib.nullcontext():
                for j in todo:
                    done.append(self._check_job(j, keyed))
                    if on_file is not None:
                        on_file()
            computed = done
        for i, (key, r) in zip(pending, computed):
            results[i] = r
            if cache is not None and key is not None:
                cache.put(key, encode(r.diagnostics, r.suppressed, r.notices, r.checked))
        if cache is not None:
            cache.save()
        diags: list[Diagnostic] = []
        suppressed: list[Diagnostic] = []
        notices: list[Notice] = capped
        checked = unreadable = 0
        for maybe in results:
            assert maybe is not None
            r = maybe
            diags.extend(r.diagnostics)
            suppressed.extend(r.suppressed)
            notices.extend(r.notices)
            checked += r.checked
            unreadable += not r.checked
        diags.sort(key=Diagnostic.sort_key)
        suppressed.sort(key=Diagnostic.sort_key)
        return RunResult(diags, suppressed, notices, checked, unreadable)

    def _parallel(
        self,
        jobs: Sequence[FileJob],
        workers: int,
        keyed: bool,
        on_file: Optional[Callable[[], None]] = None,
    ) -> list[tuple[Optional[str], FileResult]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        fork = sys.platform == "linux"
        ctx = multiprocessing.get_context("fork" if fork else "spawn")
        # Largest files first, in small chunks: a worker never ends the run alone on a big
        # file picked up last while the others wait (the results come back in job order).
        order = sorted(range(len(jobs)), key=lambda i: -_size(jobs[i].path))
        chunk = max(1, len(jobs) // (workers * 24))
        shipped: Optional[tuple[Catalog, Settings, frozenset[str], ProjectInfo]] = None
        if fork:
            # the workers inherit this engine with its checks built (patterns compiled once)
            _ = self.checks
            _WORKER[:] = [self]
        else:
            shipped = (self.catalog, self.settings, self.local_modules, self.info)
        pool = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(shipped, os.getpid())
        )
        try:
            out: list[Optional[tuple[Optional[str], FileResult]]] = [None] * len(jobs)
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


def _no(_: str) -> bool:
    return False


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
def _gc_tuned() -> Iterator[None]:
    import gc

    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _init_worker(
    shipped: Optional[tuple[Catalog, Settings, frozenset[str], ProjectInfo]], parent: int
) -> None:
    """``shipped``: what a spawned worker builds its engine from (None: forked, inherited);
    ``parent``: the process id of the run."""
    import gc
    import signal

    # Ctrl-C reaches the whole process group: the parent stops the pool and reports it once;
    # workers that took it too would each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    if shipped is not None:
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


def _work(job: FileJob, keyed: bool) -> tuple[Optional[str], FileResult]:
    return _WORKER[0]._check_job(job, keyed)


def _cpu_count() -> int:
    """The CPUs this process may run on (a container or taskset may allow fewer than exist)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1
