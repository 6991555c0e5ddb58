"""Secrets are never shown in full: at most a 4-character prefix and the length.

This module is the one redaction step of a run. Every piece of user text that reaches an
output (messages, source windows, notices, ``--debug`` lines, the manifest, SARIF, baseline
and cache files) passes through a :class:`Redactor` first:

- the engine asks the secret detectors (MSE201-MSE204's families, every rule of theirs, whatever
  the selection, suppressions, baseline or allowlist) about every checked file, and keeps the
  text they judge secret (``secret_spans``: positions only, so that the cache holds none of it);
  text that is not parsed Python (a file that does not parse or decode, mse.toml, requirements
  and ignore files, messages) is judged token by token by :class:`TextJudge`;
- the values so judged form one set for the whole run: a value masked once is masked wherever it
  occurs in the run's output, in any file's window or message, including a cut-off quote that
  ends (``…``) inside it;
- :func:`visible` escapes what a terminal, a CI log or a viewer would act on (control
  characters, bidirectional overrides, lone surrogates of undecodable file names), and
  :func:`line_safe` keeps a path that starts a line from starting a workflow command.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Optional, Union

# The patterns below are strings, compiled on first use (re keeps them compiled): compiling
# them all on import cost a run served by the cache about 4 ms.
MASK = "*"
ELLIPSIS = "…"
# Values this long are masked wherever they occur; shorter ones only where they stand as a
# token of their own (not inside a longer word), so that a short password does not mask every
# word holding its letters.
_ANYWHERE = 8
# Judged values shorter than this are masked where they were judged only (a 3-character
# password masked everywhere would mask half of every message)
_MIN_VALUE = 4
# A cut-off quote (``abcdefgh…``) is masked when it ends with at least this many characters of
# a secret: 4 or fewer are what a mask shows anyway
_CUT = 5
# A message may quote a part of a secret between two separators (MSE501 proposes the last
# part of a pattern with `/` as the pattern to write): parts this long are masked as well
_PART = 5
# what separates the parts of a path, a URL or a key=value list (not `-`, `_`, `.`, `+`,
# which tokens are made of)
_SEPARATORS = r"[/\\:@=&?#;,\s]+"

Interval = tuple[int, int, int]  # start, end (exclusive), characters left visible at the start


def shown_chars(n: int) -> int:
    """How many leading characters of an ``n``-character secret a mask leaves visible."""
    return min(4, n // 4)


def redact(value: str) -> str:
    """``'ghp_****' (40 chars)``: short values show proportionally less of themselves."""
    shown = shown_chars(len(value))
    return f"'{value[:shown]}{MASK * 4}' ({len(value)} chars)"


def mask_span(line: str, start: int, end: int) -> str:
    """The line with characters ``start:end`` (0-based, end exclusive) masked after a prefix."""
    start = max(0, min(start, len(line)))
    end = max(start, min(end, len(line)))
    return mask_intervals(line, [(start, end, shown_chars(end - start))])


def mask_intervals(text: str, intervals: Iterable[Interval]) -> str:
    """``text`` with each interval masked (one character for one: columns stay where they
    were). Overlapping intervals are masked as one, showing what the leftmost one shows."""
    merged: list[list[int]] = []
    for start, end, shown in sorted(intervals):
        start = max(0, min(start, len(text)))
        end = max(start, min(end, len(text)))
        if start == end:
            continue
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], end)
            if start == last[0]:
                last[2] = min(last[2], shown)
            continue
        merged.append([start, end, shown])
    if not merged:
        return text
    out = []
    at = 0
    for start, end, shown in merged:
        shown = min(shown, end - start)
        out.append(text[at : start + shown])
        out.append(MASK * (end - start - shown))
        at = end
    out.append(text[at:])
    return "".join(out)


# -- rendering ------------------------------------------------------------------------------

# C0 controls (tab and line breaks included: user text is rendered on one line), DEL, C1
# controls (U+009B is CSI on some terminals), the bidirectional controls that reorder what a
# viewer shows (CVE-2021-42574), the Unicode line and paragraph separators, and lone
# surrogates (what Python makes of file names that are not UTF-8)
_INVISIBLE = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_SURROGATES = "[\ud800-\udfff]"


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    short = _SHORT.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # the byte the file name holds (surrogateescape)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def visible(text: str) -> str:
    """User text as a visible escape of everything a terminal, a log viewer or a CI log parser
    would act on instead of showing: ``\\x1b``, ``\\n``, ``\\u202e``, ``\\xff`` (an undecodable
    byte of a file name). Printable text, backslashes included, is unchanged."""
    if text.isascii() and text.isprintable():
        return text
    return re.sub(_INVISIBLE, _escape, text)


def encodable(text: str) -> str:
    """Only the lone surrogates escaped (``\\xff`` for the byte of an undecodable file name):
    what every output needs, as no encoder writes them. The JSON formats escape the rest."""
    if text.isascii():
        return text
    return re.sub(_SURROGATES, _escape, text)


# Characters a path may start a line with: anything else (`::error`, `##vso[`, `#`, `-`, `+`)
# might mean something to whatever reads the log line by line
_SAFE_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./~")


def line_safe(path: str) -> str:
    """A relative path that is to start an output line, as ``./path`` when its first character
    could make the line a command of a CI log (``::error::...`` for GitHub Actions)."""
    if path and path[0] not in _SAFE_START:
        return "./" + path
    return path


# -- judging text that is not parsed Python -------------------------------------------------

# `name = value`, `"name": "value"`, `name: value`, `name => value`, `--name=value`
_ASSIGNED = (
    r"""(?P<name>[A-Za-z_][\w.-]{0,79})["']?[ \t]*(?:=>|:=|=|:)[ \t]*(?P<quote>["'`]?)"""
    r"""(?P<value>[^\s"'`,;]+)"""
)
# `--password VALUE`: an option and the word after it
_OPTION = r"(?<![\w-])--?(?P<name>[A-Za-z][\w-]{1,79})[ \t]+(?P<value>[^\s\"'`-][^\s\"'`]*)"
_TOKEN = r"""[^\s"'`]+"""
# MSE204 judges runs of at most 1000 characters; a longer token (a minified line, a megabyte
# .mseignore line) is left to the formats, which find a credential inside any text
_LONGEST_TOKEN = 4096
_LONG_RUN = r"[A-Za-z0-9+/_=-]{16,}"


