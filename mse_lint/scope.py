"""Scope-aware name resolution over the stdlib ``ast``.

One pass binds names per scope (module, class, function, lambda, comprehension) following
Python's rules: a name bound anywhere in a function is local to all of it, class bodies are not
visible from nested functions (nor from comprehensions in them), ``global``/``nonlocal`` redirect
bindings. Each binding remembers its position in evaluation order and the branches it sits in
(if/else, try/except, match cases, loop bodies), so that the values visible at a use are those of
the bindings that may reach it: walking back from the latest binding before the use, each one
counts until one is found that runs on every path to the use, either unconditionally or because
every branch of an if/else or try/except rebinds the name. ``try: from subprocess import run`` /
``except ImportError: run = None`` gives both values; ``from os import popen`` followed by
``if cond: popen = None`` still lets ``os.popen`` through.

Values are qualified names: ``import subprocess as sp`` makes ``sp.run`` resolve to
``subprocess.run``; a call result is the callee's name with ``()`` (``flask.Flask()`` for an
app instance); ``getattr(x, "lit")``, ``__import__("m")`` and ``importlib.import_module("m")``
resolve too, marked as dynamic. Anything else (a parameter, a computed value) is opaque and
resolves to nothing, so a local ``system = print`` shadows ``from os import system``.

The pass also records the places the checks look at: reference chains (``a.b.c`` in load
context, optionally the callee of a call), attribute stores, and import statements. Code that
only names types is not recorded: annotations, the class argument of ``isinstance``/``issubclass``
and ``if TYPE_CHECKING:`` blocks (whose imports are still bound, for the annotations).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Optional, Union

from .astwalk import children, walk

_BUILTIN_NAMES = frozenset(dir(builtins))
_DYNAMIC_IMPORTERS = {"builtins.__import__", "importlib.import_module", "importlib.__import__"}
_TYPE_TESTS = frozenset({"isinstance", "issubclass"})

Path = tuple[tuple[int, int], ...]
_MAX_CALL_CHAIN = 16


@dataclass(frozen=True)
class Value:
    """A resolved value: a qualified name, and how it was reached if not statically."""

    qname: str
    dynamic: Optional[str] = None

    def attr(self, name: str, dynamic: Optional[str] = None) -> Value:
        return Value(f"{self.qname}.{name}", dynamic or self.dynamic)


class Binding:
    __slots__ = ("expr", "order", "path", "scope", "static")

    def __init__(
        self,
        order: int,
        path: Path,
        scope: Scope,
        static: Optional[Value] = None,
        expr: Optional[ast.expr] = None,
    ) -> None:
        self.order = order
        self.path = path
        self.scope = scope
        self.static = static
        self.expr = expr


class Scope:
    __slots__ = ("bindings", "globals", "kind", "nonlocals", "parent", "path", "stars")

    def __init__(self, kind: str, parent: Optional[Scope], path: Path = ()) -> None:
        self.kind = kind  # module | class | function | comprehension
        self.parent = parent
        self.path = path  # the branches the scope's definition sits in
        self.bindings: dict[str, list[Binding]] = {}
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.stars: list[str] = []


@dataclass(frozen=True)
class Ref:
    """A maximal ``root.a.b`` chain in load context; ``call`` is set when it is a callee."""

    node: ast.expr
    root: ast.expr
    attrs: tuple[str, ...]
    scope: Scope
    order: int
    in_main: bool
    stmt: ast.stmt
    call: Optional[ast.Call] = None
    path: Path = ()


@dataclass(frozen=True)
class AttrStore:
    target: ast.Attribute
    value: ast.expr
    scope: Scope
    order: int
    in_main: bool
    stmt: ast.stmt
    path: Path = ()


@dataclass(frozen=True)
class ImportSite:
    node: Union[ast.Import, ast.ImportFrom]
    modules: tuple[str, ...]


def is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round): code run only as a script."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def _bound_before(bindings: list[Binding], order: int, scope: Scope) -> bool:
    """A binding precedes ``order`` in ``scope``'s own flow, or comes from a ``global``
    statement in a function, which may have run before."""
    return any(b.order < order or b.scope is not scope for b in bindings)


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _is_wildcard_case(case: ast.AST) -> bool:
    pattern = getattr(case, "pattern", None)
    return (
        type(pattern).__name__ == "MatchAs"
        and getattr(pattern, "pattern", None) is None
        and getattr(case, "guard", None) is None
    )


class ModuleIndex:
    """Scopes, bindings and recorded sites of one module."""

    def __init__(self, tree: ast.Module, returns: Optional[Mapping[str, str]] = None) -> None:
        self.returns: Mapping[str, str] = returns or {}
        # Resolved values of bindings, by id(binding): they depend on ``returns``, so they live
        # here rather than on the (shared, see with_returns) bindings
        self._memo: dict[int, list[Value]] = {}
        self._busy: set[int] = set()
        self.module = Scope("module", None)
        self._scopes: list[Scope] = [self.module]  # for release()
        self.refs: list[Ref] = []
        self.stores: list[AttrStore] = []
        self.imports: list[ImportSite] = []
        self._order = 0
        self._path: Path = ()  # immutable: records share it
        # Branching statements by id: how many branches rebinding a name makes it unconditional
        # (0: never, e.g. loops and if without else), and which ones are mutually exclusive.
        self._arity: dict[int, int] = {}
        self._alternatives: set[int] = set()
        self._in_main = False
        self._annotation = 0  # > 0: names types only (annotations, TYPE_CHECKING); not recorded
        self._stmt: ast.stmt = ast.Pass()
        self._scope = self.module
        self._deferred: list[tuple[ast.AST, Scope, Path, bool, bool]] = []
        self._visit_body(tree.body)
        self._run_deferred()

    def with_returns(self, returns: Optional[Mapping[str, str]]) -> ModuleIndex:
        """This index resolving calls with another ``returns`` table. The scopes, bindings and
        sites are shared (walking the tree is what costs); only resolutions, which depend on
        the table, are memoised anew."""
        other = object.__new__(ModuleIndex)
        other.__dict__.update(self.__dict__)
        other.returns = returns or {}
        other._memo = {}
        other._busy = set()
        return other

    def release(self) -> None:
        """Break the index's reference cycles (a scope holds its bindings, a binding its
        scope) so that reference counting frees it, and the tree it points into, at once: the
        engine runs with the cyclic collector mostly off (see engine._gc_tuned). The index is
        unusable afterwards."""
        for scope in self._scopes:
            scope.bindings = {}
        self._scopes = []
        self._memo = {}

    # -- resolution ----------------------------------------------------------------------------
    def lookup(
        self, scope: Scope, name: str, order: Optional[int], path: Optional[Path] = None
    ) -> list[Value]:
        """Values ``name`` may have when read in ``scope`` at ``order``, in branches ``path``.

        ``order=None`` reads it after the scope has run (a closure or a global read from a
        function); ``path=None`` stands for the scope's own level.
        """
        found = self._reaching(scope, name, order, path)
        if found is not None:
            return [v for b in found for v in self._binding_values(b)]
        out = [Value(f"{mod}.{name}") for mod in self.module.stars]
        if name in _BUILTIN_NAMES:
            out.append(Value(f"builtins.{name}"))
        return out

    def reaching_bindings(
        self, scope: Scope, name: str, order: Optional[int], path: Optional[Path] = None
    ) -> list[Binding]:
        """The bindings of ``name`` that may reach a read in ``scope`` at ``order`` (latest
        first), found as :meth:`lookup` finds values. A binding's ``expr`` is the bound value
        (None for imports, parameters, loop, ``with`` and ``except`` targets); its ``scope``,
        ``order`` and ``path`` are where that value is evaluated."""
        return self._reaching(scope, name, order, path) or []

    def _reaching(
        self, scope: Scope, name: str, order: Optional[int], path: Optional[Path]
    ) -> Optional[list[Binding]]:
        """Scope walk shared by :meth:`lookup` and :meth:`reaching_bindings`; None when the
        name is not bound in any enclosing scope (a builtin, a star import, or unknown)."""
        s: Optional[Scope] = scope
        o = order
        u = scope.path if path is None else path
        skip_class = False
        while s is not None:
            if s.kind == "class" and skip_class:
                s = s.parent
                continue
            if name in s.globals:
                s, o, u = self.module, None, ()
                continue
            if name in s.bindings and name not in s.nonlocals:
                bindings = s.bindings[name]
                if o is None or s.kind == "function" or _bound_before(bindings, o, s):
                    return self._select(bindings, o, u)
                # Not bound yet: a class body or the module reads the enclosing scope or the
                # builtins instead (a function would raise UnboundLocalError).
            if s.kind == "function":
                o, u = None, s.path
            if s.kind != "module":
                skip_class = True
            s = s.parent
        return None

    def _select(self, bindings: list[Binding], order: Optional[int], use: Path) -> list[Binding]:
        """The bindings that may reach a use (latest first): walking back from the latest one
        before the use until a binding that runs on every path to it."""
        pre = bindings if order is None else [b for b in bindings if b.order < order]
        if not pre:
            pre = bindings  # a function local read before its binding: the name is never global
        out: list[Binding] = []
        covered: dict[tuple[Path, int], set[int]] = {}
        for b in reversed(pre):
            if self._excluded(b.path, use):
                continue
            out.append(b)
            if self._reaches_all(b.path, use, covered):
                break
        return out

    def _excluded(self, path: Path, use: Path) -> bool:
        """The binding sits in another branch of an if/match that the use is in."""
        for x, y in zip(path, use):
            if x != y:
                return x[0] == y[0] and x[0] in self._alternatives
        return False

    def _reaches_all(
        self, path: Path, use: Path, covered: dict[tuple[Path, int], set[int]]
    ) -> bool:
        """Whether the bindings seen so far (latest first) rebind the name on every path to
        ``use``, so that no earlier binding can reach it."""
        while True:
            if use[: len(path)] == path:
                return True
            head = path[:-1]
            node, branch = path[-1]
            arity = self._arity.get(node, 0)
            if not arity:
                return False
            seen = covered.setdefault((head, node), set())
            seen.add(branch)
            if len(seen) < arity:
                return False
            path = head

    def _binding_values(self, b: Binding) -> list[Value]:
        if b.static is not None:
            return [b.static]
        key = id(b)
        found = self._memo.get(key)
        if found is not None:
            return found
        if b.expr is None or key in self._busy:
            return []
        self._busy.add(key)
        try:
            found = self._memo[key] = self.resolve(b.expr, b.scope, b.order, b.path)
        finally:
            self._busy.discard(key)
        return found

    def resolve(
        self,
        node: ast.expr,
        scope: Scope,
        order: Optional[int],
        path: Optional[Path] = None,
        calls: int = 0,
    ) -> list[Value]:
        """Qualified names ``node`` may evaluate to (empty when unknown)."""
        attrs: list[str] = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            base = self.lookup(scope, node.id, order, path)
        elif isinstance(node, ast.Call):
            base = self._resolve_call(node, scope, order, path, calls)
        else:
            return []
        if not attrs:
            return base
        suffix = ".".join(reversed(attrs))
        return [Value(f"{v.qname}.{suffix}", v.dynamic) for v in base]

    def _resolve_call(
        self,
        call: ast.Call,
        scope: Scope,
        order: Optional[int],
        path: Optional[Path] = None,
        calls: int = 0,
    ) -> list[Value]:
        out: list[Value] = []
        if calls >= _MAX_CALL_CHAIN:
            # f()()()...: every call of such a chain is a Ref resolved down to its root, so
            # without a bound a chain of n calls costs n^2 resolutions (minutes for a few
            # thousand); no API in the catalogue sits behind more than a few calls.
            return out
        args = call.args
        first = _str_const(args[0]) if args else None
        for f in self.resolve(call.func, scope, order, path, calls + 1):
            q = f.qname
            if q == "builtins.getattr" and len(args) >= 2:
                name = _str_const(args[1])
                if name is not None:
                    how = f'getattr(..., "{name}")'
                    targets = self.resolve(args[0], scope, order, path, calls + 1)
                    out.extend(v.attr(name, how) for v in targets)
            elif q in _DYNAMIC_IMPORTERS and first and not first.startswith("."):
                if q == "importlib.import_module" or _has_fromlist(call):
                    out.append(Value(first, f'{q.rsplit(".", 1)[-1]}("{first}")'))
                else:
                    out.append(Value(first.split(".")[0], f'__import__("{first}")'))
            elif q in self.returns:
                out.append(Value(self.returns[q], f.dynamic))
            else:
                out.append(Value(q + "()", f.dynamic))
        return out

    # -- binding pass --------------------------------------------------------------------------
    def _tick(self) -> int:
        self._order += 1
        return self._order

    def _bind(
        self, name: str, static: Optional[Value] = None, expr: Optional[ast.expr] = None
    ) -> None:
        scope = self._scope
        if name in scope.globals:
            scope = self.module
        elif name in scope.nonlocals:
            s = scope.parent
            while s is not None and (s.kind == "class" or name not in s.bindings):
                if s.kind == "module":
                    break
                s = s.parent
            scope = s or self.module
        b = Binding(self._tick(), self._path, self._scope, static, expr)
        scope.bindings.setdefault(name, []).append(b)

    def _bind_target(self, target: ast.expr, value: Optional[ast.expr]) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, expr=value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            values: list[Optional[ast.expr]]
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                values = list(value.elts)
            else:
                values = [None] * len(target.elts)
            for t, v in zip(target.elts, values):
                self._bind_target(t, v)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, None)
        elif isinstance(target, ast.Attribute):
            self._expr(target.value)
            if value is not None and not self._annotation:
                self.stores.append(
                    AttrStore(
                        target,
                        value,
                        self._scope,
                        self._tick(),
                        self._in_main,
                        self._stmt,
                        self._path,
                    )
                )
        elif isinstance(target, ast.Subscript):
            self._expr(target.value)
            self._expr(target.slice)

    def _visit_body(self, body: Iterable[ast.stmt]) -> None:
        for stmt in body:
            self._stmt_(stmt)

    def _branch(self, node: ast.AST, index: int, body: Iterable[ast.stmt]) -> None:
        saved = self._path
        self._path = (*saved, (id(node), index))
        try:
            self._visit_body(body)
        finally:
            self._path = saved

    def _stmt_(self, node: ast.stmt) -> None:  # one dispatch over statement kinds
        self._stmt = node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                self._expr(d)
            self._arguments_outer(node.args)
            self._annotation += 1
            if node.returns is not None:
                self._expr(node.returns)
            self._annotation -= 1
            self._bind(node.name)
            self._defer(node)
        elif isinstance(node, ast.ClassDef):
            for d in node.decorator_list:
                self._expr(d)
            for b in node.bases:
                self._expr(b)
            for k in node.keywords:
                self._expr(k.value)
            outer = self._scope
            self._scope = Scope("class", outer, self._path)
            self._scopes.append(self._scope)
            self._visit_body(node.body)
            self._scope = outer
            self._bind(node.name)
        elif isinstance(node, ast.Assign):
            self._expr(node.value)
            for t in node.targets:
                self._bind_target(t, node.value)
        elif isinstance(node, ast.AnnAssign):
            self._annotation += 1
            self._expr(node.annotation)
            self._annotation -= 1
            if node.value is not None:
                self._expr(node.value)
                self._bind_target(node.target, node.value)
            elif isinstance(node.target, ast.Name):
                self._bind(node.target.id)
        elif isinstance(node, ast.AugAssign):
            self._expr(node.value)
            if isinstance(node.target, ast.Name):
                self._expr(ast.Name(node.target.id, ast.Load(), **_pos(node.target)))
                self._bind(node.target.id)
            else:
                self._bind_target(node.target, None)
        elif isinstance(node, ast.Import):
            mods = []
            for alias in node.names:
                mods.append(alias.name)
                if alias.asname:
                    self._bind(alias.asname, static=Value(alias.name))
                else:
                    top = alias.name.split(".")[0]
                    self._bind(top, static=Value(top))
            if not self._annotation:
                self.imports.append(ImportSite(node, tuple(mods)))
        elif isinstance(node, ast.ImportFrom):
            mod = ("." * node.level) + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    if node.level == 0:
                        self._scope.stars.append(mod)
                    continue
                self._bind(alias.asname or alias.name, static=Value(f"{mod}.{alias.name}"))
            if not self._annotation:
                self.imports.append(ImportSite(node, (mod,)))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            # The body may run zero times: its bindings are conditional (a branch of arity 0).
            self._expr(node.iter)
            saved = self._path
            self._path = (*saved, (id(node), 0))
            self._bind_target(node.target, None)
            self._path = saved
            self._branch(node, 0, node.body)
            self._visit_body(node.orelse)
        elif isinstance(node, ast.While):
            self._expr(node.test)
            self._branch(node, 0, node.body)
            self._visit_body(node.orelse)
        elif isinstance(node, ast.If):
            self._expr(node.test)
            self._arity[id(node)] = 2
            self._alternatives.add(id(node))
            was_main = self._in_main
            if is_main_guard(node.test):
                self._in_main = True
            type_only = _is_type_checking(node.test)
            self._annotation += type_only
            self._branch(node, 0, node.body)
            self._annotation -= type_only
            self._in_main = was_main
            self._branch(node, 1, node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self._expr(item.context_expr)
                if item.optional_vars is not None:
                    self._bind_target(item.optional_vars, None)
            self._visit_body(node.body)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self._try(node)
        elif isinstance(node, ast.Global):
            self._scope.globals.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            self._scope.nonlocals.update(node.names)
        elif type(node).__name__ == "Match":
            self._match(node)
        elif type(node).__name__ == "TypeAlias":
            self._bind(node.name.id)  # type: ignore[attr-defined]
        else:
            for child in children(node):
                if isinstance(child, ast.expr):
                    self._expr(child)

    def _try(self, node: ast.stmt) -> None:
        # A name bound in the body (or else) and in every handler is bound on every path past
        # the try: an exception that no handler catches never gets there.
        self._arity[id(node)] = 1 + len(node.handlers)  # type: ignore[attr-defined]
        self._branch(node, 0, node.body)  # type: ignore[attr-defined]
        for i, h in enumerate(node.handlers, start=1):  # type: ignore[attr-defined]
            saved = self._path
            self._path = (*saved, (id(node), i))
            try:
                if h.type is not None:
                    self._expr(h.type)
                if h.name:
                    self._bind(h.name)
                self._visit_body(h.body)
            finally:
                self._path = saved
        self._branch(node, 0, node.orelse)  # type: ignore[attr-defined]
        self._visit_body(node.finalbody)  # type: ignore[attr-defined]

    def _match(self, node: ast.stmt) -> None:
        self._expr(node.subject)  # type: ignore[attr-defined]
        cases = node.cases  # type: ignore[attr-defined]
        self._alternatives.add(id(node))
        if cases and _is_wildcard_case(cases[-1]):
            self._arity[id(node)] = len(cases)
        for i, case in enumerate(cases):
            saved = self._path
            self._path = (*saved, (id(node), i))
            try:
                for sub in walk(case.pattern):
                    name = getattr(sub, "name", None) or getattr(sub, "rest", None)
                    if isinstance(name, str):
                        self._bind(name)
                    if isinstance(sub, ast.expr):
                        self._expr(sub)
                if case.guard is not None:
                    self._expr(case.guard)
                self._visit_body(case.body)
            finally:
                self._path = saved

    def _arguments_outer(self, args: ast.arguments) -> None:
        for d in [*args.defaults, *[d for d in args.kw_defaults if d is not None]]:
            self._expr(d)
        self._annotation += 1
        for a in _all_args(args):
            if a.annotation is not None:
                self._expr(a.annotation)
        self._annotation -= 1

    def _defer(self, node: ast.AST) -> None:
        path = self._path
        self._deferred.append((node, self._scope, path, self._in_main, self._annotation > 0))

    def _run_deferred(self) -> None:
        # Function bodies run after the enclosing scope is complete: bind them last.
        while self._deferred:
            node, outer, path, in_main, type_only = self._deferred.pop(0)
            saved = (self._scope, self._path, self._in_main, self._annotation)
            self._scope = Scope("function", outer, path)
            self._scopes.append(self._scope)
            self._path = path
            self._in_main = in_main
            self._annotation = int(type_only)
            if isinstance(node, ast.Lambda):
                for a in _all_args(node.args):
                    self._bind(a.arg)
                self._expr(node.body)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for a in _all_args(node.args):
                    self._bind(a.arg)
                # Globals/nonlocals are declared anywhere in the body but apply to all of it.
                for sub in _own_statements(node.body):
                    if isinstance(sub, ast.Global):
                        self._scope.globals.update(sub.names)
                    elif isinstance(sub, ast.Nonlocal):
                        self._scope.nonlocals.update(sub.names)
                self._visit_body(node.body)
            self._scope, self._path, self._in_main, self._annotation = saved

    # -- expressions ---------------------------------------------------------------------------
    def _expr(self, node: ast.expr) -> None:  # one dispatch over expression kinds
        stack: list[ast.AST] = [node]
        while stack:
            n = stack.pop()
            kind = type(n)
            if kind in _LEAVES:
                continue
            if kind is ast.Name:
                assert isinstance(n, ast.Name)
                if type(n.ctx) is ast.Load:
                    self._record_chain(n, None)
                else:
                    self._bind(n.id)
            elif kind is ast.Attribute:
                assert isinstance(n, ast.Attribute)
                if type(n.ctx) is ast.Load:
                    root = self._record_chain(n, None)
                    stack.append(root)
                else:
                    stack.append(n.value)
            elif isinstance(n, ast.Call):
                root = self._record_chain(n.func, n)
                args = [*n.args, *(k.value for k in n.keywords)]
                if isinstance(n.func, ast.Name) and n.func.id in _TYPE_TESTS and len(args) == 2:
                    # isinstance(x, T): T is only compared against, never called
                    self._annotation += 1
                    self._expr(args.pop())
                    self._annotation -= 1
                stack.extend(reversed(args))
                stack.append(root)
            elif isinstance(n, ast.Lambda):
                self._arguments_outer(n.args)
                self._defer(n)
            elif isinstance(n, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                self._comprehension(n)
            elif isinstance(n, ast.NamedExpr):
                stack.append(n.value)
                if isinstance(n.target, ast.Name):
                    saved = self._scope
                    while self._scope.kind == "comprehension" and self._scope.parent:
                        self._scope = self._scope.parent
                    self._bind(n.target.id, expr=n.value)
                    self._scope = saved
            else:
                stack.extend(reversed(children(n)))

    def _comprehension(
        self, node: Union[ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp]
    ) -> None:
        gens = node.generators
        self._expr(gens[0].iter)
        outer = self._scope
        self._scope = Scope("comprehension", outer, self._path)
        self._scopes.append(self._scope)
        for i, g in enumerate(gens):
            if i:
                self._expr(g.iter)
            self._bind_target(g.target, None)
            for cond in g.ifs:
                self._expr(cond)
        if isinstance(node, ast.DictComp):
            self._expr(node.key)
            self._expr(node.value)
        else:
            self._expr(node.elt)
        self._scope = outer

    def _record_chain(self, node: ast.expr, call: Optional[ast.Call]) -> ast.expr:
        attrs: list[str] = []
        root = node
        while isinstance(root, ast.Attribute):
            attrs.append(root.attr)
            root = root.value
        if self._annotation == 0 and isinstance(root, (ast.Name, ast.Call)):
            self.refs.append(
                Ref(
                    node,
                    root,
                    tuple(reversed(attrs)),
                    self._scope,
                    self._tick(),
                    self._in_main,
                    self._stmt,
                    call,
                    self._path,
                )
            )
        if isinstance(root, ast.Name):
            return ast.Constant(None)  # nothing more to visit
        return root

    # -- queries -------------------------------------------------------------------------------
    def chain_values(self, ref: Ref) -> Iterator[tuple[Value, int]]:
        """(value, number of attrs used) for the chain and each prefix, longest first."""
        if isinstance(ref.root, ast.Name):
            base = self.lookup(ref.scope, ref.root.id, ref.order, ref.path)
        else:
            assert isinstance(ref.root, ast.Call)
            base = self._resolve_call(ref.root, ref.scope, ref.order, ref.path)
        for v in base:
            for k in range(len(ref.attrs), -1, -1):
                q = v.qname + "".join("." + a for a in ref.attrs[:k])
                yield Value(q, v.dynamic), k


# Nodes with nothing to record below them: skipped without asking for their children (most of
# the nodes an expression walk meets; iter_child_nodes on each was a fifth of the index's time)
_LEAVES = frozenset(
    {ast.Constant}
    | {
        kind
        for base in (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
        for kind in base.__subclasses__()
    }
)


def _str_const(node: ast.expr) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _has_fromlist(call: ast.Call) -> bool:
    candidates = list(call.args[3:4]) + [k.value for k in call.keywords if k.arg == "fromlist"]
    for c in candidates:
        if isinstance(c, (ast.List, ast.Tuple)) and c.elts:
            return True
        if isinstance(c, ast.Constant) and c.value:
            return True
    return False


def _all_args(args: ast.arguments) -> list[ast.arg]:
    out = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    if args.vararg:
        out.append(args.vararg)
    if args.kwarg:
        out.append(args.kwarg)
    return out


def _own_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a function body, not descending into nested scopes."""
    stack = list(body)
    while stack:
        s = stack.pop()
        yield s
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for child in children(s):
            if isinstance(child, ast.stmt):
                stack.append(child)
            elif isinstance(child, ast.excepthandler) or type(child).__name__ == "match_case":
                stack.extend(c for c in children(child) if isinstance(c, ast.stmt))


def _pos(node: ast.expr) -> dict[str, int]:
    return {
        "lineno": node.lineno,
        "col_offset": node.col_offset,
        "end_lineno": node.end_lineno or node.lineno,
        "end_col_offset": node.end_col_offset or node.col_offset,
    }


def names_reaching(touch: set[str], bound: Iterable[tuple[str, ast.expr]]) -> set[str]:
    """``touch`` grown to a fixpoint with every name bound (``bound``: name, expression) to an
    expression that mentions a name already in it: the names that may hold what ``touch``
    holds. Each expression's names are collected once; the rounds only intersect sets."""
    touch = set(touch)
    mentions = [
        (name, {n.id for n in walk(expr) if isinstance(n, ast.Name)})
        for name, expr in bound
        if name not in touch
    ]
    changed = True
    while changed and mentions:
        changed = False
        rest = []
        for name, names in mentions:
            if name in touch:
                continue
            if not names.isdisjoint(touch):
                touch.add(name)
                changed = True
            else:
                rest.append((name, names))
        mentions = rest
    return touch
