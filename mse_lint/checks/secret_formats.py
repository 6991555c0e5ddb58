"""Secrets: MSE202 known-credential-format.

The formats are data: ``[[formats]]`` of the secrets family (rules/secrets.toml), plus the
user's ``[tool.mse-lint.secrets] extra-patterns``. Each format has a regex and ``keywords``,
literal substrings one of which every match contains.

How a file is checked:

- ``wants(text)`` is the whole cost for the files that cannot hold a credential (nearly all of
  them): the keywords, first in the file's shared word set written one word a line (a fifth of
  the text; ``word_needle`` gives what it holds wherever a keyword is in the text), then in the
  text (one regex per first character, a keyword containing another one left out); the
  ``precheck`` regexes (a literal-led piece of the regex, given to keyword-less formats and to
  formats whose keywords are common in code, like "AC" or "-us": it replaces their keyword
  test), then, joined into one regex, the keyword-less formats without a precheck and the extra
  patterns. The prechecks are run one by one: joined, they were measured 7x slower (Python's
  ``re`` finds a literal first character fast, a choice of several first characters not). Over
  Django's 880 files (5.5 MB) wants() costs about 0.1 s, the prechecks half of it.
- ``run(ctx)`` scans the raw source text (ctx.source, as the engine decoded it) with each format
  that can match, and maps match offsets to 1-based lines and character columns (end exclusive).
  String literals, bytes literals, f-string constant parts and comments are all covered by the
  same scan, and so is context that is code: ``boto3.client(aws_secret_access_key="...")`` has
  its key name outside the literal. Text that is neither a literal nor a comment is identifiers,
  numbers, operators: the formats need shapes such code does not have (a vendor prefix followed
  by 20+ random characters, a UUID next to a heroku key name...), so the scan does not parse the
  tokens to exclude it. An extra pattern loose enough to match identifiers is the user's choice.
- The scan sees the source, not the value: a token written with escapes inside it
  (``"ghp\\x5f..."``) is not found. An escape just before a token (``b"\\x00ghp_..."``,
  ``"\\nAKIA..."``) would hide its left word boundary, so each format is also tried at every
  position that follows an escape ending in a word character, as if the escape were not there.
- A private key block (PEM / OpenSSH / PGP) is reported once, at its BEGIN line, with the span
  covering the whole block up to the end of its END marker and marked secret: every line of it is
  masked by reporters. A block split over ``#`` comment lines is not matched.
- Not reported: placeholders (one character over most of the value, runs of x / X / * / 0,
  ``your-...-here``, ``<...>``, ``${...}``, ``{{...}}``), the format's own ``allow`` list (public
  dev keys), and values in the user's allowlist (equal to a literal, or matched by a regex
  anywhere). A match inside another reported match is not reported again.
"""

from __future__ import annotations

import ast
import bisect
import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional, Union

from mse_lint.analysis.astwalk import walk
from mse_lint.checks import FileContext
from mse_lint.checks import words as file_words
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.record import Frozen
from mse_lint.core.redact import redact
from mse_lint.core.settings import Settings
from mse_lint.core.userregex import UserRegex

RULE = "MSE202"

# An escape sequence ending in a word character and followed by one: in the raw text it glues
# itself to the token after it (`\nAKIA...`). `\\` is matched so that `\\n` is not taken for `\n`.
_ESCAPE = re.compile(
    r"\\(?:\\|(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[abfnrtv])"
    r"(?=[A-Za-z0-9_]))"
)
# How far past such an escape a token is looked for: to the end of the line, at most this far
_WINDOW = 4096

_PLACEHOLDER_RUN = re.compile(r"x{8,}|X{8,}|\*{4,}|0{8,}")
_PLACEHOLDER_TEXT = re.compile(r"(?i:your[\w.-]*here)|<[^<>\s]*>|\$\{|\{\{")
_PLACEHOLDER_SHARE = 0.6  # one character over this share of the value
# what stops patterns from being joined into one: back-references, global inline flags
_UNJOINABLE = re.compile(r"\\[1-9]|\(\?P=|\(\?[aiLmsux]+\)")


class Format(Frozen):
    id: str
    name: str
    pattern: str
    group: Union[int, str] = 0
    keywords: tuple[str, ...] = ()
    precheck: Optional[re.Pattern[str]] = None
    allow: frozenset[str] = frozenset()
    user: bool = False  # from the settings: run with a time budget (mse_lint.core.userregex)

    @functools.cached_property
    def regex(self) -> Union[re.Pattern[str], UserRegex]:
        # compiled when a file first passes the format's keywords or precheck: compiling the
        # whole catalogue up front took longer than checking a small file
        if self.user:
            return UserRegex(self.pattern, f"secrets.extra-patterns `{self.id}`")
        return re.compile(self.pattern)

    def can_match(self, text: str) -> bool:
        if self.keywords and not any(k in text for k in self.keywords):
            return False
        return self.precheck is None or self.precheck.search(text) is not None


