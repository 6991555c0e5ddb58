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
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Optional, Union

from ..astwalk import children, walk
from ..catalog import Catalog
from ..diagnostics import Diagnostic, Span
from ..record import replace
from ..scope import ModuleIndex, Ref, Value
from . import FileContext, Needs, meets, name_needs
from . import words as file_words

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


@dataclass(frozen=True)
class Feature:
    """A construct newer than some Python: where, what the message calls it, since when."""

    key: str
    needs: Version
    construct: str
    span: Span
    effect: str = _EFFECT_SYNTAX
    # first line of the statement holding it: a suppression comment there applies too
    stmt_line: int = 0


@dataclass(frozen=True)
class Addition:
    name: str
    python: Version
    kind: str  # attr | module | param
    param: str = ""


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


_STAR_SUBSCRIPT = re.compile(r"\[[^\]\n]*\*|:\s*\*\s*[A-Za-z_]")
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
    "type-alias": (r"type\b", (3, 12)),
    "type-params": (r"(?:def|class)" + _GAP + r"\w+" + _GAP + r"\[", (3, 12)),
    "type-param-default": (r"(?:def|class)" + _GAP + r"\w+" + _GAP + r"\[", (3, 13)),
    "tstring": (r"(?<!\w)(?:[rR]?[tT]|[tT][rR])['\"]", (3, 14)),
    "decorator": (r"@", (3, 0)),
    "paren-with": (r"with\b", (3, 0)),
    # `*args: *Ts` (the subscript form is the expression pass's, gated by _STAR_SUBSCRIPT)
    "star-subscript": (r":" + _GAP + r"\*", (3, 11)),
}
_FSTRING_PREFIX = re.compile(r"(?<![\w])[rRbB]?[fFtT][rR]?['\"]")
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


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
    tree: ast.AST, text: str, data: CompatData, target: Version = (3, 8)
) -> Iterator[Feature]:
    """Newer than ``target`` syntax in a file the running interpreter parsed."""
    src = _Source(text)
    running = sys.version_info[:2]
    for node in _statements(tree):
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
    # Expression-level syntax: walk the expressions only when the text can hold one.
    stars = target < data.syntax["star-subscript"][0] and _STAR_SUBSCRIPT.search(text)
    fstrings = running >= (3, 12) and target < (3, 12) and _FSTRING_PREFIX.search(text)
    tstrings = running >= (3, 14)
    if stars or fstrings or tstrings:
        yield from _expression_features(tree, src, data)


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
@dataclass(frozen=True)
class _Guard:
    first: int
    last: int
    version: Optional[Version] = None  # runtime >= version inside; None: any failure handled
    names: frozenset[str] = frozenset()  # hasattr(module, "name") checks: qualified names


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


# -- the check -----------------------------------------------------------------------------------
def _normal(qname: str) -> str:
    """A method reached through an instance names the class's method: ``pathlib.Path().walk``
    is ``pathlib.Path.walk``."""
    return qname.replace("().", ".")


