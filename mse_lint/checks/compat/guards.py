"""MSE506's version guards: the lines where a newer API cannot fail, because a ``try`` handles
the failure, a ``sys.version_info`` test or a ``hasattr`` check keeps older Pythons out."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Optional

from mse_lint.analysis.astwalk import walk
from mse_lint.analysis.scope import ModuleIndex
from mse_lint.checks.compat.data import Version
from mse_lint.core.record import Frozen

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


class Guard(Frozen):
    first: int
    last: int
    version: Optional[Version] = None  # runtime >= version inside; None: any failure handled
    names: frozenset[str] = frozenset()  # hasattr(module, "name") checks: qualified names


def _lines(body: Sequence[ast.stmt]) -> tuple[int, int]:
    return body[0].lineno, max(s.end_lineno or s.lineno for s in body)


class Guards:
    def __init__(self, tree: ast.Module, index: ModuleIndex) -> None:
        self.index = index
        self.items: list[Guard] = []
        for node in walk(tree):
            if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                handlers = node.handlers  # type: ignore[attr-defined]
                body = node.body  # type: ignore[attr-defined]
                if body and any(self._catches(h) for h in handlers):
                    self.items.append(Guard(*_lines(body)))
            elif isinstance(node, ast.If):
                yes, no = self._version_test(node.test)
                if yes is not None and node.body:
                    self.items.append(Guard(*_lines(node.body), version=yes))
                if no is not None and node.orelse:
                    self.items.append(Guard(*_lines(node.orelse), version=no))
                names = self._hasattr_names(node.test)
                if names and node.body:
                    self.items.append(Guard(*_lines(node.body), names=names))

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
