"""MSE506: syntax and standard-library APIs newer than the enclave's Python.

Three sources of findings:

- syntax, from the stdlib ``ast`` when the running interpreter parses the file (``match``,
  ``except*``, PEP 695, PEP 701 f-strings...), or from libcst when it does not but a newer
  Python would (:func:`unparsable_features`, called by the engine instead of reporting MSE001);
- stdlib additions (rules/compat.toml ``[additions]``), resolved through scopes: imports,
  attribute chains, keyword parameters of calls; guarded uses are left alone;
- PEP 604 unions and PEP 585 generics where Python evaluates them at run time.
"""

from __future__ import annotations

import ast
import keyword
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from fnmatch import fnmatchcase
from typing import Any, Optional, Union

from mse_lint.analysis.astwalk import children, walk
from mse_lint.analysis.scope import ModuleIndex, Ref, Value
from mse_lint.checks import FileContext, name_needs
from mse_lint.checks import words as file_words
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.record import Frozen, replace
from mse_lint.core.record import set_field as _set

Version = tuple[int, int]

_EFFECT_SYNTAX = "a SyntaxError when the module is imported, so the app never starts"
_EFFECT_MODULE = "an ImportError when this runs"
_EFFECT_ATTR = "an AttributeError or ImportError when this runs"
_EFFECT_PARAM = "a TypeError (unexpected keyword argument) when this runs"
_EFFECT_TYPE = "a TypeError when this is evaluated"
# Handlers that make a failed import or attribute access harmless
_GUARD_EXCEPTIONS = frozenset(
    {
        "ImportError",
        "ModuleNotFoundError",
        "AttributeError",
        "NameError",
        "TypeError",
        "Exception",
        "BaseException",
    }
)
_DYNAMIC_ACCESS = frozenset(
    {"builtins.getattr", "builtins.__import__", "importlib.import_module", "importlib.__import__"}
)
# what resolves to a member of _DYNAMIC_ACCESS is named so somewhere in the text
_DYNAMIC_WORDS = frozenset({"getattr", "__import__", "import_module"})
_STRING_START = re.compile(r"([rRbBuUfFtT]{0,3})('''|\"\"\"|'|\")")


def _version(text: str) -> Version:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _label(v: Version) -> str:
    return f"{v[0]}.{v[1]}"


class Feature(Frozen):
    """A construct newer than some Python: where, what the message calls it, since when."""

    key: str
    needs: Version
    construct: str
    span: Span
    effect: str = _EFFECT_SYNTAX
    # first line of the statement holding it: a suppression comment there applies too
    stmt_line: int = 0

    def __init__(
        self,
        key: str,
        needs: Version,
        construct: str,
        span: Span,
        effect: str = _EFFECT_SYNTAX,
        stmt_line: int = 0,
    ) -> None:
        _set(self, "key", key)
        _set(self, "needs", needs)
        _set(self, "construct", construct)
        _set(self, "span", span)
        _set(self, "effect", effect)
        _set(self, "stmt_line", stmt_line)


class Addition(Frozen):
    name: str
    python: Version
    kind: str  # attr | module | param
    param: str = ""

    def __init__(self, name: str, python: Version, kind: str, param: str = "") -> None:
        _set(self, "name", name)
        _set(self, "python", python)
        _set(self, "kind", kind)
        _set(self, "param", param)


class CompatData:
    """rules/compat.toml, indexed."""

    def __init__(self, catalog: Catalog) -> None:
        data = catalog.data("compat")
        self.syntax: dict[str, tuple[Version, str]] = {
            k: (_version(v["python"]), v["what"]) for k, v in data.get("syntax", {}).items()
        }
        types = data.get("types", {})
        self.generic_classes: tuple[str, ...] = tuple(types.get("generic-classes", ()))
        self.type_names: tuple[str, ...] = tuple(types.get("type-names", ()))
        self.attrs: dict[str, Addition] = {}
        self.modules: dict[str, Addition] = {}
        self.params: dict[str, list[Addition]] = {}
        for raw in data.get("additions", {}).get("api", ()):
            a = Addition(raw["name"], _version(raw["python"]), raw.get("kind", "attr"))
            if a.kind == "module":
                self.modules[a.name] = a
            elif a.kind == "param":
                a = Addition(a.name, a.python, a.kind, raw["param"])
                self.params.setdefault(a.name, []).append(a)
            else:
                self.attrs[a.name] = a

    def feature(self, key: str, span: Span, code: Optional[str] = None) -> Feature:
        needs, what = self.syntax[key]
        effect = _EFFECT_TYPE if key in ("union", "generic") else _EFFECT_SYNTAX
        return Feature(key, needs, f"`{code}`, {what}," if code else what, span, effect)

    def module(self, name: str) -> Optional[Addition]:
        """The addition ``name`` or one of its parent packages is."""
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            found = self.modules.get(".".join(parts[:i]))
            if found is not None:
                return found
        return None


# -- source positions ------------------------------------------------------------------------
class _Source:
    def __init__(self, text: str) -> None:
        self.lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._bytes: dict[int, bytes] = {}

    def _line(self, n: int) -> bytes:
        if n not in self._bytes:
            self._bytes[n] = self.lines[n - 1].encode("utf-8") if 1 <= n <= len(self.lines) else b""
        return self._bytes[n]

    def segment(self, l1: int, c1: int, l2: int, c2: int) -> str:
        """Text between two ast positions (1-based lines, UTF-8 byte columns)."""
        if l1 == l2:
            return self._line(l1)[c1:c2].decode("utf-8", "replace")
        parts = [self._line(l1)[c1:]]
        parts.extend(self._line(n) for n in range(l1 + 1, l2))
        parts.append(self._line(l2)[:c2])
        return b"\n".join(parts).decode("utf-8", "replace")

    def col(self, line: int, byte_col: int) -> int:
        return len(self._line(line)[:byte_col].decode("utf-8", "ignore")) + 1

    def span(self, l1: int, c1: int, l2: int, c2: int) -> Span:
        return Span(l1, self.col(l1, c1), l2, self.col(l2, c2))

    def node_span(self, node: ast.AST) -> Span:
        l1 = getattr(node, "lineno", 1)
        c1 = getattr(node, "col_offset", 0)
        l2 = getattr(node, "end_lineno", None) or l1
        c2 = getattr(node, "end_col_offset", None)
        return self.span(l1, c1, l2, c2 if c2 is not None else c1 + 1)


# -- f-strings (PEP 701) -----------------------------------------------------------------------
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


