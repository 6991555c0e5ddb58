"""MSE506's text scanners: what the text of a file says before any tree is walked.

- f-strings (PEP 701): :func:`fstring_issues` reads string literals with Python 3.12's rules and
  names what 3.11 and earlier reject in their replacement fields; :func:`fstring_issue_possible`
  says whether a file may hold any such f-string;
- star expressions in subscripts (PEP 646) and ``except*``: :func:`star_lines`, the lines that
  may hold one, read backwards from each ``*``.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from typing import Any, Optional

_STRING_START = re.compile(r"([rRbBuUfFtT]{0,3})('''|\"\"\"|'|\")")
# Blanks between two tokens: whitespace, line continuations and comments. A comment runs to the
# end of its line (the lookahead): otherwise "# ####" splits into comments in exponentially many
# ways and a failing search never ends.
GAP = r"(?:[\s\\]|#[^\n]*(?=\n|\Z))*"
GAP_RE = re.compile(GAP)
_FSTRING_PREFIX = re.compile(r"(?<![\w])[rRbB]?[fFtT][rR]?['\"]")


def scan_string(text: str, i: int, issues: list[str]) -> int:
    """Scan the string literal starting at ``text[i]`` (prefix included) with Python 3.12's
    rules; append to ``issues`` what Python 3.11 and earlier reject in its replacement fields
    (``quotes``, ``backslash``, ``comment``, ``newline``). Returns the index past its end."""
    m = _STRING_START.match(text, i)
    if m is None:
        return i + 1
    prefix, quote = m.group(1).lower(), m.group(2)
    formatted = "f" in prefix or "t" in prefix
    j, n = m.end(), len(text)
    while j < n:
        if text.startswith(quote, j):
            return j + len(quote)
        c = text[j]
        if c == "\\":
            j += 1 if formatted and j + 1 < n and text[j + 1] in "{}" else 2
        elif formatted and c == "{":
            if text.startswith("{{", j):
                j += 2
            else:
                j = _scan_field(text, j + 1, quote, issues)
        elif formatted and c == "}":
            j += 2 if text.startswith("}}", j) else 1
        elif c == "\n" and len(quote) == 1:
            return j
        else:
            j += 1
    return n


def _scan_field(text: str, j: int, quote: str, issues: list[str]) -> int:
    """A replacement field from just after its ``{``; returns the index past its ``}``."""
    start, depth, n = j, 0, len(text)
    comment = False

    def judge(region: str) -> None:
        if quote in region:
            issues.append("quotes")
        if "\\" in region:
            issues.append("backslash")
        if comment:
            issues.append("comment")
        if "\n" in region and len(quote) == 1:
            issues.append("newline")

    while j < n:
        c = text[j]
        if c in "([{":
            depth += 1
            j += 1
        elif c in ")]" or (c == "}" and depth > 0):
            depth -= 1
            j += 1
        elif c == "}" or (depth == 0 and c == "!" and not text.startswith("!=", j)):
            judge(text[start:j])
            if c == "!":
                while j < n and text[j] not in ":}":
                    j += 1
                if j < n and text[j] == ":":
                    return _scan_spec(text, j + 1, quote, issues)
            return j + 1
        elif depth == 0 and c == ":":
            judge(text[start:j])
            return _scan_spec(text, j + 1, quote, issues)
        elif c in "'\"":
            k = j
            while k > start and text[k - 1] in "rRbBuUfFtT":
                k -= 1
            if k > start and (text[k - 1].isalnum() or text[k - 1] == "_"):
                k = j  # the letters end a name (`x"..."` is not a prefix)
            j = scan_string(text, k, issues)
        elif c == "#":
            comment = True
            nl = text.find("\n", j)
            j = n if nl < 0 else nl
        else:
            j += 1
    return n


def _scan_spec(text: str, j: int, quote: str, issues: list[str]) -> int:
    n = len(text)
    while j < n:
        c = text[j]
        if c == "{":
            j = _scan_field(text, j + 1, quote, issues)
        elif c == "}":
            return j + 1
        elif text.startswith(quote, j) or (c == "\n" and len(quote) == 1):
            return j
        else:
            j += 1
    return n


def fstring_issues(segment: str) -> list[str]:
    """PEP 701 issues of the string literals (implicitly concatenated) in ``segment``."""
    issues: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        if c in "rRbBuUfFtT'\"":
            m = _STRING_START.match(segment, i)
            if m is not None:
                i = scan_string(segment, i, issues)
                continue
        if c == "#":
            nl = segment.find("\n", i)
            i = n if nl < 0 else nl
            continue
        i += 1
    return issues


def fstring_issue_possible(text: str) -> bool:
    """Whether ``text`` may hold an f-string that Python 3.11 and earlier reject (PEP 701):
    every literal an f-string prefix starts is scanned as :func:`fstring_issues` scans it (a
    prefix in a comment or another string only costs a walk)."""
    if "\r" in text:  # the parser's line breaks: a field over lines is one issue
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    issues: list[str] = []
    for m in _FSTRING_PREFIX.finditer(text):
        scan_string(text, m.start(), issues)
        if issues:
            return True
    return False


FSTRING_KEYS = {
    "quotes": "fstring-quotes",
    "backslash": "fstring-backslash",
    "comment": "fstring-comment",
    "newline": "fstring-newline",
}


# -- star expressions in subscripts, found in the text -----------------------------------------
# `x[*a]`, `x[a, *b]`, `x[(*a, b)]` (the tree cannot tell that tuple's parentheses apart) and
# `*args: *Ts`: a single `*` right after `[`, `(`, `,` or `:`. Most such stars in real code are
# `f(*args)` and `f(a, *args)`: the text around the star tells them apart without walking every
# expression of the tree. Whatever cannot be told for sure (a string or a comment in the way)
# counts as a subscript.
_KEYWORDS = frozenset(keyword.kwlist) - {"None", "True", "False"}
# what ends an operand: a `[` after anything else opens a list display, not a subscript
_NOT_OPERAND_END = frozenset("=([{,:;+-*/%&|^~<>!@")
_SCAN_LIMIT = 4000  # characters searched back for an opening bracket before giving up


def _code_end(text: str, nl: int) -> Optional[int]:
    """For the line break at ``text[nl]``: where the code of the line before it ends (at its
    comment, if any), or None when a ``#`` there may be in a string."""
    start = text.rfind("\n", 0, nl) + 1
    hash_at = text.find("#", start, nl)
    if hash_at < 0:
        return nl
    line = text[start:nl]
    if "'" in line or '"' in line:
        return None
    return hash_at