def catalogue_formats(data: Mapping[str, Any]) -> list[Format]:
    """The ``[[formats]]`` of the secrets family."""
    out = []
    for raw in data.get("formats", []):
        precheck = raw.get("precheck")
        out.append(
            Format(
                id=raw["id"],
                name=raw["name"],
                pattern=raw["regex"],
                group=int(raw.get("secret_group", 0)),
                keywords=tuple(raw.get("keywords", ())),
                precheck=re.compile(precheck) if precheck else None,
                allow=frozenset(raw.get("allow", ())),
            )
        )
    return out


def extra_formats(patterns: Iterable[tuple[str, str]]) -> list[Format]:
    """``extra-patterns`` of the config: no keywords; the secret is the group named ``secret``
    when the regex has one, else the whole match."""
    out = []
    for fid, pattern in patterns:
        rx = re.compile(pattern)
        group: Union[int, str] = "secret" if "secret" in rx.groupindex else 0
        out.append(
            Format(id=fid, name=f"{fid} (custom format)", pattern=pattern, group=group, user=True)
        )
    return out


def keyword_tests(keywords: Iterable[str]) -> list[Union[str, re.Pattern[str]]]:
    """Tests, one of which is true exactly when one of ``keywords`` occurs in a text: a string
    (an ``in`` test) for a keyword alone with its first character, one regex for the keywords
    sharing a first character. Python's re factors the common first character out and finds it
    fast: for the catalogue, 18 scans of the text instead of about 60, 2.5x faster over Django."""
    unique = set(keywords)
    # "ACCA" contains "AC": wherever ACCA occurs, AC does
    kept = sorted(k for k in unique if k and not any(o != k and o in k for o in unique))
    groups: dict[str, list[str]] = defaultdict(list)
    for k in kept:
        groups[k[0]].append(k)
    return [
        members[0] if len(members) == 1 else re.compile("|".join(map(re.escape, members)))
        for members in groups.values()
    ]


_WORD = re.compile(r"\w+")


def word_needle(keyword: str) -> Optional[str]:
    """What the file's words, one a line ("\\n" before the first, after each), hold wherever
    ``keyword`` is in the text: the keyword itself when it is made of word characters (it is
    then inside one word); else one of its runs of word characters, the longest once written
    with what it tells: a run after another character starts a word ("-----BEGIN":
    "\\nBEGIN"), one before another character ends a word ("glpat-": "glpat\\n"), one between
    two is a whole word ("sk-ant-": "\\nant\\n"). None for a keyword without a word character."""
    needles = [
        ("\n" if m.start() > 0 else "") + m.group() + ("\n" if m.end() < len(keyword) else "")
        for m in _WORD.finditer(keyword)
    ]
    return max(needles, key=len, default=None)


def _passes(tests: Sequence[Union[str, re.Pattern[str]]], text: str) -> bool:
    return any(test in text if isinstance(test, str) else test.search(text) for test in tests)


def is_placeholder(value: str) -> bool:
    """``ghp_xxxxxxxx...``, ``AKIA0000000000000000``, ``<your-token>``, ``your-key-here``..."""
    if not value:
        return True
    if _PLACEHOLDER_RUN.search(value) or _PLACEHOLDER_TEXT.search(value):
        return True
    top = Counter(value).most_common(1)[0][1]
    return top >= _PLACEHOLDER_SHARE * len(value)


class _Lines:
    """Offsets in the source to 1-based (line, character column)."""

    _BREAK = re.compile(r"\r\n|\r|\n")

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in self._BREAK.finditer(text)]

    def at(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i] + 1


class _Statements:
    """The statement whose first line a suppression comment may sit on: the innermost simple
    statement, or compound statement header (``def f(x="...")``, a multi-line ``if``), holding a
    line. Comments between statements belong to none."""

    def __init__(self, tree: ast.Module) -> None:
        spans: list[tuple[int, int, ast.stmt]] = []
        for node in walk(tree):
            if not isinstance(node, ast.stmt):
                continue
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
            end = getattr(node, "end_lineno", None) or node.lineno
            inner = [
                _first_line(child, end + 1)
                for name in ("body", "orelse", "handlers", "finalbody", "cases")
                for child in getattr(node, name, None) or ()
            ]
            if inner:
                end = min(end, min(inner) - 1)
            spans.append((start, end, node))
        spans.sort(key=lambda s: s[0])
        self.spans = spans

    def at(self, line: int) -> Optional[ast.stmt]:
        best = None
        for start, end, node in self.spans:
            if start > line:
                break
            if line <= end:
                best = node
        return best