_FSTRING_KEYS = {
    "quotes": "fstring-quotes",
    "backslash": "fstring-backslash",
    "comment": "fstring-comment",
    "newline": "fstring-newline",
}


# -- syntax on the stdlib ast --------------------------------------------------------------------
def _dotted(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _plain_decorator(node: ast.expr) -> bool:
    """Python 3.8's grammar: a dotted name, optionally called."""
    if isinstance(node, ast.Call):
        node = node.func
    return _dotted(node)


def _has_star(node: ast.expr) -> bool:
    if isinstance(node, ast.Starred):
        return True
    return isinstance(node, ast.Tuple) and any(isinstance(e, ast.Starred) for e in node.elts)


def _paren_with(node: Union[ast.With, ast.AsyncWith], src: _Source) -> bool:
    """``with (a as b, c):``: the parentheses enclose the items, not one expression."""
    if not node.items or not node.body:
        return False
    first, last = node.items[0], node.items[-1]
    if len(node.items) == 1 and first.optional_vars is None:
        return False
    start = first.context_expr
    head = src.segment(node.lineno, node.col_offset, start.lineno, start.col_offset)
    if "(" not in head:
        return False
    end = last.optional_vars if last.optional_vars is not None else last.context_expr
    body = node.body[0]
    tail = src.segment(
        end.end_lineno or end.lineno, end.end_col_offset or 0, body.lineno, body.col_offset
    )
    tail = tail.split(":", 1)[0]
    return ")" in tail


# What the text of a file holding each statement-level construct must contain (a superset:
# whitespace, line continuations and comments between the tokens allowed; no leading ``\b``,
# which keeps re's literal-prefix search fast), and the oldest
# Python that parses the construct at all: ast_features cannot find it in a tree this
# interpreter built when it is older, nor when the text has no match.
# A comment runs to the end of its line (the lookahead): otherwise "# ####" splits into
# comments in exponentially many ways and a failing search never ends.
_GAP = r"(?:[\s\\]|#[^\n]*(?=\n|\Z))*"
_SYNTAX_TEXT: dict[str, tuple[str, Version]] = {
    "match": (r"match\b", (3, 10)),
    "except-star": (r"except" + _GAP + r"\*", (3, 11)),
    "except-bare-tuple": (r"except\b", (3, 14)),
    # `type X = ...`, `type X[T] = ...` (not `type(x)`, nor a name `type`)
    "type-alias": (r"type" + _GAP + r"\w+" + _GAP + r"[=\[]", (3, 12)),
    "type-params": (r"(?:def|class)" + _GAP + r"\w+" + _GAP + r"\[", (3, 12)),
    "type-param-default": (r"(?:def|class)" + _GAP + r"\w+" + _GAP + r"\[", (3, 13)),
    "tstring": (r"(?<!\w)(?:[rR]?[tT]|[tT][rR])['\"]", (3, 14)),
    "decorator": (r"@", (3, 0)),
    "paren-with": (r"with\b", (3, 0)),
    # star-subscript (`x[*a]`, `*args: *Ts`): star_lines, not a pattern
}
_GAP_RE = re.compile(_GAP)
_FSTRING_PREFIX = re.compile(r"(?<![\w])[rRbB]?[fFtT][rR]?['\"]")
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


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


def _back(text: str, i: int) -> Optional[int]:
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


def _word_ending_at(text: str, k: int) -> str:
    start = k
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return text[start : k + 1]


def _subscript_bracket(text: str, j: int) -> bool:
    """Whether the ``[`` at ``text[j]`` may open a subscript: it follows an operand (a name
    that is no keyword, a literal, a closing bracket), not an operator or a keyword."""
    k = _back(text, j)
    if k is None:
        return True
    if k < 0 or text[k] in _NOT_OPERAND_END:
        return False
    if not (text[k].isalnum() or text[k] == "_"):
        return True
    return _word_ending_at(text, k) not in _KEYWORDS


def _vararg_colon(text: str, k: int) -> bool:
    """Whether the ``:`` at ``text[k]`` may follow ``*name``."""
    end = _back(text, k)
    if end is None:
        return True
    if end < 0 or not (text[end].isalnum() or text[end] == "_"):
        return False  # no name before the colon
    p = _back(text, end + 1 - len(_word_ending_at(text, end)))
    return p is None or (p >= 0 and text[p] == "*")


def star_lines(text: str) -> set[int]:
    """The lines of ``text`` that may hold a star expression directly in a subscript (PEP 646,
    the line of its ``*``) or an ``except*``: every single ``*`` but those that provably are
    something else."""
    if "\r" in text:  # the parser's line breaks
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    gap = _GAP_RE.match
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
    k = _back(text, star)
    if k is None:
        return True
    if k < 0:
        return False
    c = text[k]
    if c == ":":  # `*args: *Ts`?
        return _vararg_colon(text, k)
    if c.isalnum() or c == "_":
        return _word_ending_at(text, k) == "except"  # `except*` (the gate's too)
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
        p = _back(text, j)
        if p is None:
            return True
        if p < 0 or text[p] not in "([":
            break
        j = p
    return text[j] == "[" and _subscript_bracket(text, j)


def _statements(tree: ast.AST) -> Iterator[ast.AST]:
    """Every statement (and except handler, match case), without descending into expressions:
    most new syntax is a statement, and expressions are most of a tree."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        for attr in _BLOCKS:
            block = getattr(node, attr, None)
            if block:
                stack.extend(reversed(block))


def ast_features(
    tree: ast.AST,
    text: str,
    data: CompatData,
    target: Version = (3, 8),
    stars: Optional[set[int]] = None,
    fstrings: Optional[bool] = None,
) -> Iterator[Feature]:
    """Newer than ``target`` syntax in a file the running interpreter parsed. ``stars`` and
    ``fstrings``: what :func:`star_lines` and :func:`fstring_issue_possible` say of the text,
    when the caller knows it already."""
    src = _Source(text)
    running = sys.version_info[:2]
    # Expression-level syntax: walk every expression only for f-strings and t-strings; stars
    # in subscripts are looked for in the statements on the lines of the text that may hold one
    if fstrings is None:
        newer = target < min(v for k, (v, _) in data.syntax.items() if k.startswith("fstring-"))
        fstrings = running >= (3, 12) and newer and fstring_issue_possible(text)
    tstrings = running >= (3, 14)
    walk_all = bool(fstrings or tstrings)
    if stars is None:
        newer = target < data.syntax["star-subscript"][0]
        stars = star_lines(text) if newer and not walk_all else set()
    if walk_all:
        stars = set()
    for node in _statements(tree):
        if stars and not isinstance(node, ast.Module):
            # a match case has no lines: its guard is looked at
            top: Optional[int] = getattr(node, "lineno", None)
            bottom: int = getattr(node, "end_lineno", None) or top or 0
            if top is None or any(top <= line <= bottom for line in stars):
                yield from _star_subscripts(node, src, data)
        kind = type(node).__name__
        if kind == "Match":
            subject = node.subject  # type: ignore[attr-defined]
            span = src.span(
                node.lineno,  # type: ignore[attr-defined]
                node.col_offset,  # type: ignore[attr-defined]
                subject.end_lineno,
                subject.end_col_offset,
            )
            yield data.feature("match", span)
        elif kind == "TryStar":
            for h in node.handlers:  # type: ignore[attr-defined]
                end = h.type if h.type is not None else h
                span = src.span(h.lineno, h.col_offset, end.end_lineno, end.end_col_offset)
                yield data.feature("except-star", span)
        elif isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple):
            t = node.type
            if src.segment(t.lineno, t.col_offset, t.lineno, t.col_offset + 1) != "(":
                yield data.feature("except-bare-tuple", src.node_span(t))
        elif kind == "TypeAlias":
            yield data.feature("type-alias", src.node_span(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            params = getattr(node, "type_params", None) or []
            if params:
                a, b = params[0], params[-1]
                span = src.span(a.lineno, a.col_offset, b.end_lineno, b.end_col_offset)
                yield data.feature("type-params", span)
                for p in params:
                    if getattr(p, "default_value", None) is not None:
                        yield data.feature("type-param-default", src.node_span(p))
            for d in node.decorator_list:
                if not _plain_decorator(d):
                    yield data.feature("decorator", src.node_span(d))
            if not isinstance(node, ast.ClassDef):
                va = node.args.vararg
                if va is not None and va.annotation is not None and _has_star(va.annotation):
                    yield data.feature("star-subscript", src.node_span(va.annotation))
        elif isinstance(node, (ast.With, ast.AsyncWith)) and _paren_with(node, src):
            first = node.items[0].context_expr
            span = src.span(node.lineno, node.col_offset, first.lineno, first.col_offset)
            yield data.feature("paren-with", span)
    if walk_all:
        yield from _expression_features(tree, src, data)


def _star_subscripts(stmt: ast.AST, src: _Source, data: CompatData) -> Iterator[Feature]:
    """``x[*a]`` in the expressions of one statement (not in the statements of its blocks)."""
    for name in stmt._fields:
        if name in _BLOCKS:
            continue
        value = getattr(stmt, name, None)
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, ast.AST):
                for node in walk(item):
                    if isinstance(node, ast.Subscript) and _has_star(node.slice):
                        yield data.feature("star-subscript", src.node_span(node))


def _expression_features(tree: ast.AST, src: _Source, data: CompatData) -> Iterator[Feature]:
    strings_done: list[tuple[int, int, int, int]] = []
    for node in walk(tree):
        if isinstance(node, ast.Subscript) and _has_star(node.slice):
            yield data.feature("star-subscript", src.node_span(node))
        elif type(node).__name__ == "TemplateStr":
            yield data.feature("tstring", src.node_span(node))
        elif isinstance(node, ast.JoinedStr) and sys.version_info >= (3, 12):
            # older parsers reject PEP 701 outright, and place f-string parts approximately
            key = (node.lineno, node.col_offset, node.end_lineno or 0, node.end_col_offset or 0)
            if any(_inside(key, done) for done in strings_done):
                continue
            strings_done.append(key)
            issues = fstring_issues(src.segment(*key))
            if issues:
                yield data.feature(_FSTRING_KEYS[issues[0]], src.span(*key))


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return (b[0], b[1]) <= (a[0], a[1]) and (a[2], a[3]) <= (b[2], b[3])


# -- syntax on libcst, for files the running interpreter cannot parse ----------------------------
_VISITOR: list[Any] = []


def _cst_visitor() -> Any:
    """The libcst visitor class of :func:`cst_features`, made once (libcst is imported only
    for files the running Python cannot parse; a class made per call would be garbage with
    reference cycles, which the engine's workers leave to reference counting)."""
    if _VISITOR:
        return _VISITOR[0]
    import libcst as cst

    class Visitor(cst.CSTVisitor):
        def __init__(
            self,
            module: Any,
            data: CompatData,
            span: Callable[..., Span],
        ) -> None:
            super().__init__()
            self.module = module
            self.data = data
            self.span = span
            self.found: list[Feature] = []

        def visit_Match(self, node: cst.Match) -> None:
            self.found.append(self.data.feature("match", self.span(node, node.subject)))

        def visit_TryStar(self, node: cst.TryStar) -> None:
            for h in node.handlers:
                self.found.append(self.data.feature("except-star", self.span(h, h.type)))

        def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
            t = node.type
            if isinstance(t, cst.Tuple) and not t.lpar:
                self.found.append(self.data.feature("except-bare-tuple", self.span(t)))

        def visit_TypeAlias(self, node: cst.TypeAlias) -> None:
            self.found.append(self.data.feature("type-alias", self.span(node)))

        def visit_TypeParameters(self, node: cst.TypeParameters) -> None:
            self.found.append(self.data.feature("type-params", self.span(node)))

        def visit_TypeParam(self, node: cst.TypeParam) -> None:
            if node.default is not None:
                self.found.append(self.data.feature("type-param-default", self.span(node)))

        def visit_Decorator(self, node: cst.Decorator) -> None:
            if not _cst_plain(node.decorator):
                self.found.append(self.data.feature("decorator", self.span(node.decorator)))

        def visit_With(self, node: cst.With) -> None:
            parens = isinstance(node.lpar, cst.LeftParen)
            if parens and (len(node.items) > 1 or node.items[0].asname is not None):
                self.found.append(self.data.feature("paren-with", self.span(node, node.items[0])))

        def visit_SubscriptElement(self, node: cst.SubscriptElement) -> None:
            s = node.slice
            if isinstance(s, cst.Index) and getattr(s, "star", None):
                self.found.append(self.data.feature("star-subscript", self.span(node)))

        def visit_TemplatedString(self, node: cst.TemplatedString) -> bool:
            self.found.append(self.data.feature("tstring", self.span(node)))
            return False

        def visit_FormattedString(self, node: cst.FormattedString) -> bool:
            issues = fstring_issues(self.module.code_for_node(node))
            if issues:
                self.found.append(self.data.feature(_FSTRING_KEYS[issues[0]], self.span(node)))
            return False  # nested f-strings are part of this one's verdict

    _VISITOR.append(Visitor)
    return Visitor


def _cst_plain(expr: Any) -> bool:
    """A dotted name, or a call of one: the decorators every Python accepts."""
    import libcst as cst

    if isinstance(expr, cst.Call):
        expr = expr.func
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name)


def cst_features(text: str, data: CompatData) -> Optional[list[Feature]]:
    """Newer syntax found by libcst, or None when libcst cannot parse the file either."""
    try:
        import libcst as cst
        from libcst.metadata import MetadataWrapper, PositionProvider
    except ImportError:  # pragma: no cover - libcst is a dependency
        return None
    try:
        module = cst.parse_module(text)
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        positions = wrapper.resolve(PositionProvider)
    except RecursionError:
        raise  # deep but maybe valid: the engine retries on a larger stack
    except Exception:  # libcst's ParserSyntaxError, or a plain SyntaxError for bad encodings
        return None

    def span(node: cst.CSTNode, end: Optional[cst.CSTNode] = None) -> Span:
        a = positions[node]
        b = positions[end] if end is not None else a
        return Span(a.start.line, a.start.column + 1, b.end.line, b.end.column + 1)

    visitor = _cst_visitor()(wrapper.module, data, span)
    wrapper.module.visit(visitor)
    found: list[Feature] = visitor.found
    found.sort(key=lambda f: f.span)
    return found


def unparsable_features(text: str, exc: SyntaxError, catalog: Catalog) -> Optional[list[Feature]]:
    """For a file the running interpreter rejects: the newer constructs in it, when the
    rejection is one of them (libcst parses the file, and the interpreter's error lies in a
    construct newer than itself). None means a genuine syntax error."""
    data = CompatData(catalog)
    features = cst_features(text, data)
    if not features:
        return None
    here = (sys.version_info[0], sys.version_info[1])
    line = exc.lineno or 0
    newer = [f for f in features if f.needs > here]
    # A genuine error before the first newer construct is what the interpreter tripped on.
    if not any(f.span.line <= line <= f.span.end_line for f in newer):
        first = min((f.span.line for f in newer), default=None)
        if first is None or line < first:
            return None
    return features


# -- guards --------------------------------------------------------------------------------------
class _Guard(Frozen):
    first: int
    last: int
    version: Optional[Version] = None  # runtime >= version inside; None: any failure handled
    names: frozenset[str] = frozenset()  # hasattr(module, "name") checks: qualified names

    def __init__(
        self,
        first: int,
        last: int,
        version: Optional[Version] = None,
        names: frozenset[str] = frozenset(),
    ) -> None:
        _set(self, "first", first)
        _set(self, "last", last)
        _set(self, "version", version)
        _set(self, "names", names)


def _lines(body: Sequence[ast.stmt]) -> tuple[int, int]:
    return body[0].lineno, max(s.end_lineno or s.lineno for s in body)


class _Guards:
    def __init__(self, tree: ast.Module, index: ModuleIndex) -> None:
        self.index = index
        self.items: list[_Guard] = []
        for node in walk(tree):
            if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                handlers = node.handlers  # type: ignore[attr-defined]
                body = node.body  # type: ignore[attr-defined]
                if body and any(self._catches(h) for h in handlers):
                    self.items.append(_Guard(*_lines(body)))
            elif isinstance(node, ast.If):
                yes, no = self._version_test(node.test)
                if yes is not None and node.body:
                    self.items.append(_Guard(*_lines(node.body), version=yes))
                if no is not None and node.orelse:
                    self.items.append(_Guard(*_lines(node.orelse), version=no))
                names = self._hasattr_names(node.test)
                if names and node.body:
                    self.items.append(_Guard(*_lines(node.body), names=names))

    def _catches(self, h: ast.ExceptHandler) -> bool:
        if h.type is None:
            return True
        types = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        return any(isinstance(t, ast.Name) and t.id in _GUARD_EXCEPTIONS for t in types)

    def _is_version_info(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Subscript):
            node = node.value
        if not isinstance(node, (ast.Name, ast.Attribute)):
            return False
        values = self.index.resolve(node, self.index.module, None)
        return any(v.qname == "sys.version_info" for v in values)

    def _version_test(self, test: ast.expr) -> tuple[Optional[Version], Optional[Version]]:
        """(version the body is guarded for, version the else branch is guarded for)."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            yes, no = self._version_test(test.operand)
            return no, yes
        if isinstance(test, ast.Name):
            # PY311 = sys.version_info >= (3, 11) ... if PY311:
            bindings = self.index.reaching_bindings(self.index.module, test.id, None)
            if len(bindings) == 1 and isinstance(bindings[0].expr, ast.Compare):
                return self._version_test(bindings[0].expr)
            return None, None
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
            for v in test.values:
                yes, _ = self._version_test(v)
                if yes is not None:
                    return yes, None
            return None, None
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
            return None, None
        left, op, right = test.left, test.ops[0], test.comparators[0]
        if self._is_version_info(right):
            left, right = right, left
            flip = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
            op = flip.get(type(op), type(op))()
        if not self._is_version_info(left):
            return None, None
        try:
            value = ast.literal_eval(right)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None, None
        if not (isinstance(value, tuple) and len(value) >= 2):
            return None, None
        if not all(isinstance(p, int) for p in value[:2]):
            return None, None
        version = (value[0], value[1])
        if isinstance(op, (ast.GtE, ast.Gt)):
            return version, None
        if isinstance(op, ast.Lt):
            return None, version
        return None, None

    def _hasattr_names(self, test: ast.expr) -> frozenset[str]:
        out: set[str] = set()
        parts = test.values if isinstance(test, ast.BoolOp) else [test]
        for p in parts:
            if (
                isinstance(p, ast.Call)
                and isinstance(p.func, ast.Name)
                and p.func.id == "hasattr"
                and len(p.args) == 2
                and isinstance(p.args[1], ast.Constant)
                and isinstance(p.args[1].value, str)
            ):
                for v in self.index.resolve(p.args[0], self.index.module, None):
                    out.add(f"{v.qname}.{p.args[1].value}")
        return frozenset(out)

    def covers(self, line: int, needs: Version, qname: str) -> bool:
        for g in self.items:
            if not g.first <= line <= g.last:
                continue
            if g.names:
                if qname in g.names:
                    return True
            elif g.version is None or g.version >= needs:
                return True
        return False


# -- run-time types (PEP 585 / 604) --------------------------------------------------------------
def _future_annotations(tree: ast.Module) -> bool:
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            if any(a.name == "annotations" for a in stmt.names):
                return True
        elif not (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ) and not isinstance(stmt, ast.ImportFrom):
            break
    return False


def _type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def runtime_roots(tree: ast.Module, evaluated: bool) -> Iterator[tuple[ast.expr, bool]]:
    """Expressions Python evaluates, with whether each is an annotation. Annotations count
    only when ``evaluated`` (no ``from __future__ import annotations``, target before 3.14),
    and never those of local variables; ``if TYPE_CHECKING:`` bodies never run."""
    stack: list[tuple[ast.AST, bool]] = [(s, False) for s in reversed(tree.body)]
    while stack:
        node, in_func = stack.pop()
        if isinstance(node, ast.If) and _type_checking(node.test):
            stack.extend((s, in_func) for s in reversed(node.orelse))
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from ((d, False) for d in node.decorator_list)
            args = node.args
            yield from ((d, False) for d in args.defaults)
            yield from ((d, False) for d in args.kw_defaults if d is not None)
            if evaluated:
                everything = [*args.posonlyargs, *args.args, *args.kwonlyargs]
                everything += [a for a in (args.vararg, args.kwarg) if a is not None]
                for a in everything:
                    if a.annotation is not None:
                        yield a.annotation, True
                if node.returns is not None:
                    yield node.returns, True
            stack.extend((s, True) for s in reversed(node.body))
            continue
        if isinstance(node, ast.ClassDef):
            yield from ((e, False) for e in (*node.decorator_list, *node.bases))
            yield from ((k.value, False) for k in node.keywords)
            stack.extend((s, False) for s in reversed(node.body))
            continue
        if isinstance(node, ast.AnnAssign):
            if evaluated and not in_func:
                yield node.annotation, True
            if not isinstance(node.target, ast.Name):
                yield node.target, False
            if node.value is not None:
                yield node.value, False
            continue
        if type(node).__name__ in ("TypeAlias",):
            continue
        for child in reversed(children(node)):
            if isinstance(child, ast.expr):
                yield child, False
            elif not isinstance(child, (ast.expr_context, ast.operator)):
                stack.append((child, in_func))


def _annotations(tree: ast.Module, lines: Optional[frozenset[int]] = None) -> Iterator[ast.expr]:
    """The annotations among :func:`runtime_roots` ``(tree, True)``, in the same order: those
    of function parameters and returns, and of variables outside functions; statements only
    are visited (expressions hold no annotation). ``lines``: only in statements that span one
    of them."""
    stack: list[tuple[ast.AST, bool]] = [(s, False) for s in reversed(tree.body)]
    while stack:
        node, in_func = stack.pop()
        if lines is not None:
            top: Optional[int] = getattr(node, "lineno", None)  # a match case has none
            if top is not None:
                bottom: int = getattr(node, "end_lineno", None) or top
                if not any(top <= line <= bottom for line in lines):
                    continue
        if isinstance(node, ast.If) and _type_checking(node.test):
            stack.extend((s, in_func) for s in reversed(node.orelse))
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            everything = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            everything += [a for a in (args.vararg, args.kwarg) if a is not None]
            for a in everything:
                if a.annotation is not None:
                    yield a.annotation
            if node.returns is not None:
                yield node.returns
            stack.extend((s, True) for s in reversed(node.body))
            continue
        if isinstance(node, ast.ClassDef):
            stack.extend((s, False) for s in reversed(node.body))
            continue
        if isinstance(node, ast.AnnAssign):
            if not in_func:
                yield node.annotation
            continue
        for name in reversed(node._fields):
            if name in _BLOCKS:
                block = getattr(node, name, None)
                if block:
                    stack.extend((s, in_func) for s in reversed(block))


# -- the check -----------------------------------------------------------------------------------
def _normal(qname: str) -> str:
    """A method reached through an instance names the class's method: ``pathlib.Path().walk``
    is ``pathlib.Path.walk``."""
    return qname.replace("().", ".")


# -- where an addition can be reached from, in the text ---------------------------------------
# An import statement's names: up to its closing parenthesis, or to the end of its logical line
_IMPORT_NAMES = re.compile(
    r"import\b(?:[ \t\f]|\\[\s\S])*(?:\((?:[^#)]|#[^\n]*)*\)?|(?:[^\n\\#;]|\\[\s\S])*)"
)
_WORD_CHAR = re.compile(r"\w")
_WORD_END: dict[str, re.Pattern[str]] = {}  # no leading \b: re then searches for the literal


class _Reach:
    """Where a name of a catalogued addition stands in one file's text (line breaks made
    ``\n``): the tests of :meth:`CompatCheck._api_needs`, each a superset of what the scope
    index can resolve. Whatever cannot be told for sure counts as reachable."""

    def __init__(self, text: str) -> None:
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.text = text
        self._imports: Optional[list[tuple[int, int]]] = None
        self._memo: dict[tuple[str, str], bool] = {}

    def _occurrences(self, word: str) -> Iterator[int]:
        """Where ``word`` stands as a whole word."""
        text = self.text
        pattern = _WORD_END.get(word)
        if pattern is None:
            pattern = _WORD_END[word] = re.compile(re.escape(word) + r"\b")
        for m in pattern.finditer(text):
            i = m.start()
            if i == 0 or not _WORD_CHAR.match(text, i - 1):
                yield i

    def _in_import(self, i: int) -> bool:
        if self._imports is None:
            self._imports = [(m.start(), m.end()) for m in _IMPORT_NAMES.finditer(self.text)]
        return any(start < i < end for start, end in self._imports)

    def dot_lines(self, names: Iterable[str]) -> Iterator[int]:
        """The lines where one of ``names`` may stand after a dot."""
        text = self.text
        for name in names:
            for i in self._occurrences(name):
                if self._at("dot", name, i):
                    yield text.count("\n", 0, i) + 1

    def test(self, how: str, word: str) -> bool:
        key = (how, word)
        found = self._memo.get(key)
        if found is None:
            found = any(self._at(how, word, i) for i in self._occurrences(word))
            self._memo[key] = found
        return found

    def _at(self, how: str, word: str, i: int) -> bool:
        text = self.text
        if how == "keyword":  # `param=`, not `param ==`
            gap = _GAP_RE.match(text, i + len(word))
            j = gap.end() if gap else i + len(word)
            return text.startswith("=", j) and not text.startswith("==", j)
        k = _back(text, i)
        if k is None:
            return True
        if k < 0:
            return False
        c = text[k]
        if how == "dot":
            return c == "."
        if c == "'" or c == '"':
            return True  # `import_module("m")`, `getattr(x, "name")`
        if c == ".":
            return how == "name"
        if c.isalnum() or c == "_":
            before = _word_ending_at(text, k)
            return before == "import" or (how == "module" and before == "from")
        return c in ",(" and self._in_import(i)


# the words a file must hold for one addition, and how some of them must stand (_Reach.test)
_ApiNeed = tuple[frozenset[str], tuple[tuple[str, str], ...], str, int]
# last names of attributes, keyword parameters, builtins (CompatCheck._ref_names), and the lines
# where one of those names may stand after a dot (in an annotation, say; None: anywhere)
_Names = tuple[frozenset[str], frozenset[str], frozenset[str], Optional[frozenset[int]]]
# patterns of which a file's text must match one, whether star_lines and whether
# fstring_issue_possible may find something newer
_Gate = tuple[tuple[re.Pattern[str], ...], bool, bool]


class CompatCheck:
    codes = frozenset({"MSE506"})

    def __init__(self, catalog: Catalog, settings: object = None) -> None:
        self.data = CompatData(catalog)
        self._pairs: dict[Version, frozenset[tuple[str, str]]] = {}
        self._names: dict[Version, _Names] = {}
        self._needs: dict[Version, Optional[list[_ApiNeed]]] = {}
        self._gates: dict[Version, Optional[_Gate]] = {}
        self._keys: dict[Version, dict[str, list[_ApiNeed]]] = {}

    def _api_pairs(self, target: Version) -> frozenset[tuple[str, str]]:
        """(module, name) word pairs: a file can use an addition newer than ``target`` only if
        its text holds both the top-level module (imported under some name) and the
        addition's own name (``typing`` and ``Self``, ``pathlib`` and ``walk``)."""
        if target not in self._pairs:
            pairs = set()
            for a in (*self.data.attrs.values(), *self.data.modules.values()):
                if a.python > target:
                    top, last = a.name.split(".")[0], a.name.rsplit(".", 1)[-1]
                    pairs.add((last if top == "builtins" else top, last))
            for params in self.data.params.values():
                for p in params:
                    if p.python > target:
                        top = p.name.split(".")[0]
                        last = p.name.rsplit(".", 1)[-1]
                        pairs.add((last if top == "builtins" else top, p.param))
            self._pairs[target] = frozenset(pairs)
        return self._pairs[target]

    def _ref_names(self, target: Version) -> _Names:
        """The last names of attribute additions newer than ``target``, their keyword
        parameters' names, the builtins among them (and None: no line known)."""
        found = self._names.get(target)
        if found is None:
            attrs = [a.name for a in self.data.attrs.values() if a.python > target]
            last = frozenset(n.rsplit(".", 1)[-1] for n in attrs)
            found = self._names[target] = (
                last,
                frozenset(
                    p.param for ps in self.data.params.values() for p in ps if p.python > target
                ),
                frozenset(n.split(".", 1)[1] for n in attrs if n.startswith("builtins.")),
                None,
            )
        return found

    def _api_needs(self, target: Version) -> Optional[list[_ApiNeed]]:
        """For each addition newer than ``target``: the words a file's text must hold for the
        scope index to resolve a reference to it (every part of a name the index resolves
        comes from the text, :func:`checks.name_needs`), the tests of :class:`_Reach` it must
        pass too, each a place that addition can be reached from: its top-level module
        imported (``import m``, ``from m``, or a string naming it for ``import_module``), its
        own name after a dot, in an import list or in a string (``getattr``), its keyword
        parameter followed by ``=`` (builtins are reached by their bare names); and which of
        the sets of :meth:`_ref_names` it is in (0: last names, 1: keyword parameters, 2:
        builtins; -1: none, a module). None when a name is not made of word characters."""
        if target not in self._needs:
            entries: list[_ApiNeed] = []
            additions = [
                (a.name, a.kind, "")
                for a in (*self.data.attrs.values(), *self.data.modules.values())
                if a.python > target
            ]
            additions += [
                (p.name, p.kind, p.param)
                for params in self.data.params.values()
                for p in params
                if p.python > target
            ]
            for name, kind, param in additions:
                needs = name_needs([f"{name}.{param}" if param else name])
                if needs is None:
                    self._needs[target] = None
                    return None
                top, last = name.split(".")[0], name.rsplit(".", 1)[-1]
                tests: list[tuple[str, str]] = []
                if top != "builtins":
                    tests.append(("module", top))
                    if kind == "attr":
                        tests.append(("name", last))
                if param:
                    tests.append(("keyword", param))
                entries.append((needs[0][0], tuple(tests), last, -1))
                if kind == "attr":
                    entries[-1] = (needs[0][0], tuple(tests), last, 0)
                    if top == "builtins":  # in both sets
                        entries.append((needs[0][0], tuple(tests), last, 2))
                elif kind == "param":
                    entries[-1] = (needs[0][0], tuple(tests), param, 1)
            self._needs[target] = entries
            by_name: dict[str, list[_ApiNeed]] = {}
            for e in entries:
                by_name.setdefault(e[2], []).append(e)
            self._keys[target] = by_name
        return self._needs[target]

    def _may_use_api(self, text: str, target: Version) -> Optional[_Names]:
        """None when ``text`` cannot reach an addition newer than ``target``; else the names of
        :meth:`_ref_names` it may reach them through."""
        entries = self._api_needs(target)
        if entries is None:
            words = file_words(text)
            pairs = self._api_pairs(target)
            if any(top in words and last in words for top, last in pairs):
                return self._ref_names(target)
            return None
        words = file_words(text)
        by_name = self._keys[target]  # each entry's name is among its own words
        hits = by_name.keys() & words
        if not hits:
            return None
        reach: Optional[_Reach] = None
        names: tuple[set[str], set[str], set[str]] = (set(), set(), set())
        passed = False
        for need, tests, name, which in (e for key in hits for e in by_name[key]):
            if need <= words:
                if reach is None:
                    reach = _Reach(text)
                if all(reach.test(how, word) for how, word in tests):
                    passed = True
                    if which >= 0:
                        names[which].add(name)
        if not passed or reach is None:
            return None
        lines = frozenset(reach.dot_lines(names[0]))
        return frozenset(names[0]), frozenset(names[1]), frozenset(names[2]), lines

    def _syntax_gate(self, target: Version) -> Optional[_Gate]:
        """What the text of a file must hold for ast_features to find anything newer than
        ``target`` in it: a match of one of the patterns, or (when its flag is set) a star that
        :func:`star_lines` finds or an f-string :func:`fstring_issue_possible` accepts; None
        when any file may hold such syntax."""
        if target not in self._gates:
            running = sys.version_info[:2]
            parts: list[str] = []
            always = running >= (3, 14)  # t-strings: any string prefix, walked every time
            stars = fstrings = False
            for key, (needs, _) in self.data.syntax.items():
                if needs <= target or key in ("union", "generic"):
                    continue  # too old to report, or the run-time type pass's own
                if key.startswith("fstring-"):
                    fstrings = running >= (3, 12)  # older parsers reject them outright
                    continue
                if key in ("star-subscript", "except-star"):
                    stars = True  # star_lines finds `except*` too
                    continue
                text = _SYNTAX_TEXT.get(key)
                if text is None:
                    always = True  # a construct without a known text: never skip
                elif running >= text[1]:
                    parts.append(text[0])
            # searched one by one: an alternation would lose each pattern's literal prefix
            patterns = tuple(re.compile(p) for p in dict.fromkeys(parts))
            self._gates[target] = None if always else (patterns, stars, fstrings)
        return self._gates[target]

    def wants(self, text: str) -> bool:
        return True  # the syntax and API passes have their own prefilters, per target

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        target = ctx.target_python
        gate = self._syntax_gate(target)
        found: list[Feature] = []
        text = ctx.source
        stars: Optional[set[int]] = None
        fstrings: Optional[bool] = None
        if gate is not None and not any(p.search(text) for p in gate[0]):
            stars = star_lines(text) if gate[1] else set()
            fstrings = gate[2] and fstring_issue_possible(text)
        if stars is None or stars or fstrings:
            features = ast_features(ctx.tree, text, self.data, target, stars, fstrings)
            found = [f for f in features if f.needs > target]
        needs_types = target < (3, 10)
        names = self._may_use_api(text, target)
        if needs_types and names is None:
            names = self._ref_names(target)  # as ever: the index is built for the types anyway
        if names is not None:
            index = ctx.index()
            src = _Source(text)
            found.extend(self._api(ctx, index, src, target, names))
            # a union is an `|`, a builtin generic a subscript
            generic = target < self.data.syntax["generic"][0]
            if needs_types and ("|" in text or (generic and "[" in text)):
                found.extend(self._types(ctx, index, src, target))
        seen: set[tuple[Span, str]] = set()
        for f in sorted(found, key=lambda f: (f.span, f.construct)):
            if (f.span, f.key) in seen:
                continue
            seen.add((f.span, f.key))
            yield report(ctx, f, target)

    # -- stdlib additions ------------------------------------------------------------------------
    def _api(
        self, ctx: FileContext, index: ModuleIndex, src: _Source, target: Version, names: _Names
    ) -> Iterator[Feature]:
        """Additions newer than ``target`` that the file reaches; ``names``: the subsets of
        :meth:`_ref_names` a reference may reach them through."""
        guards: list[_Guards] = []
        data = self.data

        def ok(line: int, needs: Version, qname: str) -> bool:
            if needs <= target:
                return True
            if not guards:
                guards.append(_Guards(ctx.tree, index))
            return guards[0].covers(line, needs, qname)

        for site in index.imports:
            node = site.node
            line = node.lineno
            if isinstance(node, ast.Import):
                for alias in node.names:
                    m = data.module(alias.name)
                    if m is not None and not ok(line, m.python, m.name):
                        construct = f"`import {alias.name}`" + (
                            f" (module `{m.name}`)" if m.name != alias.name else ""
                        )
                        yield _api_feature(m.python, construct, src.node_span(node), _EFFECT_MODULE)
            elif node.level == 0 and node.module:
                m = data.module(node.module)
                if m is not None:
                    if not ok(line, m.python, m.name):
                        construct = f"`from {node.module} import ...`" + (
                            f" (module `{m.name}`)" if m.name != node.module else ""
                        )
                        yield _api_feature(m.python, construct, src.node_span(node), _EFFECT_MODULE)
                    continue
                for alias in node.names:
                    q = f"{node.module}.{alias.name}"
                    a = data.attrs.get(q) or data.modules.get(q)
                    if a is not None and not ok(line, a.python, q):
                        construct = f"`from {node.module} import {alias.name}`"
                        effect = _EFFECT_MODULE
                        yield Feature("api", a.python, construct, src.node_span(node), effect)
        attr_names, param_names, builtin_names, dot_lines = names
        words = file_words(ctx.source)
        # A reference can only reach an addition through a name the text holds (imports,
        # attributes and getattr strings are all words of it), so most are skipped unresolved:
        # those from a plain name whose attributes and keywords name no addition newer than
        # the target, in a file that names no such builtin, unless a call may be a dynamic
        # access (a string argument where getattr and import_module take a name).
        builtins_named = not builtin_names.isdisjoint(words)
        dynamic_named = not _DYNAMIC_WORDS.isdisjoint(words)
        for ref in index.refs:
            if (
                isinstance(ref.root, ast.Name)
                and not builtins_named
                and attr_names.isdisjoint(ref.attrs)
                and (
                    ref.call is None
                    or (
                        not (dynamic_named and _names_a_string(ref.call))
                        and all(kw.arg not in param_names for kw in ref.call.keywords)
                    )
                )
            ):
                continue
            for f in self._ref(ref, index, src, ok):
                yield replace(f, stmt_line=ref.stmt.lineno)
        annotations = attr_names and dot_lines != frozenset() and target < (3, 14)
        if annotations and not _future_annotations(ctx.tree):
            for root in _annotations(ctx.tree, dot_lines):
                for sub in walk(root):
                    if not isinstance(sub, ast.Attribute) or sub.attr not in attr_names:
                        continue  # (an addition's qualified name ends with its own name)
                    if not _dotted(sub):
                        continue
                    for v in index.resolve(sub, index.module, None):
                        a = data.attrs.get(_normal(v.qname))
                        if a is not None and not ok(sub.lineno, a.python, a.name):
                            shown = ast.unparse(sub)
                            construct = f"`{shown}` in an annotation" + (
                                f" (`{a.name}`)" if shown != a.name else ""
                            )
                            span = src.node_span(sub)
                            yield _api_feature(a.python, construct, span, _EFFECT_ATTR)
                            break

    def _ref(self, ref: Ref, index: ModuleIndex, src: _Source, ok: Any) -> Iterator[Feature]:
        data = self.data
        line = ref.stmt.lineno
        dynamic_root = isinstance(ref.root, ast.Call)
        if dynamic_root and _getattr_with_default(ref.root):
            return
        full = len(ref.attrs)
        values = list(index.chain_values(ref))
        if not values and isinstance(ref.root, ast.Name) and not ref.attrs:
            # a builtin that the running interpreter lacks (`anext` on 3.9) is still one
            name = f"builtins.{ref.root.id}"
            if name in data.attrs and not index.reaching_bindings(
                ref.scope, ref.root.id, ref.order, ref.path
            ):
                values = [(Value(name), 0)]
        call = ref.call
        if call is not None and any(
            used == full and v.qname in _DYNAMIC_ACCESS for v, used in values
        ):
            # getattr(typing, "override"), importlib.import_module("tomllib")
            if _getattr_with_default(call):
                return
            for v in index.resolve(call, ref.scope, ref.order, ref.path):
                q = _normal(v.qname)
                a = data.attrs.get(q) or data.module(q)
                if a is not None and not ok(line, a.python, a.name):
                    effect = _EFFECT_MODULE if a.kind == "module" else _EFFECT_ATTR
                    construct = f"`{_code(call)}` (`{a.name}`)"
                    yield _api_feature(a.python, construct, src.node_span(call), effect)
                    return
            return
        for value, used in values:
            q = _normal(value.qname)
            if call is not None and used == full:
                for p in data.params.get(q, ()):
                    for kw in call.keywords:
                        if kw.arg == p.param and not ok(line, p.python, f"{q}.{p.param}"):
                            construct = f"`{p.param}=` of `{q.removeprefix('builtins.')}`"
                            span = src.node_span(kw)
                            yield _api_feature(p.python, construct, span, _EFFECT_PARAM)
            # At the root: a bare name bound by `from m import x` was reported at the import,
            # a call's callee at its own reference; only dynamic access and builtins remain.
            dynamic = dynamic_root and value.dynamic is not None
            if used == 0 and not dynamic and not q.startswith("builtins."):
                continue
            a = data.attrs.get(q)
            if a is None and dynamic and used == 0:
                a = data.module(q)
            if a is None:
                continue
            if ok(line, a.python, a.name):
                return
            node: ast.AST = ref.node
            for _ in range(full - used):
                node = node.value  # type: ignore[attr-defined]
            shown = q.removeprefix("builtins.")
            effect = _EFFECT_MODULE if a.kind == "module" else _EFFECT_ATTR
            yield Feature("api", a.python, f"`{shown}`", src.node_span(node), effect)
            return

    # -- run-time generics and unions --------------------------------------------------------------
    def _types(
        self, ctx: FileContext, index: ModuleIndex, src: _Source, target: Version
    ) -> Iterator[Feature]:
        refs = {id(r.node): r for r in index.refs}
        evaluated = not _future_annotations(ctx.tree)
        data = self.data

        def qnames(node: ast.expr) -> list[str]:
            ref = refs.get(id(node))
            if ref is not None:
                return [v.qname for v, used in index.chain_values(ref) if used == len(ref.attrs)]
            if isinstance(node, (ast.Name, ast.Attribute)) and _dotted(node):
                return [v.qname for v in index.resolve(node, index.module, None)]
            return []

        gen_needs = data.syntax["generic"][0]
        guards: list[_Guards] = []

        def guarded(f: Feature) -> bool:
            if not guards:
                guards.append(_Guards(ctx.tree, index))
            return guards[0].covers(f.span.line, f.needs, "")

        for f in self._type_features(ctx, src, target, evaluated, gen_needs, qnames):
            if not guarded(f):
                yield f

    def _type_features(
        self,
        ctx: FileContext,
        src: _Source,
        target: Version,
        evaluated: bool,
        gen_needs: Version,
        qnames: Callable[[ast.expr], list[str]],
    ) -> Iterator[Feature]:
        data = self.data

        def generic(node: ast.expr) -> bool:
            if not isinstance(node, ast.Subscript):
                return False
            return any(fnmatchcase(q, p) for q in qnames(node.value) for p in data.generic_classes)

        def certain_type(node: ast.expr) -> bool:
            if isinstance(node, ast.Subscript):
                return generic(node) or any(q.startswith("typing.") for q in qnames(node.value))
            return any(fnmatchcase(q, p) for q in qnames(node) for p in data.type_names)

        def typeish(node: ast.expr) -> bool:
            if isinstance(node, ast.Constant):
                return node.value is None
            return isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.BinOp))

        def operands(node: ast.expr) -> list[ast.expr]:
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                return operands(node.left) + operands(node.right)
            return [node]

        for root, annotation in runtime_roots(ctx.tree, evaluated and target < (3, 14)):
            done: set[int] = set()
            for node in walk(root):
                if id(node) in done:
                    continue
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                    parts = operands(node)
                    union = all(typeish(p) for p in parts) and (
                        annotation or any(certain_type(p) for p in parts)
                    )
                    if union:
                        done.update(id(n) for n in walk(node))
                        yield data.feature("union", src.node_span(node), _code(node))
                        for p in parts:
                            if target < gen_needs and generic(p):
                                yield data.feature("generic", src.node_span(p), _code(p))
                elif target < gen_needs and generic(node):  # type: ignore[arg-type]
                    done.update(id(n) for n in walk(node))
                    yield data.feature("generic", src.node_span(node), _code(node))


