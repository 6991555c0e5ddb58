"""MSE413: environment variables the enclave never sets.

Reads are found by qualified name (``os.getenv``, ``os.environ.get``/``setdefault``/``pop`` and
``os.environ[...]``, however ``os`` and ``environ`` are reached) with the variable's name given
literally or by a constant. An error when nothing handles the missing variable, a warning when the
code has a fallback (a default argument, ``or``, a truthiness or ``is None`` test, an
``"X" in os.environ`` guard, a ``try`` catching ``KeyError``): the fallback is then what always
runs in the enclave.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from typing import Optional

from mse_lint.analysis.astwalk import walk
from mse_lint.analysis.pathvalue import (
    Evaluator,
    argument,
    has_argument,
    load_places,
    load_rules,
    source_text,
)
from mse_lint.analysis.scope import ModuleIndex, Ref
from mse_lint.checks import FileContext
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Severity
from mse_lint.core.record import replace
from mse_lint.core.settings import Settings

_HANDLERS = (ast.BoolOp, ast.If, ast.While, ast.IfExp, ast.Assert)
# the node types _Shape keeps as handlers (try statements: ast.Try, and TryStar from 3.11)
_HANDLER_TYPES: frozenset[type] = frozenset({*_HANDLERS, ast.Try, getattr(ast, "TryStar", ast.Try)})
_CATCHES_KEYERROR = frozenset({"KeyError", "LookupError", "Exception", "BaseException"})


class EnvironmentCheck:
    codes = frozenset({"MSE413"})

    def __init__(self, catalog: Catalog, settings: Optional[Settings] = None) -> None:
        env = catalog.data("environment")
        self.places = load_places(env)
        # the process family's call-result table: resolving with the same one shares the
        # module index that its check builds (FileContext.index)
        self.returns: Mapping[str, str] = dict(catalog.data("process").get("returns", {}))
        self.rules = load_rules(catalog.data("paths"), env)
        self.enclave = frozenset(self.places.env)
        reads = env.get("reads", {})
        self.raising = frozenset(
            c["name"] for c in reads.get("calls", []) if c.get("missing") == "keyerror"
        )
        self.effects: Mapping[str, str] = reads.get("effects", {})

    def wants(self, text: str) -> bool:
        return "environ" in text or "getenv" in text

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        index = ctx.index(self.returns)
        ev = Evaluator(ctx.tree, index, self.places, self.rules, None)
        return list(self._run(ctx, index, ev))

    def _run(self, ctx: FileContext, index: ModuleIndex, ev: Evaluator) -> Iterator[Diagnostic]:
        # names a reading call may have: its own last name, or an alias from an import
        lasts = {n.rsplit(".", 1)[-1] for n in self.rules.env_calls}
        lasts |= {
            a.asname
            for site in index.imports
            if isinstance(site.node, ast.ImportFrom)
            for a in site.node.names
            if a.asname and a.name in lasts
        }
        calls: list[tuple[ast.Call, str, str, Ref]] = []  # call, API, variable, where
        for ref in index.refs:
            call = ref.call
            last = ref.attrs[-1] if ref.attrs else getattr(ref.root, "id", "")
            if call is None or last not in lasts or ref.in_main:
                continue
            key = ev.const_str(argument(call, 0, "key"))
            if key is None or key in self.enclave:
                continue
            for v, used in index.chain_values(ref):
                name = self.rules.normal(v.qname)
                if used == len(ref.attrs) and name in self.rules.env_calls:
                    calls.append((call, name, key, ref))
                    break
        shape = _Shape(ctx.nodes)
        subscripts: list[tuple[ast.Subscript, str, Optional[Ref]]] = []
        for sub in shape.subscripts:
            key = ev.const_str(sub.slice)
            if key is None or key in self.enclave:
                continue
            if ev.qnames(sub.value) & self.rules.env_mappings:
                where = ev.ref_of(sub.value)
                if where is None or not where.in_main:
                    subscripts.append((sub, key, where))
        if not calls and not subscripts:
            return
        fallback, guarded = shape.handled(ev, self.rules.env_mappings)
        reads: list[tuple[ast.expr, str, str, Optional[Ref]]] = []  # node, var, effect, where
        for call, name, key, ref in calls:
            pos, kw = self.rules.env_calls[name]
            given = has_argument(call, pos, kw) and not ev.is_none(argument(call, pos, kw))
            if given or id(call) in fallback or (id(call), key) in guarded:
                effect = "default"
            else:
                effect = "keyerror" if name in self.raising else "none"
            reads.append((call, key, effect, ref))
        for sub, key, where in subscripts:
            effect = "default" if (id(sub), key) in guarded else "keyerror"
            reads.append((sub, key, effect, where))
        reads.sort(key=lambda r: (r[0].lineno, r[0].col_offset))
        for node, key, effect, where in reads:
            api = " ".join(source_text(ctx.lines, node).split())
            if len(api) > 70:
                api = api[:69] + "…"
            d = ctx.diagnostic(
                "MSE413",
                node,
                where.stmt if where else None,
                api=api,
                var=key,
                effect=self.effects[effect],
            )
            if effect == "default":
                d = replace(d, severity=Severity.WARNING)
            yield d


class _Shape:
    """One pass over the module's nodes: the subscripts that may read a mapping, and the
    statements and expressions that may handle a missing variable."""

    def __init__(self, nodes: list[ast.AST]) -> None:
        self.subscripts: list[ast.Subscript] = []
        self.handlers: list[ast.AST] = []
        subscript, call, name = ast.Subscript, ast.Call, ast.Name
        for node in nodes:
            kind = type(node)
            if kind is subscript:
                if type(node.ctx) is ast.Load and isinstance(  # type: ignore[attr-defined]
                    node.value,  # type: ignore[attr-defined]
                    (ast.Name, ast.Attribute),
                ):
                    self.subscripts.append(node)  # type: ignore[arg-type]
            elif kind in _HANDLER_TYPES or (
                kind is call
                and type(node.func) is name  # type: ignore[attr-defined]
                and node.func.id == "bool"  # type: ignore[attr-defined]
            ):
                self.handlers.append(node)

    def handled(
        self, ev: Evaluator, mappings: frozenset[str]
    ) -> tuple[set[int], set[tuple[int, str]]]:
        return _handled(self.handlers, ev, mappings)


def _handled(
    nodes: list[ast.AST], ev: Evaluator, mappings: frozenset[str]
) -> tuple[set[int], set[tuple[int, str]]]:
    """Nodes whose None is handled (``x or d``, ``if x:``, ``x is None``), and (node, var) pairs
    read under a guard (``if "X" in os.environ:``, ``try: ... except KeyError:``)."""
    fallback: set[int] = set()
    guarded: set[tuple[int, str]] = set()

    # (loops, not recursive closures: a closure that calls itself is a reference cycle, which
    # would keep the evaluator and the file's tree alive until the cyclic collector runs)
    def tested(first: ast.expr) -> None:
        todo = [first]
        while todo:
            test = todo.pop()
            while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
                test = test.operand
            if isinstance(test, ast.BoolOp):
                todo.extend(reversed(test.values))
                continue
            if isinstance(test, ast.Compare) and len(test.ops) == 1:
                other = test.comparators[0]
                if isinstance(test.ops[0], (ast.Is, ast.IsNot, ast.Eq, ast.NotEq)) and ev.is_none(
                    other
                ):
                    test = test.left
                else:
                    continue
            fallback.add(id(test))

    def guard(first: ast.expr, body: Iterable[ast.AST]) -> None:
        todo = [first]
        while todo:
            test = todo.pop()
            if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
                todo.extend(reversed(test.values))
                continue
            if not (
                isinstance(test, ast.Compare)
                and len(test.ops) == 1
                and isinstance(test.ops[0], ast.In)
                and ev.qnames(test.comparators[0]) & mappings
            ):
                continue
            key = ev.const_str(test.left)
            if key is None:
                continue
            for part in body:
                for n in walk(part):
                    guarded.add((id(n), key))

    for node in nodes:
        if (
            isinstance(node, ast.Call)
            and len(node.args) == 1
            and "builtins.bool" in ev.qnames(node.func)
        ):
            tested(node.args[0])
        elif isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            fallback.update(id(v) for v in node.values[:-1])
        elif isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            tested(node.test)
            if isinstance(node, ast.If):
                guard(node.test, node.body)
            elif isinstance(node, ast.IfExp):
                guard(node.test, [node.body])
        elif _is_try(node) and any(_catches_keyerror(h) for h in node.handlers):  # type: ignore[attr-defined]
            for part in node.body:  # type: ignore[attr-defined]
                for n in walk(part):
                    if isinstance(n, (ast.Subscript, ast.Call)):
                        key = ev.const_str(
                            n.slice if isinstance(n, ast.Subscript) else argument(n, 0, "key")
                        )
                        if key is not None:
                            guarded.add((id(n), key))
    return fallback, guarded


def _is_try(node: ast.AST) -> bool:
    return isinstance(node, ast.Try) or type(node).__name__ == "TryStar"


def _catches_keyerror(handler: ast.ExceptHandler) -> bool:
    t = handler.type
    if t is None:
        return True
    names = t.elts if isinstance(t, ast.Tuple) else [t]
    for n in names:
        last = n.attr if isinstance(n, ast.Attribute) else getattr(n, "id", "")
        if last in _CATCHES_KEYERROR:
            return True
    return False