class CompatCheck:
    codes = frozenset({"MSE506"})

    def __init__(self, catalog: Catalog, settings: object = None) -> None:
        self.data = CompatData(catalog)
        self._pairs: dict[Version, frozenset[tuple[str, str]]] = {}
        self._names: dict[Version, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {}
        self._needs: dict[Version, Optional[Needs]] = {}
        self._gates: dict[Version, Optional[tuple[re.Pattern[str], ...]]] = {}

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

    def _ref_names(self, target: Version) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """The last names of attribute additions newer than ``target``, their keyword
        parameters' names, and the builtins among them."""
        found = self._names.get(target)
        if found is None:
            attrs = [a.name for a in self.data.attrs.values() if a.python > target]
            found = self._names[target] = (
                frozenset(n.rsplit(".", 1)[-1] for n in attrs),
                frozenset(
                    p.param for ps in self.data.params.values() for p in ps if p.python > target
                ),
                frozenset(n.split(".", 1)[1] for n in attrs if n.startswith("builtins.")),
            )
        return found

    def _may_use_api(self, text: str, target: Version) -> bool:
        pairs = self._api_pairs(target)
        if not pairs:
            return False
        if target not in self._needs:
            # every part of a name the index resolves comes from the text (checks.name_needs)
            names = [
                a.name
                for a in (*self.data.attrs.values(), *self.data.modules.values())
                if a.python > target
            ]
            names += [
                f"{p.name}.{p.param}"
                for params in self.data.params.values()
                for p in params
                if p.python > target
            ]
            self._needs[target] = name_needs(names)
        needs = self._needs[target]
        if needs is not None:
            return meets(needs, text)
        words = file_words(text)
        return any(top in words and last in words for top, last in pairs)

    def _syntax_gate(self, target: Version) -> Optional[tuple[re.Pattern[str], ...]]:
        """Patterns one of which the text of a file must match for ast_features to find anything
        newer than ``target`` in it; None when any file may hold such syntax."""
        if target not in self._gates:
            running = sys.version_info[:2]
            parts: list[str] = []
            always = running >= (3, 14)  # t-strings: any string prefix, walked every time
            for key, (needs, _) in self.data.syntax.items():
                if needs <= target or key in ("union", "generic"):
                    continue  # too old to report, or the run-time type pass's own
                if key.startswith("fstring-"):
                    if running >= (3, 12):
                        parts.append(_FSTRING_PREFIX.pattern)
                    continue
                if key == "star-subscript":
                    # _STAR_SUBSCRIPT's two halves apart (an alternation has no literal prefix
                    # to search for); its second is within the vararg pattern below
                    parts.append(_STAR_SUBSCRIPT.pattern.split("|")[0])
                text = _SYNTAX_TEXT.get(key)
                if text is None:
                    always = True  # a construct without a known text: never skip
                elif running >= text[1]:
                    parts.append(text[0])
            # searched one by one: an alternation would lose each pattern's literal prefix
            gate = None if always else tuple(re.compile(p) for p in dict.fromkeys(parts))
            self._gates[target] = gate
        return self._gates[target]

    def wants(self, text: str) -> bool:
        return True  # the syntax and API passes have their own prefilters, per target

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        target = ctx.target_python
        gate = self._syntax_gate(target)
        found: list[Feature] = []
        if gate is None or any(p.search(ctx.source) for p in gate):
            found = [
                f for f in ast_features(ctx.tree, ctx.source, self.data, target) if f.needs > target
            ]
        needs_types = target < (3, 10)
        if needs_types or self._may_use_api(ctx.source, target):
            index = ctx.index()
            src = _Source(ctx.source)
            found.extend(self._api(ctx, index, src, target))
            if needs_types:
                found.extend(self._types(ctx, index, src, target))
        seen: set[tuple[Span, str]] = set()
        for f in sorted(found, key=lambda f: (f.span, f.construct)):
            if (f.span, f.key) in seen:
                continue
            seen.add((f.span, f.key))
            yield report(ctx, f, target)

    # -- stdlib additions ------------------------------------------------------------------------
    def _api(
        self, ctx: FileContext, index: ModuleIndex, src: _Source, target: Version
    ) -> Iterator[Feature]:
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
        attr_names, param_names, builtin_names = self._ref_names(target)
        words = file_words(ctx.source)
        # A reference can only reach an addition through a name the text holds (imports,
        # attributes and getattr strings are all words of it), so most are skipped unresolved:
        # those from a plain name whose attributes and keywords name no addition newer than
        # the target, in a file that names no such builtin and no dynamic accessor.
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
                        not dynamic_named
                        and all(kw.arg not in param_names for kw in ref.call.keywords)
                    )
                )
            ):
                continue
            for f in self._ref(ref, index, src, ok):
                yield replace(f, stmt_line=ref.stmt.lineno)
        if target < (3, 14) and not _future_annotations(ctx.tree):
            for root, is_annotation in runtime_roots(ctx.tree, True):
                if not is_annotation:
                    continue
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
