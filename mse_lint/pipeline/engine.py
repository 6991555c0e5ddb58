"""One file, or one project's files, through the checks: decoded and parsed (mse_lint.source),
checked by the families that want it, filtered (mse_lint.pipeline.filters), its secrets masked,
served from or stored in the cache, and many files spread over worker processes
(mse_lint.pipeline.parallel).

Why about 670 lines: what is left is the Engine class, one object holding the checks and the
secret judges built once per run (what the worker processes inherit), and the order in which a
file meets them; every step it calls (decoding, parsing, filtering, the cache entry, the pool)
lives in its own module."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, Optional

from mse_lint.checks import (
    Check,
    FileContext,
    ProjectContext,
    ProjectInfo,
    build_checks,
    build_project_checks,
)
from mse_lint.core import userregex
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Notice, Span
from mse_lint.core.record import Mutable, field
from mse_lint.core.redact import Redactor, TextJudge, judging_settings, span_values
from mse_lint.core.settings import DEFAULT_TARGET_PYTHON, Settings
from mse_lint.pipeline import filters
from mse_lint.pipeline import suppressions as suppress
from mse_lint.pipeline.cache import ResultCache, file_key
from mse_lint.pipeline.cache_entry import Entry, encode
from mse_lint.pipeline.parallel import check_in_pool, cpu_count, gc_tuned
from mse_lint.project.files import FileJob
from mse_lint.source.decode import NotDecoded, decode_source, display_text, size_text
from mse_lint.source.lines import offsets_to_spans, split_lines
from mse_lint.source.parse import (
    NESTING_LIMITS,
    SourceProblem,
    compiles,
    fallback_over_budget,
    nul_problem,
    parse_module,
    syntax_problem,
    this_python,
    with_deep_stack,
)

__all__ = ["CheckCrash", "Engine", "FileJob", "FileResult", "RunResult"]

_PARALLEL_MIN_FILES = 48
# what the window of a file that is not checked (MSE004) can show, judged for its secrets
_HEAD_BYTES = 1 << 16

SecretSpan = tuple[int, int, int, int]


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


class FileResult(Mutable):
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suppressed: list[Diagnostic] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    checked: bool = True
    # Where the secret detectors judged the file's text secret, whatever rules are enabled
    # (line, col, end_line, end_col): what the cache keeps. ``secret_values``: the text there,
    # for the run's masking (mse_lint.core.redact), never written anywhere.
    secret_spans: list[SecretSpan] = field(default_factory=list)
    secret_values: list[str] = field(default_factory=list)


class RunResult(Mutable):
    diagnostics: list[Diagnostic]
    suppressed: list[Diagnostic]
    notices: list[Notice]
    files_checked: int
    files_unreadable: int
    # lines for --debug (how the run decided things, e.g. the target Python of each project)
    debug: list[str] = field(default_factory=list)
    # the values the secret detectors judged secret, by reported path (see mse_lint.core.redact)
    secrets: dict[str, list[str]] = field(default_factory=dict)
    # what masks them in every output of the run (set by runner.lint)
    redactor: Optional[Redactor] = None


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
        # the effective enclave Python: runner.lint puts the project's inferred one in settings
        self.target_python = settings.target_python or DEFAULT_TARGET_PYTHON
        self._checks: Optional[list[Check]] = None
        self._judges: Optional[list[Check]] = None
        self._text_judge: Optional[TextJudge] = None
        self.local_modules = local_modules
        self.info = info or ProjectInfo(local_modules=local_modules)
        self.cache = cache
        # what one file may cost (rules/core.toml [limits]); past it, MSE004
        self.limits: Mapping[str, Any] = catalog.data("core").get("limits", {})

    @property
    def checks(self) -> list[Check]:
        # built on first use: a run served from the cache never imports a family or compiles
        # its patterns
        if self._checks is None:
            self._checks = build_checks(self.catalog, self.enabled, self.settings)
        return self._checks

    @property
    def judges(self) -> list[Check]:
        """The secret families as they judge what every output masks: all their rules, whatever
        the selection, and without the allowlist (see redact.judging_settings). The reporting
        instance when it judges alike (no allowlist): no family runs twice."""
        if self._judges is None:
            from mse_lint.checks import SECRET_JUDGES, build_families

            judging = judging_settings(self.settings)
            by_class = {type(c).__name__: c for c in self.checks}
            out: list[Check] = []
            missing = []
            for module, name in SECRET_JUDGES:
                mine = by_class.get(name)
                if mine is not None and judging is self.settings:
                    out.append(mine)
                else:
                    missing.append((module, name))
            out.extend(build_families(tuple(missing), self.catalog, judging))
            self._judges = out
        return self._judges

    @property
    def judges_built(self) -> bool:
        return self._judges is not None

    @property
    def text_judge(self) -> TextJudge:
        if self._text_judge is None:
            by_class = {type(c).__name__: c for c in self.judges}
            self._text_judge = TextJudge(
                by_class["SecretValuesCheck"], by_class["SecretFormatsCheck"]
            )
        return self._text_judge

    def judge_text(self, text: str) -> list[SecretSpan]:
        """The secret spans of text that is not analysed as Python (see redact.TextJudge)."""
        return offsets_to_spans(text, self.text_judge.spans(text))

    # -- one file ------------------------------------------------------------------------------
    def _diagnostic(self, job: FileJob, problem: SourceProblem) -> Diagnostic:
        """The finding of a file's source problem (MSE001, MSE002, MSE004)."""
        r = self.catalog.get(problem.rule)
        line, col = problem.line, problem.col
        return Diagnostic(
            job.display,
            Span(line, col, line, col + 1),
            problem.rule,
            r.severity,
            r.format(detail=problem.detail, error=problem.error),
            r.fix,
            line,
        )

    def _unchecked(self, job: FileJob, detail: str, result: FileResult) -> list[Diagnostic]:
        """MSE004 found while checking the text (the caller finishes the result)."""
        result.checked = False
        return [self._diagnostic(job, SourceProblem("MSE004", 1, 1, detail))]

    def check_file(self, job: FileJob) -> FileResult:
        return self.check_job(job, keyed=False)[1]

    def check_job(self, job: FileJob, keyed: bool) -> tuple[Optional[str], FileResult]:
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
        most = self.limits.get("max_file_bytes")
        try:
            with open(job.disk_path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if most is not None and size > most:
                    detail = _too_large(size, most)
                    return None, self._not_checked(job, detail, head=fh.read(_HEAD_BYTES))
                # never more than the limit, whatever the file grew to since
                data = fh.read(-1 if most is None else most + 1)
        except OSError as exc:
            result = FileResult()
            reason = exc.strerror or str(exc)
            result.notices.append(Notice(f"cannot read: {reason}; not checked", job.display))
            result.checked = False
            return None, result
        key = file_key(job.disk_path, job.display, data) if keyed else None
        return key, self.check_data(job, data)

    def _not_checked(
        self, job: FileJob, detail: str, result: Optional[FileResult] = None, head: bytes = b""
    ) -> FileResult:
        """MSE004 for a file that is not even decoded (so no suppression comment applies): it
        fails the run like MSE001, a gap in the check is not a pass. Its window shows the
        file's first lines: ``head`` (the file's first bytes) is judged as text for what they
        must mask."""
        result = FileResult() if result is None else result
        result.checked = False
        found = [self._diagnostic(job, SourceProblem("MSE004", 1, 1, detail))]
        self._finish(job, None, found, result)
        head = head[:_HEAD_BYTES]
        cut = head.rfind(b"\n")
        shown = display_text(head if cut < 0 else head[:cut])
        self._seal(job.display, shown, self.judge_text(shown), result)
        return result

    def check_data(self, job: FileJob, data: bytes) -> FileResult:
        result = FileResult()
        most = self.limits.get("max_file_bytes")
        if most is not None and len(data) > most:
            return self._not_checked(job, _too_large(len(data), most), result, head=data)
        try:
            text, problem = decode_source(data, self.limits)
        except NotDecoded as exc:
            return self._not_checked(job, str(exc), result, head=data)
        found: list[Diagnostic] = []
        judged: Optional[list[SecretSpan]] = None
        if text is None:
            assert problem is not None
            found.append(self._diagnostic(job, SourceProblem("MSE002", *problem)))
        else:
            with warnings.catch_warnings():
                # the parser's warnings about the user's code (3.12+: invalid escape
                # sequences) are not mse-lint's output: they went to stderr, attributed to
                # the file, in every format
                warnings.simplefilter("ignore", SyntaxWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                judged = self._check_text(job, text, result, found)
        shown = text if text is not None else display_text(data)
        if judged is None:  # the secret families did not see the file: judge it as text
            judged = self.judge_text(shown)
        self._finish(job, text, found, result)
        self._seal(job.display, shown, judged, result)
        return result

    def _seal(
        self,
        display: str,
        text: str,
        spans: list[SecretSpan],
        result: FileResult,
    ) -> None:
        """Record the file's secrets and mask them in its results, so that neither the results
        nor the cache hold one: what the detectors judged (``spans``), and what the text judge
        finds in the messages and notices (a value quoted there is looked for in the file, for
        its position to be cached with the others)."""
        texts = [d.message for d in (*result.diagnostics, *result.suppressed)]
        texts += [n.message for n in result.notices]
        learned: set[str] = set()
        if texts:
            judge = self.text_judge
            for t in texts:
                learned.update(t[s:e] for s, e in judge.spans(t))
        offsets: list[tuple[int, int]] = []
        for value in learned:
            at = text.find(value)
            while at >= 0:
                offsets.append((at, at + len(value)))
                at = text.find(value, at + 1)
        positions = sorted({*spans, *offsets_to_spans(text, offsets)})
        if not positions and not learned:
            return
        values = span_values(split_lines(text), positions)
        result.secret_spans = positions
        result.secret_values = sorted({*values, *learned})
        redactor = Redactor({display: result.secret_values})
        result.diagnostics = redactor.diagnostics(result.diagnostics)
        result.suppressed = redactor.diagnostics(result.suppressed)
        result.notices = redactor.notices(result.notices)

    def secret_values(self, data: bytes, spans: list[SecretSpan]) -> list[str]:
        """The values at a cached entry's secret spans, from the file's bytes."""
        if not spans:
            return []
        text, _ = decode_source(data)
        return span_values(split_lines(text if text is not None else display_text(data)), spans)

    def _check_text(
        self, job: FileJob, text: str, result: FileResult, found: list[Diagnostic]
    ) -> Optional[list[SecretSpan]]:
        """Adds the file's findings to ``found``; returns the secret spans the secret families
        judged, or None when they could not look at the file (it does not parse)."""
        checks = self.checks
        wanted = [c for c in checks if c.wants(text) or getattr(c, "wants_file", _no)(job.display)]
        # the judges that are not reporting checks too: they only tell what to mask
        judging = [
            j for j in self.judges if j not in checks and getattr(j, "may_judge", j.wants)(text)
        ]
        if not wanted and not judging and "MSE001" not in self.enabled:
            return []
        nul = nul_problem(text)
        if nul is not None:
            found.append(self._diagnostic(job, nul))
            return None
        if not wanted and not judging and compiles(text, job.display):
            return []  # only MSE001 looks at this file, and it parses
        parsed = parse_module(text, job.display)
        if parsed.syntax_error is not None:
            found.extend(self._syntax_error(job, text, parsed.syntax_error, result))
            return None
        if parsed.problem is not None:
            if parsed.problem.rule == "MSE004":
                result.checked = False
            found.append(self._diagnostic(job, parsed.problem))
            return None
        assert parsed.tree is not None
        ctx = FileContext(
            job.display,
            text,
            parsed.tree,
            self.catalog,
            self.target_python,
            self.local_modules,
            self.info,
            file=job.disk_path,
        )
        try:
            return self._run_checks(job, ctx, [*wanted, *judging], result, found)
        finally:
            ctx.release()

    def _run_checks(
        self,
        job: FileJob,
        ctx: FileContext,
        run: list[Check],
        result: FileResult,
        found: list[Diagnostic],
    ) -> list[SecretSpan]:
        """Each check of ``run`` on the parsed file (again on a large stack when it recurses
        too deeply); the reporting checks' findings go to ``found``, the judges' secret spans
        are returned."""
        checks, judges = self.checks, self.judges
        secrets: list[SecretSpan] = []
        skipped = judge_skipped = False
        for check in run:
            try:
                got = list(check.run(ctx))
            except RecursionError:
                try:
                    got = with_deep_stack(lambda c=check: list(c.run(ctx)))  # type: ignore[misc]
                except RecursionError:
                    skipped = True  # nested deeper than Python itself compiles
                    judge_skipped = judge_skipped or check in judges
                    continue
            if check in judges:
                for d in got:
                    if d.secret:
                        sp = d.span
                        secrets.append((sp.line, sp.col, sp.end_line, sp.end_col))
            if check in checks:
                found.extend(got)
        if skipped:
            result.notices.append(
                Notice(
                    "nested too deeply for some checks (RecursionError): not fully checked",
                    job.display,
                )
            )
        if judge_skipped:
            secrets.extend(self.judge_text(ctx.source))
        return secrets

    def _syntax_error(
        self, job: FileJob, text: str, exc: SyntaxError, result: FileResult
    ) -> list[Diagnostic]:
        newer = self._newer_syntax(job, text, exc, result)
        if newer is not None:
            return newer
        return [self._diagnostic(job, syntax_problem(text, exc))]

    def _newer_syntax(
        self, job: FileJob, text: str, exc: SyntaxError, result: FileResult
    ) -> Optional[list[Diagnostic]]:
        """A file this interpreter rejects but a newer Python parses: MSE506 at each construct
        newer than the target, or, when the target itself can parse it, a notice that this
        interpreter is too old to check it. None: a genuine syntax error (MSE001)."""
        from mse_lint.checks.compat.unparsable import feature_diagnostic, unparsable_features

        if any(limit in (exc.msg or "") for limit in NESTING_LIMITS):
            return None  # a limit of CPython's parser: no Python version accepts the file
        here = this_python()
        over = fallback_over_budget(text, self.limits)
        if over is not None:
            where = f"{exc.msg} at line {exc.lineno or 1}"
            return self._unchecked(
                job,
                f"this Python ({here}) cannot parse it ({where}), and {over}, beyond what the "
                "fallback parser reads in bounded time: a syntax error or syntax newer than "
                "this Python, run mse-lint on a newer Python to tell",
                result,
            )
        try:
            # libcst's native parser recurses on the C stack, where an overflow is a crash,
            # not an exception: it always runs on the large stack
            features = with_deep_stack(lambda: unparsable_features(text, exc, self.catalog))
        except RecursionError:
            features = None  # too deep for libcst too: report the interpreter's error
        if features is None:
            return None
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
        """The file's findings through the per-file steps of the filter chain (enabled rules,
        severities, its suppression comments, MSE003); ``text`` None: no comments to read."""
        sups: Optional[list[suppress.Suppression]] = None
        if text is not None:
            sups, notices = suppress.parse(text, job.display, python)
            result.notices.extend(notices)
        unused = None
        if report_unused and sups:
            unused = filters.unused_template(
                job.display, self.enabled, self.catalog, self.settings.severity_of
            )
        result.diagnostics, result.suppressed = filters.file_findings(
            found, self.enabled, self.settings.severity_of, sups, unused
        )

    # -- the project as a whole ----------------------------------------------------------------
    def check_project(self, ctx: ProjectContext, cwd: Optional[str] = None) -> RunResult:
        """Project-level checks (manifest, requirements, secrets files, mse.toml)."""
        found: dict[str, list[Diagnostic]] = {}
        for check in build_project_checks(self.catalog, self.enabled, self.settings):
            for d in check.run(ctx):
                found.setdefault(d.path, []).append(d)
        results = [
            (path, self._project_file(path, items, cwd or os.getcwd()))
            for path, items in sorted(found.items())
        ]
        run = _gather(results, [])
        run.notices.extend(Notice(m) for m in userregex.take_notices())
        run.files_checked = run.files_unreadable = 0  # the files' own runs count them
        return run

    def _project_file(self, path: str, items: list[Diagnostic], cwd: str) -> FileResult:
        """The project checks' findings about one file, filtered and sealed as a file's."""
        result = FileResult()
        text: Optional[str] = None
        try:
            # the file a finding is about, for its suppression comments: a regular file only
            # (a finding may be about a link to a FIFO or a device)
            from mse_lint.core.safeio import read_head

            text = read_head(os.path.join(cwd, path), 4 << 20).decode("utf-8", "replace")
        except OSError:
            text = None
        # what a window of these files can show: their secrets as the detectors judge text,
        # and what the project checks marked secret
        spans = [
            (d.span.line, d.span.col, d.span.end_line, d.span.end_col)
            for d in items
            if d.secret and not d.whole_file
        ]
        if text is not None:
            spans.extend(self.judge_text(text))
        job = FileJob(path, path)
        self._finish(job, text, items, result, path.endswith(".py"), report_unused=False)
        self._seal(path, text or "", spans, result)
        return result

    # -- many files ----------------------------------------------------------------------------
    def check_files(
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
            pending = self._from_cache(cache, jobs, results, on_file)
        notices: list[Notice] = []
        computed = self._compute([jobs[i] for i in pending], workers, notices, on_file)
        for i, (key, r) in zip(pending, computed):
            results[i] = r
            if cache is not None and key is not None and not _edits_hold_secrets(r):
                cache.put(
                    key, encode(r.diagnostics, r.suppressed, r.notices, r.checked, r.secret_spans)
                )
        if cache is not None:
            cache.save()
        done: list[tuple[str, FileResult]] = []
        for job, maybe in zip(jobs, results):
            assert maybe is not None
            done.append((job.display, maybe))
        return _gather(done, notices)

    def _from_cache(
        self,
        cache: ResultCache,
        jobs: Sequence[FileJob],
        results: list[Optional[FileResult]],
        on_file: Optional[Callable[[], None]],
    ) -> list[int]:
        """Fills ``results`` with the cache's entries; returns the indexes of the jobs still to
        check."""
        pending = []
        for i, job in enumerate(jobs):
            hit = None
            data = b""
            try:
                with open(job.disk_path, "rb") as fh:
                    data = fh.read()
                hit = cache.get(file_key(job.disk_path, job.display, data), job.display, data)
            except OSError:
                pass
            if hit is None:
                pending.append(i)
            else:
                results[i] = self._cached_result(hit, data)
                if on_file is not None:
                    on_file()
        return pending

    def _cached_result(self, hit: Entry, data: bytes) -> FileResult:
        diagnostics, suppressed, notices, checked, spans = hit
        return FileResult(
            diagnostics,
            suppressed,
            notices,
            checked,
            spans,
            secret_values=self.secret_values(data, spans),
        )

    def _compute(
        self,
        todo: list[FileJob],
        workers: int,
        notices: list[Notice],
        on_file: Optional[Callable[[], None]],
    ) -> Iterable[tuple[Optional[str], FileResult]]:
        """Check ``todo``, in a process pool when it is worth one; a notice in ``notices`` when
        the jobs asked for are more than the CPUs."""
        cpus = cpu_count()
        asked = workers or self.settings.jobs
        # more workers than CPUs never checks faster (the work is CPU-bound), and `jobs = 2000`
        # in a cloned repository's settings would fork 2000 processes
        workers = min(asked, cpus) if asked else cpus
        keyed = self.cache is not None
        if workers > 1 and len(todo) >= _PARALLEL_MIN_FILES:
            if asked > cpus:
                notices.append(
                    Notice(
                        f"{asked} jobs asked for (--jobs or the `jobs` setting), but this "
                        f"process may use {cpus} CPU{'s' if cpus != 1 else ''}: running "
                        f"{workers} worker processes"
                    )
                )
            return check_in_pool(self, todo, workers, keyed, on_file)
        done: list[tuple[Optional[str], FileResult]] = []
        with gc_tuned() if len(todo) > 1 else contextlib.nullcontext():
            for j in todo:
                done.append(self.check_job(j, keyed))
                if on_file is not None:
                    on_file()
        return done


def _gather(results: Iterable[tuple[str, FileResult]], notices: list[Notice]) -> RunResult:
    """One result of many files' (shown path, result), after ``notices``; findings sorted."""
    diags: list[Diagnostic] = []
    suppressed: list[Diagnostic] = []
    secrets: dict[str, list[str]] = {}
    checked = unreadable = 0
    for display, r in results:
        if r.secret_values:
            secrets[display] = r.secret_values
        diags.extend(r.diagnostics)
        suppressed.extend(r.suppressed)
        notices.extend(r.notices)
        checked += r.checked
        unreadable += not r.checked
    diags.sort(key=Diagnostic.sort_key)
    suppressed.sort(key=Diagnostic.sort_key)
    return RunResult(diags, suppressed, notices, checked, unreadable, secrets=secrets)


def _edits_hold_secrets(r: FileResult) -> bool:
    """Whether a fix of the file's findings writes one of its secrets: the cache holds no
    secret, and an edit's text cannot be masked without breaking the fix, so such a result is
    not cached."""
    if not r.secret_values:
        return False
    texts = [
        e.replacement
        for d in (*r.diagnostics, *r.suppressed)
        if d.autofix is not None
        for e in d.autofix.edits
    ]
    return any(v in t for t in texts for v in r.secret_values)


def _too_large(size: int, most: int) -> str:
    return f"it is {size_text(size)}, more than the {size_text(most)} mse-lint parses in one file"


def _no(_: str) -> bool:
    return False
