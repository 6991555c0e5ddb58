"""Files -> checks -> diagnostics, with suppressions, severity overrides and parallelism."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Callable, Optional, TypeVar

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
from mse_lint.core.record import Frozen, Mutable, replace
from mse_lint.core.record import set_field as _set
from mse_lint.core.redact import (
    Redactor,
    TextJudge,
    judging_settings,
    offsets_to_spans,
    span_values,
)
from mse_lint.core.settings import DEFAULT_TARGET_PYTHON, Settings
from mse_lint.pipeline import suppressions as suppress
from mse_lint.pipeline.cache import ResultCache, encode, file_key

T = TypeVar("T")

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.M)
_PARALLEL_MIN_FILES = 48
# what the window of a file that is not checked (MSE004) can show, judged for its secrets
_HEAD_BYTES = 1 << 16


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
    # Where the secret detectors judged the file's text secret, whatever rules are enabled
    # (line, col, end_line, end_col): what the cache keeps. ``secret_values``: the text there,
    # for the run's masking (mse_lint.core.redact), never written anywhere.
    secret_spans: list[tuple[int, int, int, int]]
    secret_values: list[str]

    def __init__(
        self,
        diagnostics: Optional[list[Diagnostic]] = None,
        suppressed: Optional[list[Diagnostic]] = None,
        notices: Optional[list[Notice]] = None,
        checked: bool = True,
        secret_spans: Optional[list[tuple[int, int, int, int]]] = None,
        secret_values: Optional[list[str]] = None,
    ) -> None:
        self.diagnostics = [] if diagnostics is None else diagnostics
        self.suppressed = [] if suppressed is None else suppressed
        self.notices = [] if notices is None else notices
        self.checked = checked
        self.secret_spans = [] if secret_spans is None else secret_spans
        self.secret_values = [] if secret_values is None else secret_values


class RunResult(Mutable):
    diagnostics: list[Diagnostic]
    suppressed: list[Diagnostic]
    notices: list[Notice]
    files_checked: int
    files_unreadable: int
    # lines for --debug (how the run decided things, e.g. the target Python of each project)
    debug: list[str]
    # the values the secret detectors judged secret, by reported path (see mse_lint.core.redact)
    secrets: dict[str, list[str]]
    # what masks them in every output of the run (set by run.lint)
    redactor: Optional[Redactor]

    def __init__(
        self,
        diagnostics: list[Diagnostic],
        suppressed: list[Diagnostic],
        notices: list[Notice],
        files_checked: int,
        files_unreadable: int,
        debug: Optional[list[str]] = None,
        secrets: Optional[dict[str, list[str]]] = None,
        redactor: Optional[Redactor] = None,
    ) -> None:
        self.diagnostics = diagnostics
        self.suppressed = suppressed
        self.notices = notices
        self.files_checked = files_checked
        self.files_unreadable = files_unreadable
        self.debug = [] if debug is None else debug
        self.secrets = {} if secrets is None else secrets
        self.redactor = redactor


class _NotDecoded(Exception):
    """A declared codec too slow to run on a file this large (MSE004, not MSE002)."""


def _decode(
    data: bytes, limits: Mapping[str, Any] = {}
) -> tuple[Optional[str], Optional[tuple[int, int, str]]]:
    """(text, None) or (None, (line, col, reason)) in Python's own source-decoding terms: what
    the enclave's import makes of the bytes. Every way a declared codec can fail is a reason,
    never an exception: CPython turns each into a SyntaxError of that one file. Raises
    _NotDecoded for a file too large for its codec (``limits``: rules/core.toml [limits])."""
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
        problem = _declared_codec_problem(encoding)
        if problem is not None:
            return None, (1, 1, problem)
        _check_codec_budget(encoding, len(data), limits)
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as exc:
        first = exc.start
    except Exception as exc:  # punycode, undefined...: UnicodeError, or whatever the codec raises
        return None, (
            1,
            1,
            f"the declared encoding {encoding!r} fails on it ({exc or _reason(exc)})",
        )
    if _normal_name(encoding) != "utf-8":
        # any other codec decodes the whole file before tokenizing: a bad byte anywhere fails
        return None, _byte_position(data, first, encoding)
    return _utf8_outside_comments(data, encoding)


def _declared_codec_problem(encoding: str) -> Optional[str]:
    """Why CPython refuses the declared encoding itself, or None."""
    import codecs

    try:
        info = codecs.lookup(encoding)
    except LookupError:
        return f"unknown encoding {encoding!r} declared"
    except Exception as exc:  # a name the codec registry chokes on
        return f"the declared encoding {encoding!r} cannot be looked up ({_reason(exc)})"
    if not getattr(info, "_is_text_encoding", True):
        # rot13, hex, base64, zlib, uu...: CPython's decoding of source text refuses them
        return f"{encoding!r} is declared, which is not a text encoding"
    return None


def _check_codec_budget(encoding: str, size: int, limits: Mapping[str, Any]) -> None:
    import codecs

    slow = limits.get("slow_codecs", ())
    most = limits.get("slow_codec_max_bytes")
    name = codecs.lookup(encoding).name
    if most is not None and size > most and name in slow:
        raise _NotDecoded(
            f"it declares the {name} encoding, whose decoding takes quadratic time, and is "
            f"{_bytes(size)}: mse-lint decodes at most {_bytes(most)} of it"
        )


def _bytes(n: int) -> str:
    """A size as people read it: 2.3 MiB, 64 KiB, 900 bytes."""
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n_unit = n / 1024
        if n_unit < 1024 or unit == "GiB":
            return f"{n_unit:.1f} {unit}".replace(".0 ", " ")
        n = int(n_unit)
    return f"{n} bytes"  # pragma: no cover


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _byte_position(data: bytes, offset: int, encoding: str) -> tuple[int, int, str]:
    before = data[:offset]
    line = before.count(b"\n") + 1
    col = len(before[before.rfind(b"\n") + 1 :].decode(encoding, "replace")) + 1
    return line, col, f"byte 0x{data[offset]:02x} is not valid {encoding}"


def _utf8_outside_comments(
    data: bytes, encoding: str
) -> tuple[Optional[str], Optional[tuple[int, int, str]]]:
    """UTF-8 that does not decode: CPython's tokenizer never decodes the inside of a comment,
    so bad bytes there are fine. One pass over the errors, in order (each used to decode the
    rest of the file again: quadratic in the bad bytes of a comment)."""
    import codecs

    bad: list[tuple[int, int]] = []

    def mark(exc: UnicodeError) -> tuple[str, int]:
        assert isinstance(exc, UnicodeDecodeError)
        bad.append((exc.start, exc.end))
        return "\ufffd", exc.end  # what the "replace" handler gives

    codecs.register_error("mse-lint-mark", mark)
    text = data.decode(encoding, "mse-lint-mark")
    comments = _comment_spans(text)
    bom = 3 if encoding == "utf-8-sig" else 0
    chars = 0  # characters of the text before the current error
    done = bom  # bytes of data decoded into those characters
    line, line_start = 1, 0
    for start, end in bad:
        before = chars
        chars += len(data[done:start].decode("utf-8"))
        newlines = text.count("\n", before, chars)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", before, chars) + 1
        col = chars - line_start + 1
        if comments is None or not any(a <= (line, col) < b for a, b in comments.get(line, ())):
            return None, (line, col, f"byte 0x{data[start]:02x} is not valid {encoding}")
        chars += 1  # the replacement character
        done = end
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


# Larger sources are parsed on a large stack before Python 3.11 (see _check_text)
_UNGUARDED_PARSE_MAX = 64 * 1024
# Where _parser_overflow searches by bisection; past it the deepest statement's line is given
_OVERFLOW_SEARCH_MAX = 256 * 1024


def _parser_overflow(text: str, display: str) -> tuple[int, int]:
    """Where CPython's parser runs out of stack (a MemoryError without a position): the end of
    the shortest prefix of the text on which it does, found by bisection (compiled, not
    ``ast.parse``d: a deep prefix then raises RecursionError instead of building a tree that
    overflows the C stack before 3.11)."""
    if len(text) > _OVERFLOW_SEARCH_MAX:
        from mse_lint.source.nesting import python_nesting

        _, line, col = python_nesting(text)
        return line, col

    def overflows(end: int) -> bool:
        try:
            compile(text[:end], display, "exec", dont_inherit=True)
        except MemoryError:
            return True
        except Exception:  # SyntaxError at the cut, RecursionError: not the overflow
            return False
        return False

    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi) // 2
        if overflows(mid):
            hi = mid
        else:
            lo = mid + 1
    line = text.count("\n", 0, lo) + 1
    return line, lo - (text.rfind("\n", 0, lo) + 1) + 1


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

    def judge_text(self, text: str) -> list[tuple[int, int, int, int]]:
        """The secret spans of text that is not analysed as Python (see redact.TextJudge)."""
        return offsets_to_spans(text, self.text_judge.spans(text))

    # -- one file ------------------------------------------------------------------------------
    def _core(
        self, job: FileJob, rule: str, line: int, col: int, detail: str, error: str = "SyntaxError"
    ) -> Diagnostic:
        r = self.catalog.get(rule)
        return Diagnostic(
            job.display,
            Span(line, col, line, col + 1),
            rule,
            r.severity,
            r.format(detail=detail, error=error),
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
        most = self.limits.get("max_file_bytes")
        try:
            with open(job.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if most is not None and size > most:
                    detail = self._too_large(size, most)
                    return None, self._not_checked(job, detail, head=fh.read(_HEAD_BYTES))
                # never more than the limit, whatever the file grew to since
                data = fh.read(-1 if most is None else most + 1)
        except OSError as exc:
            result = FileResult()
            reason = exc.strerror or str(exc)
            result.notices.append(Notice(f"cannot read: {reason}; not checked", job.display))
            result.checked = False
            return None, result
        key = file_key(job.path, job.display, data) if keyed else None
        return key, self.check_data(job, data)

    def _too_large(self, size: int, most: int) -> str:
        return f"it is {_bytes(size)}, more than the {_bytes(most)} mse-lint parses in one file"

    def _not_checked(
        self, job: FileJob, detail: str, result: Optional[FileResult] = None, head: bytes = b""
    ) -> FileResult:
        """MSE004 for a file that is not even decoded (so no suppression comment applies): it
        fails the run like MSE001, a gap in the check is not a pass. Its window shows the
        file's first lines: ``head`` (the file's first bytes) is judged as text for what they
        must mask."""
        result = FileResult() if result is None else result
        result.checked = False
        self._finish(job, None, [self._core(job, "MSE004", 1, 1, detail)], result)
        head = head[:_HEAD_BYTES]
        cut = head.rfind(b"\n")
        shown = display_text(head if cut < 0 else head[:cut])
        self._seal(job.display, shown, self.judge_text(shown), result)
        return result

    def _unchecked(self, job: FileJob, detail: str, result: FileResult) -> list[Diagnostic]:
        """MSE004 found while checking the text (the caller finishes the result)."""
        result.checked = False
        return [self._core(job, "MSE004", 1, 1, detail)]

    def check_data(self, job: FileJob, data: bytes) -> FileResult:
        result = FileResult()
        most = self.limits.get("max_file_bytes")
        if most is not None and len(data) > most:
            return self._not_checked(job, self._too_large(len(data), most), result, head=data)
        try:
            text, problem = _decode(data, self.limits)
        except _NotDecoded as exc:
            return self._not_checked(job, str(exc), result, head=data)
        found: list[Diagnostic] = []
        judged: Optional[list[tuple[int, int, int, int]]] = None
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
        spans: list[tuple[int, int, int, int]],
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
        values = span_values(_lines(text), positions)
        result.secret_spans = positions
        result.secret_values = sorted({*values, *learned})
        redactor = Redactor({display: result.secret_values})
        result.diagnostics = redactor.diagnostics(result.diagnostics)
        result.suppressed = redactor.diagnostics(result.suppressed)
        result.notices = redactor.notices(result.notices)

    def secret_values(self, data: bytes, spans: list[tuple[int, int, int, int]]) -> list[str]:
        """The values at a cached entry's secret spans, from the file's bytes."""
        if not spans:
            return []
        text, _ = _decode(data)
        return span_values(_lines(text if text is not None else display_text(data)), spans)

    def _check_text(
        self, job: FileJob, text: str, result: FileResult, found: list[Diagnostic]
    ) -> Optional[list[tuple[int, int, int, int]]]:
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
        nul = text.find("\0")
        if nul >= 0:
            # Python refuses the file (ValueError before 3.12, SyntaxError after): one wording
            line = text.count("\n", 0, nul) + 1
            col = nul - (text.rfind("\n", 0, nul) + 1) + 1
            found.append(
                self._core(job, "MSE001", line, col, f"a NUL byte at line {line}, column {col}")
            )
            return None
        if not wanted and not judging and _compiles(text, job.display):
            return []  # only MSE001 looks at this file, and it parses
        try:
            if sys.version_info < (3, 11) and len(text) > _UNGUARDED_PARSE_MAX:
                # before 3.11, building the ast objects has no recursion guard: 100,000 levels
                # (200 KB of `1 + 1 + ...`) overflow the C stack of the main thread, a crash
                tree = _with_deep_stack(lambda: ast.parse(text, job.display))
            else:
                try:
                    tree = ast.parse(text, job.display)
                except RecursionError:
                    # deep code (long sums, huge literals): building the ast objects needs a
                    # deeper stack
                    tree = _with_deep_stack(lambda: ast.parse(text, job.display))
        except SyntaxError as exc:
            found.extend(self._syntax_error(job, text, exc, result))
            return None
        except ValueError as exc:
            found.append(self._core(job, "MSE001", 1, 1, str(exc)))
            return None
        except MemoryError:
            # CPython's parser gives up on nesting past its stack ("too complex to parse"):
            # every Python refuses the file, the enclave's import raises MemoryError
            line, col = _parser_overflow(text, job.display)
            detail = f"too deeply nested for Python's parser at line {line}, column {col}"
            found.append(self._core(job, "MSE001", line, col, detail, error="MemoryError"))
            return None
        except RecursionError:
            here = f"{sys.version_info[0]}.{sys.version_info[1]}"
            found.extend(
                self._unchecked(
                    job,
                    f"its expressions nest too deeply for mse-lint to analyse on this Python "
                    f"({here}: RecursionError even on a large stack)",
                    result,
                )
            )
            return None
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
        judges = self.judges
        secrets: list[tuple[int, int, int, int]] = []
        skipped = judge_skipped = False
        try:
            for check in [*wanted, *judging]:
                try:
                    got = list(check.run(ctx))
                except RecursionError:
                    try:
                        got = _with_deep_stack(lambda c=check: list(c.run(ctx)))  # type: ignore[misc]
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
        finally:
            ctx.release()
        if skipped:
            result.notices.append(
                Notice(
                    "nested too deeply for some checks (RecursionError): not fully checked",
                    job.display,
                )
            )
        if judge_skipped:
            secrets.extend(self.judge_text(text))
        return secrets

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
        from mse_lint.checks.compat.unparsable import feature_diagnostic, unparsable_features

        if any(limit in (exc.msg or "") for limit in _NESTING_LIMITS):
            return None  # a limit of CPython's parser: no Python version accepts the file
        over = self._fallback_over_budget(text)
        if over is not None:
            here = f"{sys.version_info[0]}.{sys.version_info[1]}"
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

    def _fallback_over_budget(self, text: str) -> Optional[str]:
        """Why libcst may not parse ``text`` (its time grows with the file's size, and with the
        cube of an expression's depth), or None."""
        from mse_lint.source.nesting import python_nesting

        most = self.limits.get("fallback_max_bytes")
        size = len(text.encode("utf-8", "surrogatepass"))
        if most is not None and size > most:
            return f"it is {_bytes(size)}, more than {_bytes(most)}"
        deepest = self.limits.get("fallback_max_nesting")
        if deepest is not None:
            cost, line, _ = python_nesting(text)
            if cost > deepest:
                return f"its expressions nest too deeply (line {line})"
        return None

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
        secrets: dict[str, list[str]] = {}
        for path, items in sorted(found.items()):
            result = FileResult()
            text: Optional[str] = None
            try:
                # the file a finding is about, for its suppression comments: a regular file
                # only (a finding may be about a link to a FIFO or a device)
                from mse_lint.core.safeio import read_head

                text = read_head(os.path.join(cwd or os.getcwd(), path), 4 << 20).decode(
                    "utf-8", "replace"
                )
            except OSError:
                text = None
            # what a window of these files can show: their secrets as the detectors judge
            # text, and what the project checks marked secret
            spans = [
                (d.span.line, d.span.col, d.span.end_line, d.span.end_col)
                for d in items
                if d.secret and not d.whole_file
            ]
            if text is not None:
                spans.extend(self.judge_text(text))
            self._finish(
                FileJob(path, path), text, items, result, path.endswith(".py"), report_unused=False
            )
            self._seal(path, text or "", spans, result)
            if result.secret_values:
                secrets[path] = result.secret_values
            diags.extend(result.diagnostics)
            suppressed.extend(result.suppressed)
            notices.extend(result.notices)
        notices.extend(Notice(m) for m in userregex.take_notices())
        diags.sort(key=Diagnostic.sort_key)
        return RunResult(diags, suppressed, notices, 0, 0, secrets=secrets)

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
                data = b""
                try:
                    with open(job.path, "rb") as fh:
                        data = fh.read()
                    hit = cache.get(file_key(job.path, job.display, data), job.display, data)
                except OSError:
                    pass
                if hit is None:
                    pending.append(i)
                else:
                    results[i] = FileResult(*hit, secret_values=self.secret_values(data, hit[4]))
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
                cache.put(
                    key, encode(r.diagnostics, r.suppressed, r.notices, r.checked, r.secret_spans)
                )
        if cache is not None:
            cache.save()
        diags: list[Diagnostic] = []
        suppressed: list[Diagnostic] = []
        notices: list[Notice] = capped
        secrets: dict[str, list[str]] = {}
        checked = unreadable = 0
        for job, maybe in zip(jobs, results):
            assert maybe is not None
            r = maybe
            if r.secret_values:
                secrets[job.display] = r.secret_values
            diags.extend(r.diagnostics)
            suppressed.extend(r.suppressed)
            notices.extend(r.notices)
            checked += r.checked
            unreadable += not r.checked
        diags.sort(key=Diagnostic.sort_key)
        suppressed.sort(key=Diagnostic.sort_key)
        return RunResult(diags, suppressed, notices, checked, unreadable, secrets=secrets)

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


def display_text(data: bytes) -> str:
    """A file that does not decode, as reporters show it (every bad byte one U+FFFD)."""
    return data.decode("utf-8", "replace")


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


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
