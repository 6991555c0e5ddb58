"""MSE506's syntax pass on the stdlib ``ast``: constructs newer than the target Python in a file
the running interpreter parsed (``match``, ``except*``, PEP 695, PEP 701 f-strings...).

Most new syntax is a statement: the pass visits statements only, and walks expressions where
the text scanners (mse_lint.checks.compat.text) say they may hold something newer.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from typing import Optional, Union

from mse_lint.analysis.astwalk import walk
from mse_lint.checks.compat.data import CompatData, Feature, Source, Version
from mse_lint.checks.compat.text import (
    FSTRING_KEYS,
    GAP,
    fstring_issue_possible,
    fstring_issues,
    star_lines,
)


def dotted(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _plain_decorator(node: ast.expr) -> bool:
    """Python 3.8's grammar: a dotted name, optionally called."""
    if isinstance(node, ast.Call):
        node = node.func
    return dotted(node)


def _has_star(node: ast.expr) -> bool:
    if isinstance(node, ast.Starred):
        return True
    return isinstance(node, ast.Tuple) and any(isinstance(e, ast.Starred) for e in node.elts)


def _paren_with(node: Union[ast.With, ast.AsyncWith], src: Source) -> bool:
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
# blanks (text.GAP) between the tokens allowed; no leading ``\b``, which keeps re's
# literal-prefix search fast), and the oldest Python that parses the construct at all:
# ast_features cannot find it in a tree this interpreter built when it is older, nor when the
# text has no match.
SYNTAX_TEXT: dict[str, tuple[str, Version]] = {
    "match": (r"match\b", (3, 10)),
    "except-star": (r"except" + GAP + r"\*", (3, 11)),
    "except-bare-tuple": (r"except\b", (3, 14)),
    # `type X = ...`, `type X[T] = ...` (not `type(x)`, nor a name `type`)
    "type-alias": (r"type" + GAP + r"\w+" + GAP + r"[=\[]", (3, 12)),
    "type-params": (r"(?:def|class)" + GAP + r"\w+" + GAP + r"\[", (3, 12)),
    "type-param-default": (r"(?:def|class)" + GAP + r"\w+" + GAP + r"\[", (3, 13)),
    "tstring": (r"(?<!\w)(?:[rR]?[tT]|[tT][rR])['\"]", (3, 14)),
    "decorator": (r"@", (3, 0)),
    "paren-with": (r"with\b", (3, 0)),
    # star-subscript (`x[*a]`, `*args: *Ts`): star_lines, not a pattern
}
BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _statements(tree: ast.AST) -> Iterator[ast.AST]:
    """Every statement (and except handler, match case), without descending into expressions:
    most new syntax is a statement, and expressions are most of a tree."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        for attr in BLOCKS:
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
    src = Source(text)
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


def _star_subscripts(stmt: ast.AST, src: Source, data: CompatData) -> Iterator[Feature]:
    """``x[*a]`` in the expressions of one statement (not in the statements of its blocks)."""
    for name in stmt._fields:
        if name in BLOCKS:
            continue
        value = getattr(stmt, name, None)
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, ast.AST):
                for node in walk(item):
                    if isinstance(node, ast.Subscript) and _has_star(node.slice):
                        yield data.feature("star-subscript", src.node_span(node))


def _expression_features(tree: ast.AST, src: Source, data: CompatData) -> Iterator[Feature]:
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
                yield data.feature(FSTRING_KEYS[issues[0]], src.span(*key))


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return (b[0], b[1]) <= (a[0], a[1]) and (a[2], a[3]) <= (b[2], b[3])