def _names_a_string(call: ast.Call) -> bool:
    """Whether ``call`` has a string where ``getattr`` takes the name of an attribute or
    ``import_module`` and ``__import__`` that of a module (what the scope index resolves)."""
    return any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args[:2])


def _api_feature(needs: Version, construct: str, span: Span, effect: str) -> Feature:
    return Feature("api", needs, construct, span, effect)


def _code(node: ast.AST, limit: int = 40) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _getattr_with_default(call: ast.expr) -> bool:
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "getattr"
        and len(call.args) >= 3
    )


def _sentence(construct: str) -> str:
    return construct[0].upper() + construct[1:]


def report(ctx: FileContext, f: Feature, target: Version) -> Diagnostic:
    diag = ctx.diagnostic(
        "MSE506",
        ast.Pass(),
        None,
        construct=_sentence(f.construct),
        needs=_label(f.needs),
        target=_label(target),
        effect=f.effect,
        _span=f.span,
    )
    return replace(diag, stmt_line=f.stmt_line or f.span.line)


def feature_diagnostic(catalog: Catalog, path: str, f: Feature, target: Version) -> Diagnostic:
    """An MSE506 finding outside a FileContext (a file only libcst could parse)."""
    rule = catalog.get("MSE506")
    construct = _sentence(f.construct)
    return Diagnostic(
        path,
        f.span,
        "MSE506",
        rule.severity,
        rule.format(
            construct=construct, needs=_label(f.needs), target=_label(target), effect=f.effect
        ),
        rule.fix,
        f.span.line,
    )
