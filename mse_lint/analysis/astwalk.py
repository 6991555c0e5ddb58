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


# Fields never walked by syntax_nodes: expression contexts (Load/Store/Del) and operators hold
# no syntax of their own, and are a third of a typical tree's nodes.
_LEAF_FIELDS = frozenset({"ctx", "op", "ops"})
# List fields whose items may be None or strings (Dict keys of ``**d``, keyword-only parameters
# without a default, the names of global/nonlocal, match-class attribute names)
_MIXED_FIELDS = frozenset({"keys", "kw_defaults", "names", "kwd_attrs"})
_SINGLE, _LIST, _MIXED = 0, 1, 2
_PLANS: dict[type, tuple[tuple[str, int], ...]] = {}


def _plan(node: ast.AST) -> tuple[tuple[str, int], ...]:
    """The fields of a node type to walk, in order, each with its shape (a node or None, a list
    of nodes, a list to filter), told apart on the type's first instance (ast keeps a field's
    shape: a list is a list, even empty)."""
    plan = []
    for name in node._fields:
        if name in _LEAF_FIELDS:
            continue
        value = getattr(node, name, None)
        if type(value) is list:
            plan.append((name, _MIXED if name in _MIXED_FIELDS else _LIST))
        elif value is None or isinstance(value, ast.AST):
            plan.append((name, _SINGLE))
        # else a name, a number, a constant's value: a field that never holds a node
    _PLANS[type(node)] = found = tuple(plan)
    return found


def syntax_nodes(tree: ast.AST) -> list[ast.AST]:
    """The nodes of ``ast.walk(tree)`` in its (breadth-first) order, without expression
    contexts and operator nodes (``Load``, ``Add``, ``Eq``...): what checks look for is never
    one of those, and leaving them out makes the walk a fifth faster and the list a third
    shorter. Parents still come before their children."""
    out = [tree]
    append, extend = out.append, out.extend
    plans = _PLANS
    ast_type = ast.AST
    i = 0
    while i < len(out):
        n = out[i]
        i += 1
        for name, shape in plans.get(type(n)) or _plan(n):
            value: Any = getattr(n, name, None)
            if shape == _LIST:
                extend(value)
            elif shape == _SINGLE:
                if isinstance(value, ast_type):
                    append(value)
            else:
                for item in value:
                    if isinstance(item, ast_type):
                        append(item)
    return out
