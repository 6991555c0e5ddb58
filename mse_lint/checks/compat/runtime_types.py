"""MSE506's run-time types: PEP 604 unions (``int | None``) and PEP 585 generics (``list[int]``)
where Python evaluates them (annotations without ``from __future__ import annotations``, type
aliases, ``isinstance`` arguments...), which raise a TypeError before 3.10 and 3.9."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from typing import Optional

from mse_lint.analysis.astwalk import children, walk
from mse_lint.analysis.scope import ModuleIndex
from mse_lint.checks.compat.data import CompatData, Feature, Source, Version, code_text
from mse_lint.checks.compat.guards import Guards
from mse_lint.checks.compat.syntax import BLOCKS, dotted


def future_annotations(tree: ast.Module) -> bool:
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


def annotation_roots(
    tree: ast.Module, lines: Optional[frozenset[int]] = None
) -> Iterator[ast.expr]:
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
            if name in BLOCKS:
                block = getattr(node, name, None)
                if block:
                    stack.extend((s, in_func) for s in reversed(block))


def type_features(
    tree: ast.Module, index: ModuleIndex, src: Source, data: CompatData, target: Version
) -> Iterator[Feature]:
    """The unions and generics newer than ``target`` that Python evaluates, unguarded."""
    refs = {id(r.node): r for r in index.refs}
    evaluated = not future_annotations(tree)

    def qnames(node: ast.expr) -> list[str]:
        ref = refs.get(id(node))
        if ref is not None:
            return [v.qname for v, used in index.chain_values(ref) if used == len(ref.attrs)]
        if isinstance(node, (ast.Name, ast.Attribute)) and dotted(node):
            return [v.qname for v in index.resolve(node, index.module, None)]
        return []

    gen_needs = data.syntax["generic"][0]
    guards: list[Guards] = []

    def guarded(f: Feature) -> bool:
        if not guards:
            guards.append(Guards(tree, index))
        return guards[0].covers(f.span.line, f.needs, "")

    for f in _type_features(tree, src, data, target, evaluated, gen_needs, qnames):
        if not guarded(f):
            yield f


def _type_features(
    tree: ast.Module,
    src: Source,
    data: CompatData,
    target: Version,
    evaluated: bool,
    gen_needs: Version,
    qnames: Callable[[ast.expr], list[str]],
) -> Iterator[Feature]:

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

    for root, annotation in runtime_roots(tree, evaluated and target < (3, 14)):
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
                    yield data.feature("union", src.node_span(node), code_text(node))
                    for p in parts:
                        if target < gen_needs and generic(p):
                            yield data.feature("generic", src.node_span(p), code_text(p))
            elif target < gen_needs and generic(node):  # type: ignore[arg-type]
                done.update(id(n) for n in walk(node))
                yield data.feature("generic", src.node_span(node), code_text(node))