class TextJudge:
    """The secret detectors' judgement on plain text, token by token: the credential formats of
    MSE202 and the URL passwords of MSE203 anywhere in it, MSE201's judgement of a value after a
    secret-like name (``password = ...``, ``"token": "..."``, ``--password ...``), and MSE204's
    entropy test on each token. For text mse-lint does not analyse as Python: files that do not
    parse or decode, mse.toml, requirements and ignore files, messages."""

    def __init__(self, values: Any, formats: Any) -> None:
        # a SecretValuesCheck and a SecretFormatsCheck (mse_lint.checks), built to judge
        self.values = values
        self.formats = formats

    @classmethod
    def build(cls, catalog: Any, settings: Any) -> TextJudge:
        from mse_lint.checks.secret_formats import SecretFormatsCheck
        from mse_lint.checks.secret_values import SecretValuesCheck

        judging = judging_settings(settings)
        return cls(SecretValuesCheck(catalog, judging), SecretFormatsCheck(catalog, judging))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) offsets of the secrets in ``text``."""
        out: list[tuple[int, int]] = []
        if not text:
            return out
        formats = self.formats
        if formats.wants(text):
            out.extend((s, e) for s, e, _f, _v in formats.scan(text))
        values = self.values
        if "://" in text and "@" in text:
            out.extend((c.start, c.end) for c in values.url_credentials(text))
        at = 0
        for line in text.split("\n"):
            self._line(line, at, out)
            at += len(line) + 1
        return out

    def _line(self, line: str, at: int, out: list[tuple[int, int]]) -> None:
        values = self.values
        if "=" in line or ":" in line or "-" in line:  # the names are judged one by one
            for pattern in (_ASSIGNED, _OPTION):
                for m in re.finditer(pattern, line):
                    value = m.group("value")
                    if pattern is _ASSIGNED and not m.group("quote"):
                        value = value.rstrip(")]}>")
                    where = values.secret_part(m.group("name"), value)
                    if where is not None:
                        start = m.start("value")
                        out.append((at + start + where[0], at + start + where[1]))
        if re.search(_LONG_RUN, line) is None:
            return  # no token long enough for MSE204's runs
        for m in re.finditer(_TOKEN, line):
            token = m.group()
            if not values.min_run <= len(token) <= _LONGEST_TOKEN:
                continue
            before = line[max(0, m.start() - 40) : m.start()]
            context = (before,) if before.strip() else ()
            done = 0
            while len(token) - done >= values.min_run:  # every random run, not the first only
                found = values.high_entropy(token[done:], context)
                if found is None:
                    break
                start = at + m.start() + done
                out.append((start + found.start, start + found.end))
                done += found.end


def judging_settings(settings: Any) -> Any:
    """The settings the detectors judge with for masking: the user's extra formats count, the
    allowlist does not (a repository's configuration must not be able to unmask what the run
    prints, and an allowlisted value is only not reported)."""
    from mse_lint.core.record import replace

    secrets = settings.secrets
    if not secrets.allowlist and not secrets.allowlist_regex:
        return settings
    return replace(settings, secrets=replace(secrets, allowlist=(), allowlist_regex=()))


def span_values(lines: Sequence[str], spans: Iterable[tuple[int, int, int, int]]) -> list[str]:
    """The text at each span (a span over several lines gives one value per line piece)."""
    out: list[str] = []
    for line, col, end_line, end_col in spans:
        for n in range(line, end_line + 1):
            if not 0 < n <= len(lines):
                continue
            text = lines[n - 1]
            start = col - 1 if n == line else 0
            end = end_col - 1 if n == end_line else len(text)
            piece = text[max(0, start) : max(0, end)].strip()
            if piece:
                out.append(piece)
    return out


# -- the run's redactor ---------------------------------------------------------------------


# What a notice or debug line of the run (our words and paths) must hold for TextJudge to be
# asked about it: a URL, a key block, a secret-like word, or a run of 16 token characters
# with a digit (not across `/`: a long path is not one). It spares a run whose results all
# come from the cache the import of the secret families. Findings' messages and the notices
# about one file are judged without it, in the engine.
_MAY_HOLD = (
    r"://|BEGIN|(?i:pass|pwd|secret|token|key|auth|cred|private|signature|session|cookie|bearer)"
)
_RUN = r"[A-Za-z0-9+_=-]{16,}"


def may_hold_secret(text: str) -> bool:
    if re.search(_MAY_HOLD, text) is not None:
        return True
    # maximal runs, then a digit in one: linear in the text (a lookahead for "16 characters
    # and a digit" at every position was quadratic on a megabyte .mseignore line)
    return any(re.search("[0-9]", m.group()) for m in re.finditer(_RUN, text))


class Redactor:
    """The secret values of a whole run, masked wherever they occur.

    ``by_path``: the values judged secret in each file (from the engine). ``judge``: what
    :meth:`learn` judges more text with, or a function that makes it when first needed (None:
    learn nothing new)."""

    def __init__(
        self,
        by_path: Optional[Mapping[str, Iterable[str]]] = None,
        judge: Union[TextJudge, Callable[[], TextJudge], None] = None,
    ) -> None:
        self._judge = judge
        self.by_path: dict[str, frozenset[str]] = {}
        self.values: set[str] = set()
        for path, values in (by_path or {}).items():
            kept = frozenset(v for v in values if len(v) >= _MIN_VALUE)
            if kept:
                self.by_path[path] = kept
                self.values.update(kept)
        self._sorted: Optional[list[str]] = None
        self._parts: Optional[list[str]] = None

    def add(self, values: Iterable[str]) -> None:
        for v in values:
            if len(v) >= _MIN_VALUE and v not in self.values:
                self.values.add(v)
                self._sorted = self._parts = None

    def learn(self, text: str) -> None:
        """Add the secrets the judge finds in ``text`` (a notice, a debug line, a line of a
        file that is not Python): every output of the run masks them from then on."""
        if self._judge is None or not text or not may_hold_secret(text):
            return
        if not isinstance(self._judge, TextJudge):
            self._judge = self._judge()
        self.add(text[s:e] for s, e in self._judge.spans(text))

    def _ordered(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.values, key=len, reverse=True)
        return self._sorted

    def _fragments(self) -> list[str]:
        if self._parts is None:
            self._parts = _parts_of(self._ordered())
        return self._parts

    def intervals(self, text: str, values: Optional[Iterable[str]] = None) -> list[Interval]:
        """Where the values (default: the run's) occur in ``text``, with what a mask shows: a
        whole value its first characters, a part of one (between separators, or next to the
        ``…`` of a cut quote) none of it."""
        found: list[Interval] = []
        if values is None:
            pool, parts = self._ordered(), self._fragments()
        else:
            pool = sorted(values, key=len, reverse=True)
            parts = _parts_of(pool)
        if not pool or not text:
            return found
        for group, whole in ((pool, True), (parts, False)):
            wholes = list(found)
            for v in group:
                if v not in text:
                    continue
                n = len(v)
                shown = shown_chars(n) if whole else 0
                at = text.find(v)
                while at >= 0:
                    end = at + n
                    inside = not whole and any(
                        a <= at and end <= b and b - a > n for a, b, _ in wholes
                    )
                    if not inside and (n >= _ANYWHERE or _token(text, at, end)):
                        found.append((at, end, shown))
                    at = text.find(v, at + 1)
        if ELLIPSIS in text:
            found.extend(_cut_quotes(text, pool))
        return found

    def mask(self, text: str, extra: Iterable[Interval] = ()) -> str:
        """``text`` with every secret of the run (and the ``extra`` intervals) masked."""
        return mask_intervals(text, [*self.intervals(text), *extra])

    def mask_as_file(self, path: str, text: str, extra: Iterable[Interval] = ()) -> str:
        """``text`` masked with the values judged in the file ``path`` alone: what line hashes
        (baseline, SARIF and GitLab fingerprints) are taken of, so that they depend on the file
        only, never on which other files the run checked."""
        own = self.by_path.get(path)
        if not own:
            return mask_intervals(text, extra)
        return mask_intervals(text, [*self.intervals(text, own), *extra])

    def text(self, text: str) -> str:
        """A message, notice or debug line as every output shows it: secrets masked, lone
        surrogates escaped (control characters are each format's business)."""
        return encodable(self.mask(text))

    def diagnostics(self, diagnostics: Sequence[Any]) -> list[Any]:
        """Findings with their message and fix as every output shows them."""
        from mse_lint.core.record import replace

        out = []
        for d in diagnostics:
            message = self.text(d.message)
            fix = None if d.fix is None else self.text(d.fix)
            same = message == d.message and fix == d.fix
            out.append(d if same else replace(d, message=message, fix=fix))
        return out

    def notices(self, notices: Sequence[Any]) -> list[Any]:
        from mse_lint.core.record import replace

        out = []
        for n in notices:
            message = self.text(n.message)
            out.append(n if message == n.message else replace(n, message=message))
        return out


def _parts_of(values: Sequence[str]) -> list[str]:
    """The parts of ``values`` between separators (``/``, ``:``, ``=``...) that look generated
    (a digit, or letters in no usual case), long enough to mean something of the secret,
    longest first; plain words (``services``, ``EXAMPLE``) are not parts to mask."""
    parts: set[str] = set()
    for v in values:
        pieces = re.split(_SEPARATORS, v)
        if len(pieces) > 1:
            parts.update(p for p in pieces if len(p) >= _PART and _generated(p))
    return sorted(parts, key=len, reverse=True)


def _generated(part: str) -> bool:
    if any(c.isdigit() for c in part):
        return True
    return not (part.islower() or part.isupper() or part.istitle())


def _token(text: str, start: int, end: int) -> bool:
    """The text at ``start:end`` is not part of a longer word."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or after.isalnum())


def _cut_quotes(text: str, values: Sequence[str]) -> list[Interval]:
    """Parts of secrets next to a ``…`` that cut a quote: ``sk_live_4eC39Hq…`` ends with the
    start of a secret (masked as the secret is), ``…Pw7Rz@db`` starts with the end of one (all
    of it masked: the mask of the whole secret shows its start, never its end)."""
    out: list[Interval] = []
    at = text.find(ELLIPSIS)
    while at >= 0:
        before = text[:at]
        after = text[at + 1 :]
        last = before[-1:]
        first = after[:1]
        for v in values:
            n = len(v)
            for k in range(min(n - 1, len(before)), _CUT - 1, -1):
                if v[k - 1] == last and before.endswith(v[:k]):
                    out.append((at - k, at, shown_chars(n)))
                    break
            for k in range(min(n - 1, len(after)), _CUT - 1, -1):
                if v[n - k] == first and after.startswith(v[n - k :]):
                    out.append((at + 1, at + 1 + k, 0))
                    break
        at = text.find(ELLIPSIS, at + 1)
    return out
