"""Files -> checks -> diagnostics, with suppressions, severity overrides and parallelism."""

from __future__ import annotations

import ast
import os
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Callable, Optional, TypeVar

from . import suppress
from .catalog import Catalog
from .checks import (
    Check,
    FileContext,
    ProjectContext,
    ProjectInfo,
    build_checks,
    build_project_checks,
)
from .config import Settings
from .diagnostics import Diagnostic, Notice, Span

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


@dataclass(frozen=True)
class FileJob:
    path: str  # to open
    display: str  # as reported


@dataclass
class FileResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suppressed: list[Diagnostic] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    checked: bool = True


@dataclass
class RunResult:
    diagnostics: list[Diagnostic]
    suppressed: list[Diagnostic]
    notices: list[Notice]
    files_checked: int
    files_unreadable: int


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
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.enabled = settings.enabled(catalog)
        self.checks: list[Check] = build_checks(catalog, self.enabled, settings)
        self.local_modules = local_modules
        self.info = info or ProjectInfo(local_modules=local_modules)

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
        try:
            return self._check_file(job)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:
            raise CheckCrash(job.display, exc) from exc

    def _check_file(self, job: FileJob) -> FileResult:
        result = FileResult()
        try:
            with open(job.path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            result.notices.append(Notice(f"cannot read: {reason}; not checked", job.display))
            result.checked = False
            return result
        text, problem = _decode(data)
        found: list[Diagnostic] = []
        if text is None:
            assert problem is not None
            found.append(self._core(job, "MSE002", *problem))
        else:
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
            self.settings.target_python,
            self.local_modules,
            self.info,
            file=job.path,
        )
        out: list[Diagnostic] = []
        skipped = False
        for check in wanted:
            try:
                out.extend(check.run(ctx))
            except RecursionError:
                try:
                    out.extend(_with_deep_stack(lambda c=check: list(c.run(ctx))))  # type: ignore[misc]
                except RecursionError:
                    skipped = True  # nested deeper than Python itself compiles
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
        if sys.version_info < self.settings.target_python and _parses_with_libcst(text):
            result.notices.append(
                Notice(
                    f"uses syntax this Python ({sys.version_info[0]}.{sys.version_info[1]}) "
                    f"cannot parse but Python {self.settings.target_python[0]}."
                    f"{self.settings.target_python[1]} can; run mse-lint on a newer Python "
                    "to check this file",
                    job.display,
                    exc.lineno,
                )
            )
            result.checked = False
            return []
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
                with open(os.path.join(cwd or os.getcwd(), path), "rb") as fh:
                    text = fh.read(4 << 20).decode("utf-8", "replace")
            except OSError:
                text = None
            self._finish(
                FileJob(path, path), text, items, result, path.endswith(".py"), report_unused=False
            )
            diags.extend(result.diagnostics)
            suppressed.extend(result.suppressed)
            notices.extend(result.notices)
        diags.sort(key=Diagnostic.sort_key)
        return RunResult(diags, suppressed, notices, 0, 0)

    # -- many files ----------------------------------------------------------------------------
    def run(self, jobs: Sequence[FileJob], workers: int = 0) -> RunResult:
        workers = workers or self.settings.jobs or (os.cpu_count() or 1)
        results: Iterable[FileResult]
        if workers > 1 and len(jobs) >= _PARALLEL_MIN_FILES:
            results = self._parallel(jobs, workers)
        else:
            results = [self.check_file(j) for j in jobs]
        diags: list[Diagnostic] = []
        suppressed: list[Diagnostic] = []
        notices: list[Notice] = []
        checked = unreadable = 0
        for r in results:
            diags.extend(r.diagnostics)
            suppressed.extend(r.suppressed)
            notices.extend(r.notices)
            checked += r.checked
            unreadable += not r.checked
        diags.sort(key=Diagnostic.sort_key)
        suppressed.sort(key=Diagnostic.sort_key)
        return RunResult(diags, suppressed, notices, checked, unreadable)

    def _parallel(self, jobs: Sequence[FileJob], workers: int) -> list[FileResult]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        chunk = max(1, len(jobs) // (workers * 8))
        pool = ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(self.catalog, self.settings, self.local_modules, self.info),
        )
        try:
            results = list(pool.map(_work, jobs, chunksize=chunk))
        except BaseException:
            # Ctrl-C or a crash: stop now, not after every file already queued
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            # no waiting: a worker killed while sending a result can leave the pool's manager
            # thread blocked for good (the CLI then exits without running exit hooks)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return results


def _no(_: str) -> bool:
    return False


def _parses_with_libcst(text: str) -> bool:
    try:
        import libcst
    except ImportError:  # pragma: no cover - libcst is a dependency
        return False
    try:
        libcst.parse_module(text)
    except Exception:
        return False
    return True


_WORKER: list[Engine] = []  # the engine of a pool worker process (set once by its initializer)


def _init_worker(
    catalog: Catalog, settings: Settings, local_modules: frozenset[str], info: ProjectInfo
) -> None:
    import gc
    import signal

    # Ctrl-C reaches the whole process group: the parent stops the pool and reports it once;
    # workers that took it too would each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER[:] = [Engine(catalog, settings, local_modules, info)]
    gc.freeze()


def _work(job: FileJob) -> FileResult:
    return _WORKER[0].check_file(job)