def back(text: str, i: int) -> Optional[int]:
    """The index of the code character before ``text[i]`` (blanks, line continuations and
    comments skipped); -1 at the start of the text; None when that is uncertain."""
    while i > 0:
        i -= 1
        c = text[i]
        if c == "\n":
            end = _code_end(text, i)
            if end is None:
                return None
            i = end
        elif c not in " \t\f\\":
            return i
    return -1


def _string_start(text: str, i: int) -> Optional[int]:
    """The index of the opening quote of the one-line string literal whose closing quote is
    ``text[i]`` (code precedes ``text[i + 1]``); None unless that is certain: no escapes, no
    triple or adjacent quotes, no replacement field that may nest the same quotes (PEP 701)."""
    q = text[i]
    start = text.rfind("\n", 0, i) + 1
    j = text.rfind(q, start, i)
    if j < 0 or (j > start and text[j - 1] == q):
        return None
    content = text[j + 1 : i]
    if "\\" in content:
        return None
    if "}" in content:
        end = text.find("\n", i)
        if text.count(q, start, len(text) if end < 0 else end) > 2:
            return None
    return j


# Keywords that only ever begin a statement: a bracket open before one is closed before it
_STATEMENT_KEYWORDS = frozenset(
    {
        "assert", "break", "class", "continue", "def", "del", "elif", "except", "finally",
        "global", "import", "nonlocal", "pass", "raise", "return", "try", "while", "with",
    }
)  # fmt: skip


