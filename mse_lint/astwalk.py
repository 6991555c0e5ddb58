"""``ast.walk`` as a list, and shared: several families walk every file's whole tree."""

from __future__ import annotations

import ast
from typing import Any

# the last module walked and its nodes: the engine hands one tree to each family in turn
_LAST: list[Any] = [None, []]


def walk(node: ast.AST) -> list[ast.AST]:
    """The nodes ``ast.walk(node)`` yields, in the same (breadth-first) order, as a list: a
    plain loop over ``_fields`` costs a third of ast.walk's generators. A whole module's list
    is kept until another module is walked, so families share one walk per file; the trees
    are never modified, and the list must not be either."""
    if type(node) is ast.Module:
        if _LAST[0] is node:
            cached: list[ast.AST] = _LAST[1]
            return cached
        _LAST[0] = None  # the old tree can go before the new list is built
        _LAST[1] = []
    out = [node]
    append = out.append
    ast_type = ast.AST
    i = 0
    while i < len(out):
        n = out[i]
        i += 1
        for name in n._fields:
            value = getattr(n, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast_type):
                        append(item)
            elif isinstance(value, ast_type):
                append(value)
    if type(node) is ast.Module:
        _LAST[0] = node
        _LAST[1] = out
    return out


def children(node: ast.AST) -> list[ast.AST]:
    """``list(ast.iter_child_nodes(node))``, without its generators."""
    out: list[ast.AST] = []
    ast_type = ast.AST
    for name in node._fields:
        value = getattr(node, name, None)
        if type(value) is list:
            out.extend([item for item in value if isinstance(item, ast_type)])
        elif isinstance(value, ast_type):
            out.append(value)
    return out
