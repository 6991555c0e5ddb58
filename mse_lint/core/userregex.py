"""Regular expressions from the user's settings (``secrets.extra-patterns``,
``secrets.allowlist-regex``), run with a time budget.

Those settings come from the repository being linted, and a pattern like ``(a|aa)+$``
backtracks exponentially: with ``re`` one literal could stall the run for hours, and nothing
can interrupt ``re`` (it holds the interpreter until it returns; no signal handler runs). The
third-party ``regex`` module, which reads the same syntax, takes a timeout. Each pattern here
may spend :data:`PER_CALL` seconds on one text and :data:`BUDGET` seconds in all (per process);
past either it is dropped for the rest of the run and a notice says so (:func:`take_notices`,
drained by the engine after each file). ``regex`` is imported only when the settings hold such
a pattern (about 30 ms).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

PER_CALL = 0.25  # seconds one search may take (a real pattern takes microseconds)
BUDGET = 2.0  # seconds one pattern may take over the whole run, per process

_PENDING: list[str] = []
# (pattern, origin) of the patterns dropped in this process: one setting can stand behind
# several instances (the reporting check's and the secret judge's, mse_lint.core.redact), and a
# pattern dropped by one is dropped for all, with one notice
_DROPPED: set[tuple[str, str]] = set()


def take_notices() -> list[str]:
    """The notices of patterns dropped since the last call."""
    if not _PENDING:
        return []
    out = list(_PENDING)
    _PENDING.clear()
    return out


def pending() -> bool:
    return bool(_PENDING)


def compile_check(pattern: str) -> Optional[str]:
    """Why ``regex`` cannot compile ``pattern`` (None: it can)."""
    import regex

    try:
        regex.compile(pattern)
    except regex.error as exc:
        return str(exc)
    return None


class UserRegex:
    """A user's pattern with the few methods of ``re.Pattern`` the secrets checks use. Matches
    are ``regex`` match objects (``start``, ``end``, ``group`` as in ``re``)."""

    def __init__(self, pattern: str, origin: str) -> None:
        self.pattern = pattern
        self.origin = origin  # e.g. "secrets.extra-patterns `acme-token`"
        self.spent = 0.0
        self.dropped = False
        self._rx: Any = None

    @property
    def compiled(self) -> Any:
        if self._rx is None:
            import regex

            self._rx = regex.compile(self.pattern)
        return self._rx

    @property
    def groupindex(self) -> dict[str, int]:
        return dict(self.compiled.groupindex)

    def _run(self, call: Callable[[float], Any]) -> Any:
        if self.dropped or (self.pattern, self.origin) in _DROPPED:
            self.dropped = True
            return None
        started = time.perf_counter()
        try:
            return call(min(PER_CALL, max(BUDGET - self.spent, 0.001)))
        except TimeoutError:
            self._drop(f"took more than {PER_CALL} s on one text")
            return None
        finally:
            self.spent += time.perf_counter() - started
            if self.spent >= BUDGET and not self.dropped:
                self._drop(f"took more than {BUDGET} s in all")

    def _drop(self, why: str) -> None:
        self.dropped = True
        if (self.pattern, self.origin) in _DROPPED:
            return
        _DROPPED.add((self.pattern, self.origin))
        _PENDING.append(
            f"{self.origin} {self.pattern!r} {why}: not used for the rest of this run; a "
            "pattern with nested or overlapping repetition (like `(a|aa)+`) backtracks "
            "exponentially: rewrite it"
        )

    def search(self, text: str) -> Any:
        return self._run(lambda t: self.compiled.search(text, timeout=t))

    def match(self, text: str) -> Any:
        return self._run(lambda t: self.compiled.match(text, timeout=t))

    def finditer(self, text: str) -> Iterator[Any]:
        found = self._run(lambda t: list(self.compiled.finditer(text, timeout=t)))
        return iter(found or ())

    def __reduce__(self) -> tuple[Any, ...]:  # to a spawned worker: the source, not the state
        return (UserRegex, (self.pattern, self.origin))