def _opener(text: str, i: int) -> Optional[int]:
    """The index of the innermost bracket open at ``text[i]`` (a code position); -1 when none
    is; None when that is uncertain (a string or comment it cannot skip, or too far back)."""
    depth = 0
    limit = i - _SCAN_LIMIT
    right = ""  # the code character after the word being read
    while i > 0:
        i -= 1
        if i < limit:
            return None
        c = text[i]
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if not depth:
                return i
            depth -= 1
        elif c == "'" or c == '"':
            j = _string_start(text, i)
            if j is None:
                return None
            i = j
        elif c == "\n":
            end = _code_end(text, i)
            if end is None:
                return None
            i = end
            continue
        elif c.isalnum() or c == "_":
            end = i
            while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
                i -= 1
            word = text[i : end + 1]
            if not depth and (word in _STATEMENT_KEYWORDS or (word == "else" and right == ":")):
                return -1
        if c not in " \t\f\\":
            right = c
    return -1


def word_ending_at(text: str, k: int) -> str:
    start = k
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return text[start : k + 1]


def _subscript_bracket(text: str, j: int) -> bool:
    """Whether the ``[`` at ``text[j]`` may open a subscript: it follows an operand (a name
    that is no keyword, a literal, a closing bracket), not an operator or a keyword."""
    k = back(text, j)
    if k is None:
        return True
    if k < 0 or text[k] in _NOT_OPERAND_END:
        return False
    if not (text[k].isalnum() or text[k] == "_"):
        return True
    return word_ending_at(text, k) not in _KEYWORDS


def _vararg_colon(text: str, k: int) -> bool:
    """Whether the ``:`` at ``text[k]`` may follow ``*name``."""
    end = back(text, k)
    if end is None:
        return True
    if end < 0 or not (text[end].isalnum() or text[end] == "_"):
        return False  # no name before the colon
    p = back(text, end + 1 - len(word_ending_at(text, end)))
    return p is None or (p >= 0 and text[p] == "*")


def star_lines(text: str) -> set[int]:
    """The lines of ``text`` that may hold a star expression directly in a subscript (PEP 646,
    the line of its ``*``) or an ``except*``: every single ``*`` but those that provably are
    something else."""
    if "\r" in text:  # the parser's line breaks
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    gap = GAP_RE.match
    n = len(text)
    found: list[int] = []
    i = text.find("*")
    while i >= 0:
        star, i = i, text.find("*", i + 1)
        if i == star + 1:  # `**`: unpacking a mapping, or a power
            i = text.find("*", i + 1)
            continue
        if _star_may_subscript(text, star, gap, n):
            found.append(star)
    return {text.count("\n", 0, star) + 1 for star in found}


def _star_may_subscript(text: str, star: int, gap: Callable[..., Any], n: int) -> bool:
    k = back(text, star)
    if k is None:
        return True
    if k < 0:
        return False
    c = text[k]
    if c == ":":  # `*args: *Ts`?
        return _vararg_colon(text, k)
    if c.isalnum() or c == "_":
        return word_ending_at(text, k) == "except"  # `except*` (the gate's too)
    if c not in "[(,":
        return False  # a product
    after = gap(text, star + 1).end()
    if after < n and text[after] in ",)":
        return False  # the bare `*` before keyword-only parameters
    j = k
    if c == ",":
        opener = _opener(text, k)
        if opener is None:
            return True
        if opener < 0:
            return False
        j = opener
    while text[j] == "(":  # parentheses around the slice's tuple, or a call's
        p = back(text, j)
        if p is None:
            return True
        if p < 0 or text[p] not in "([":
            break
        j = p
    return text[j] == "[" and _subscript_bracket(text, j)