def _first_line(node: ast.AST, default: int) -> int:
    """A match statement's cases have no line of their own: their pattern's."""
    line = getattr(node, "lineno", None) or getattr(getattr(node, "pattern", None), "lineno", None)
    return line if isinstance(line, int) else default


class SecretFormatsCheck:
    codes = frozenset({RULE})

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        secrets = settings.secrets
        self.formats: list[Format] = [
            *catalogue_formats(catalog.data("secrets")),
            *extra_formats(secrets.extra_patterns),
        ]
        keywords = [k for f in self.formats if f.precheck is None for k in f.keywords]
        self._keyword_tests = keyword_tests(keywords)
        # the same on the file's words, one a line (shared with the other families, and a
        # fifth of the text): a test there is true wherever the keyword's is in the text
        needles = [word_needle(k) for k in keywords]
        self._word_tests = None if None in needles else keyword_tests(map(str, needles))
        self._prechecks = [f.precheck for f in self.formats if f.precheck is not None]
        plain = [f for f in self.formats if not f.keywords and f.precheck is None]
        self._unfiltered = _combined([f.regex for f in plain if isinstance(f.regex, re.Pattern)])
        # the user's formats run alone, each with its time budget, never joined into one re
        self._user = [f.regex for f in plain if not isinstance(f.regex, re.Pattern)]

    # -- prefilter --------------------------------------------------------------------------------
    def wants(self, text: str) -> bool:
        tests = self._word_tests
        if (tests is None or _passes(tests, "\n" + "\n".join(file_words(text)) + "\n")) and (
            _passes(self._keyword_tests, text)
        ):
            return True
        if any(rx.search(text) for rx in self._prechecks):
            return True
        return any(rx.search(text) for rx in self._unfiltered) or any(
            rx.search(text) is not None for rx in self._user
        )

    # -- the scan ---------------------------------------------------------------------------------
    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        text = ctx.source
        active = [f for f in self.formats if f.can_match(text)]
        if not active:
            return []
        found = self.scan(text, active)
        if not found:
            return []
        lines = _Lines(text)
        stmts = _Statements(ctx.tree)
        out = []
        for start, end, fmt, secret in found:
            line, col = lines.at(start)
            end_line, end_col = lines.at(end)
            out.append(
                ctx.diagnostic(
                    RULE,
                    ctx.tree,
                    stmts.at(line),
                    format=fmt.name,
                    value=redact(secret),
                    _secret=True,
                    _span=Span(line, col, end_line, end_col),
                )
            )
        return out

    def scan(
        self, text: str, formats: Optional[Sequence[Format]] = None
    ) -> list[tuple[int, int, Format, str]]:
        """(start, end, format, secret) of each credential to report, in text order; offsets
        into ``text``, end exclusive."""
        formats = self.formats if formats is None else formats
        after_escapes = (
            [m.end() for m in _ESCAPE.finditer(text) if m.group() != "\\\\"] if "\\" in text else []
        )
        candidates: set[tuple[int, int, int]] = set()  # (start, end, index in formats)
        for index, fmt in enumerate(formats):
            for m in fmt.regex.finditer(text):
                if m.start(fmt.group) >= 0:
                    candidates.add((m.start(fmt.group), m.end(fmt.group), index))
        for at in after_escapes:
            # the text from there, as if the escape were not before it (a window: no left context)
            eol = text.find("\n", at, at + _WINDOW)
            window = text[at : eol if eol >= 0 else at + _WINDOW]
            for index, fmt in enumerate(formats):
                here = fmt.regex.match(window)
                if here is not None and here.start(fmt.group) >= 0:
                    candidates.add((at + here.start(fmt.group), at + here.end(fmt.group), index))
        out: list[tuple[int, int, Format, str]] = []
        covered_to = -1
        # longest first at equal starts; a match inside an earlier kept one is the same secret
        for start, end, index in sorted(candidates, key=lambda c: (c[0], -c[1], c[2])):
            if end <= covered_to or start == end:
                continue
            fmt = formats[index]
            secret = text[start:end]
            if secret in fmt.allow or self.allowed(secret) or is_placeholder(secret):
                continue
            out.append((start, end, fmt, secret))
            covered_to = max(covered_to, end)
        return out

    def allowed(self, value: str) -> bool:
        return self.settings.secrets.allows(value)


def _combined(patterns: Sequence[re.Pattern[str]]) -> list[re.Pattern[str]]:
    """One regex that finds something wherever one of ``patterns`` does, or the patterns
    themselves when they cannot be joined (back-references, clashing group names, global
    flags)."""
    if len(patterns) < 2 or any(_UNJOINABLE.search(p.pattern) for p in patterns):
        return list(patterns)
    try:
        return [re.compile("|".join(f"(?:{p.pattern})" for p in patterns))]
    except re.error:
        return list(patterns)
