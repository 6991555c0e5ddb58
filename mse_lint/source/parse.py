"""Source text as an ``ast`` tree, or the reason it is not one, in the catalogue's terms:
MSE001 (every Python refuses the file: a syntax error, a NUL byte, nesting past the parser's
stack), MSE004 (mse-lint cannot analyse it on this Python). Deep code is parsed again on a large
stack (:func:`with_deep_stack`) before it counts as too deep. The fallback for syntax newer than
this Python (MSE506, through libcst) is the engine's: it needs the compat check."""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Mapping
from typing import Any, Callable, Optional, TypeVar

from mse_lint.core.record import Frozen, Mutable
from mse_lint.source.lines import position

T = TypeVar("T")


class SourceProblem(Frozen):
    """Why a file is not analysed: its ``rule`` (MSE001, MSE002 or MSE004), where, and the
    fields of the rule's message template (``detail``, ``error``)."""

    rule: str
    line: int
    col: int
    detail: str
    error: str = "SyntaxError"


class Parsed(Mutable):
    """What :func:`parse_module` made of a text: a tree, or a SyntaxError for the caller's
    newer-syntax fallback (then :func:`syntax_problem`), or a problem."""

    tree: Optional[ast.Module] = None
    syntax_error: Optional[SyntaxError] = None
    problem: Optional[SourceProblem] = None


def compiles(text: str, display: str) -> bool:
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


# Larger sources are parsed on a large stack before Python 3.11 (see parse_module)
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
    return position(text, lo)


# SyntaxError messages of CPython's own nesting limits (the same in every supported version)
NESTING_LIMITS = ("too many nested parentheses", "too many statically nested blocks")


def with_deep_stack(fn: Callable[[], T]) -> T:
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


def nul_problem(text: str) -> Optional[SourceProblem]:
    """MSE001 for a NUL byte: Python refuses the file (ValueError before 3.12, SyntaxError
    after), said in one wording."""
    nul = text.find("\0")
    if nul < 0:
        return None
    line, col = position(text, nul)
    return SourceProblem("MSE001", line, col, f"a NUL byte at line {line}, column {col}")


def parse_module(text: str, display: str) -> Parsed:
    """``ast.parse`` of the text, on a large stack where the tree is deep."""
    try:
        if sys.version_info < (3, 11) and len(text) > _UNGUARDED_PARSE_MAX:
            # before 3.11, building the ast objects has no recursion guard: 100,000 levels
            # (200 KB of `1 + 1 + ...`) overflow the C stack of the main thread, a crash
            return Parsed(with_deep_stack(lambda: ast.parse(text, display)))
        try:
            return Parsed(ast.parse(text, display))
        except RecursionError:
            # deep code (long sums, huge literals): building the ast objects needs a deeper
            # stack
            return Parsed(with_deep_stack(lambda: ast.parse(text, display)))
    except SyntaxError as exc:
        # without its traceback: the frames it holds would hold the error again (a cycle that
        # keeps the text alive until a full collection, see tests/test_engine.py)
        return Parsed(syntax_error=exc.with_traceback(None))
    except ValueError as exc:
        return Parsed(problem=SourceProblem("MSE001", 1, 1, str(exc)))
    except MemoryError:
        # CPython's parser gives up on nesting past its stack ("too complex to parse"): every
        # Python refuses the file, the enclave's import raises MemoryError
        line, col = _parser_overflow(text, display)
        detail = f"too deeply nested for Python's parser at line {line}, column {col}"
        return Parsed(problem=SourceProblem("MSE001", line, col, detail, error="MemoryError"))
    except RecursionError:
        return Parsed(
            problem=SourceProblem(
                "MSE004",
                1,
                1,
                f"its expressions nest too deeply for mse-lint to analyse on this Python "
                f"({this_python()}: RecursionError even on a large stack)",
            )
        )


def syntax_problem(text: str, exc: SyntaxError) -> SourceProblem:
    """MSE001 for a genuine syntax error, the column kept on its line."""
    line = exc.lineno or 1
    col = exc.offset or 1
    if line > 0 and col > 0:
        # SyntaxError offsets are 1-based characters of the line (bytes before 3.10 on some
        # errors); clamp to the line length so the marker stays on the line
        lines = text.splitlines()
        if line <= len(lines):
            col = min(col, len(lines[line - 1]) + 1)
    detail = f"{exc.msg} at line {line}, column {col}"
    return SourceProblem("MSE001", line, max(col, 1), detail)


def fallback_over_budget(text: str, limits: Mapping[str, Any]) -> Optional[str]:
    """Why libcst may not parse ``text`` (its time grows with the file's size, and with the
    cube of an expression's depth), or None (``limits``: rules/core.toml [limits])."""
    from mse_lint.source.decode import size_text
    from mse_lint.source.nesting import python_nesting

    most = limits.get("fallback_max_bytes")
    size = len(text.encode("utf-8", "surrogatepass"))
    if most is not None and size > most:
        return f"it is {size_text(size)}, more than {size_text(most)}"
    deepest = limits.get("fallback_max_nesting")
    if deepest is not None:
        cost, line, _ = python_nesting(text)
        if cost > deepest:
            return f"its expressions nest too deeply (line {line})"
    return None


def this_python() -> str:
    """The running interpreter's version, as ``3.12``."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}"
