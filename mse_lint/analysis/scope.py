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

Why one module of about 1,000 lines: the binder, the resolver and the records they share
(``Scope``, ``Binding``, ``Ref``) are one algorithm over one pass. The resolver reads the
binder's private state (the branch paths, the order counter, the deferred function bodies)
at every use, and that state is laid out for speed (tuples made with ``tuple.__new__``, no
attribute lookups in the walk): splitting it would make that state a public interface in
exchange for no separately usable part.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, Optional, Union

from mse_lint.analysis.astwalk import children, walk
from mse_lint.core.record import Frozen

_BUILTIN_NAMES = frozenset(dir(builtins))
_DYNAMIC_IMPORTERS = {"builtins.__import__", "importlib.import_module", "importlib.__import__"}
_TYPE_TESTS = frozenset({"isinstance", "issubclass"})

# Where a binding or a use sits among the branches of its scope: (branch statement, arm) pairs,
# outermost first (not a file path)
BranchPath = tuple[tuple[int, int], ...]
_MAX_CALL_CHAIN = 16


class Value(Frozen):
    """A resolved value: a qualified name, and how it was reached if not statically."""

    qname: str
    dynamic: Optional[str] = None

    def __init__(self, qname: str, dynamic: Optional[str] = None) -> None:
        # made by the thousand: fields written straight into the instance dict (no
        # object.__setattr__ call each), equality without the loop over the fields
        d = self.__dict__
        d["qname"] = qname
        d["dynamic"] = dynamic

    def _values(self) -> tuple[Any, ...]:
        return (self.qname, self.dynamic)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self.__dict__ == other.__dict__
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.qname, self.dynamic))

    def attr(self, name: str, dynamic: Optional[str] = None) -> Value:
        return Value(f"{self.qname}.{name}", dynamic or self.dynamic)


class Binding:
    __slots__ = ("expr", "order", "path", "scope", "static")

    def __init__(
        self,
        order: int,
        path: BranchPath,
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

    def __init__(self, kind: str, parent: Optional[Scope], path: BranchPath = ()) -> None:
        self.kind = kind  # module | class | function | comprehension
        self.parent = parent
        self.path = path  # the branches the scope's definition sits in
        self.bindings: dict[str, list[Binding]] = {}
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.stars: list[str] = []


# The records below are built by the thousand per file: named tuples cost a fifth of a frozen
# dataclass's __init__ (one object.__setattr__ per field), and compare and hash alike.
class Ref(NamedTuple):
    """A maximal ``root.a.b`` chain in load context; ``call`` is set when it is a callee."""

    node: ast.expr
    root: ast.expr
    attrs: tuple[str, ...]
    scope: Scope
    order: int
    in_main: bool
    stmt: ast.stmt
    call: Optional[ast.Call] = None
    path: BranchPath = ()


# A record made without the Python-level __new__ of a named tuple: all fields given, in order
_tuple_new: Callable[..., Any] = tuple.__new__


class AttrStore(NamedTuple):
    target: ast.Attribute
    value: ast.expr
    scope: Scope
    order: int
    in_main: bool
    stmt: ast.stmt
    path: BranchPath = ()


class ImportSite(NamedTuple):
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
        self._path: BranchPath = ()  # immutable: records share it
        # Branching statements by id: how many branches rebinding a name makes it unconditional
        # (0: never, e.g. loops and if without else), and which ones are mutually exclusive.
        self._arity: dict[int, int] = {}
        self._alternatives: set[int] = set()
        self._in_main = False
        self._annotation = 0  # > 0: names types only (annotations, TYPE_CHECKING); not recorded
        self._stmt: ast.stmt = ast.Pass()
        self._scope = self.module
        self._deferred: list[tuple[ast.AST, Scope, BranchPath, bool, bool]] = []
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
        self, scope: Scope, name: str, order: Optional[int], path: Optional[BranchPath] = None
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
        self, scope: Scope, name: str, order: Optional[int], path: Optional[BranchPath] = None
    ) -> list[Binding]:
        """The bindings of ``name`` that may reach a read in ``scope`` at ``order`` (latest
        first), found as :meth:`lookup` finds values. A binding's ``expr`` is the bound value
        (None for imports, parameters, loop, ``with`` and ``except`` targets); its ``scope``,
        ``order`` and ``path`` are where that value is evaluated."""
        return self._reaching(scope, name, order, path) or []

    def _reaching(
        self, scope: Scope, name: str, order: Optional[int], path: Optional[BranchPath]
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

    def _select(
        self, bindings: list[Binding], order: Optional[int], use: BranchPath
    ) -> list[Binding]:
        """The bindings that may reach a use (latest first): walking back from the latest one
        before the use until a binding that runs on every path to it."""
        pre = bindings if order is None else [b for b in bindings if b.order < order]
        if not pre:
            pre = bindings  # a function local read before its binding: the name is never global
        out: list[Binding] = []
        covered: dict[tuple[BranchPath, int], set[int]] = {}
        for b in reversed(pre):
            if self._excluded(b.path, use):
                continue
            out.append(b)
            if self._reaches_all(b.path, use, covered):
                break
        return out

    def _excluded(self, path: BranchPath, use: BranchPath) -> bool:
        """The binding sits in another branch of an if/match that the use is in."""
        for x, y in zip(path, use):
            if x != y:
                return x[0] == y[0] and x[0] in self._alternatives
        return False

    def _reaches_all(
        self, path: BranchPath, use: BranchPath, covered: dict[tuple[BranchPath, int], set[int]]
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
        path: Optional[BranchPath] = None,
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
        path: Optional[BranchPath] = None,
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
    # Statements and expressions are dispatched on ``type(node)`` (tables below the class): the
    # parser makes no subclasses, and an isinstance chain tried a dozen classes per node.
    def _bind(
        self, name: str, static: Optional[Value] = None, expr: Optional[ast.expr] = None
    ) -> None:
        scope = here = self._scope
        if name in scope.globals:
            scope = self.module
        elif name in scope.nonlocals:
            s = scope.parent
            while s is not None and (s.kind == "class" or name not in s.bindings):
                if s.kind == "module":
                    break
                s = s.parent
            scope = s or self.module
        self._order += 1
        b = Binding(self._order, self._path, here, static, expr)
        found = scope.bindings.get(name)
        if found is None:
            scope.bindings[name] = [b]
        else:
            found.append(b)

    def _bind_target(self, target: ast.expr, value: Optional[ast.expr]) -> None:
        kind = type(target)
        if kind is ast.Name:
            self._bind(target.id, expr=value)  # type: ignore[attr-defined]
        elif kind is ast.Tuple or kind is ast.List:
            elts = target.elts  # type: ignore[attr-defined]
            values: list[Optional[ast.expr]]
            if type(value) in _SEQUENCES and len(value.elts) == len(elts):  # type: ignore[union-attr]
                values = list(value.elts)  # type: ignore[union-attr]
            else:
                values = [None] * len(elts)
            for t, v in zip(elts, values):
                self._bind_target(t, v)
        elif kind is ast.Starred:
            self._bind_target(target.value, None)  # type: ignore[attr-defined]
        elif kind is ast.Attribute:
            assert isinstance(target, ast.Attribute)
            self._expr(target.value)
            if value is not None and not self._annotation:
                self._order += 1
                self.stores.append(
                    AttrStore(
                        target,
                        value,
                        self._scope,
                        self._order,
                        self._in_main,
                        self._stmt,
                        self._path,
                    )
                )
        elif kind is ast.Subscript:
            self._expr(target.value)  # type: ignore[attr-defined]
            self._expr(target.slice)  # type: ignore[attr-defined]

    def _visit_body(self, body: Iterable[ast.stmt]) -> None:
        handlers = _STMT_HANDLERS
        other = ModuleIndex._s_other
        for stmt in body:
            self._stmt = stmt
            handlers.get(type(stmt), other)(self, stmt)

    def _branch(self, node: ast.AST, index: int, body: Iterable[ast.stmt]) -> None:
        saved = self._path
        self._path = (*saved, (id(node), index))
        try:
            self._visit_body(body)
        finally:
            self._path = saved

    # One handler per statement kind; self._stmt is the statement (or, after a nested body was
    # visited, that body's last statement).
    def _s_def(self, node: Union[ast.FunctionDef, ast.AsyncFunctionDef]) -> None:
        for d in node.decorator_list:
            self._expr(d)
        self._arguments_outer(node.args)
        if node.returns is not None:
            self._annotation += 1
            self._expr(node.returns)
            self._annotation -= 1
        self._bind(node.name)
        self._defer(node)

    def _s_class(self, node: ast.ClassDef) -> None:
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

    def _s_assign(self, node: ast.Assign) -> None:
        self._expr(node.value)
        for t in node.targets:
            self._bind_target(t, node.value)

    def _s_annassign(self, node: ast.AnnAssign) -> None:
        self._annotation += 1
        self._expr(node.annotation)
        self._annotation -= 1
        if node.value is not None:
            self._expr(node.value)
            self._bind_target(node.target, node.value)
        elif type(node.target) is ast.Name:
            self._bind(node.target.id)

    def _s_augassign(self, node: ast.AugAssign) -> None:
        self._expr(node.value)
        if type(node.target) is ast.Name:
            self._expr(ast.Name(node.target.id, ast.Load(), **_pos(node.target)))
            self._bind(node.target.id)
        else:
            self._bind_target(node.target, None)

    def _s_import(self, node: ast.Import) -> None:
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

    def _s_importfrom(self, node: ast.ImportFrom) -> None:
        mod = ("." * node.level) + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                if node.level == 0:
                    self._scope.stars.append(mod)
                continue
            self._bind(alias.asname or alias.name, static=Value(f"{mod}.{alias.name}"))
        if not self._annotation:
            self.imports.append(ImportSite(node, (mod,)))

    def _s_for(self, node: Union[ast.For, ast.AsyncFor]) -> None:
        # The body may run zero times: its bindings are conditional (a branch of arity 0).
        self._expr(node.iter)
        saved = self._path
        self._path = (*saved, (id(node), 0))
        self._bind_target(node.target, None)
        self._path = saved
        self._branch(node, 0, node.body)
        self._visit_body(node.orelse)

    def _s_while(self, node: ast.While) -> None:
        self._expr(node.test)
        self._branch(node, 0, node.body)
        self._visit_body(node.orelse)

    def _s_if(self, node: ast.If) -> None:
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

    def _s_with(self, node: Union[ast.With, ast.AsyncWith]) -> None:
        for item in node.items:
            self._expr(item.context_expr)
            if item.optional_vars is not None:
                self._bind_target(item.optional_vars, None)
        self._visit_body(node.body)

    def _s_global(self, node: ast.Global) -> None:
        self._scope.globals.update(node.names)

    def _s_nonlocal(self, node: ast.Nonlocal) -> None:
        self._scope.nonlocals.update(node.names)

    def _s_typealias(self, node: ast.stmt) -> None:
        self._bind(node.name.id)  # type: ignore[attr-defined]

    def _s_expr(self, node: ast.Expr) -> None:
        self._expr(node.value)

    def _s_return(self, node: ast.Return) -> None:
        if node.value is not None:
            self._expr(node.value)

    def _s_pass(self, node: ast.stmt) -> None:
        pass

    def _s_other(self, node: ast.stmt) -> None:
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
        for d in args.defaults:
            self._expr(d)
        for k in args.kw_defaults:
            if k is not None:
                self._expr(k)
        self._annotation += 1
        for a in _all_args(args):
            if a.annotation is not None:
                self._expr(a.annotation)
        self._annotation -= 1

    def _defer(self, node: ast.AST) -> None:
        path = self._path
        self._deferred.append((node, self._scope, path, self._in_main, self._annotation > 0))

    def _run_deferred(self) -> None:
        # Function bodies run after the enclosing scope is complete: bind them last, in the
        # order they were met (a queue that grows while it is worked off).
        deferred = self._deferred
        i = 0
        while i < len(deferred):
            node, outer, path, in_main, type_only = deferred[i]
            i += 1
            saved = (self._scope, self._path, self._in_main, self._annotation)
            self._scope = Scope("function", outer, path)
            self._scopes.append(self._scope)
            self._path = path
            self._in_main = in_main
            self._annotation = int(type_only)
            if type(node) is ast.Lambda:
                assert isinstance(node, ast.Lambda)
                for a in _all_args(node.args):
                    self._bind(a.arg)
                self._expr(node.body)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for a in _all_args(node.args):
                    self._bind(a.arg)
                # Globals/nonlocals are declared anywhere in the body but apply to all of it.
                _declare(node.body, self._scope)
                self._visit_body(node.body)
            self._scope, self._path, self._in_main, self._annotation = saved
        deferred.clear()

    # -- expressions ---------------------------------------------------------------------------
    def _expr(self, node: ast.expr) -> None:
        """Record the chains and bind the names of one expression, in evaluation order (a
        depth-first walk, children left to right)."""
        kind = type(node)
        if kind is _Constant:
            return
        if kind is _Name and type(node.ctx) is _Load:  # type: ignore[attr-defined]
            self._name_ref(node)
            return
        # Nothing below changes these for long: a comprehension, walrus or type test changes
        # and restores them before the walk goes on.
        scope, in_main, stmt, path = self._scope, self._in_main, self._stmt, self._path
        record = not self._annotation
        refs = self.refs
        stack: list[Any] = [node]
        pop, push = stack.pop, stack.append
        while stack:
            n = pop()
            kind = type(n)
            fields = _EXPR_KIDS.get(kind)
            if fields is not None:  # no binding or chain at this node: its children
                for f in fields:
                    v = getattr(n, f)
                    if type(v) is list:
                        stack.extend(reversed(v))
                    elif v is not None:
                        push(v)
            elif kind is _Name:
                if type(n.ctx) is _Load:
                    if record:
                        self._order += 1
                        item = (n, n, (), scope, self._order, in_main, stmt, None, path)
                        refs.append(_tuple_new(Ref, item))
                else:
                    self._bind(n.id)
            elif kind is _Attribute or kind is _Call:
                if kind is _Attribute:
                    if type(n.ctx) is not _Load:
                        push(n.value)
                        continue
                    chain, call = n, None
                else:
                    chain, call = n.func, n
                # the maximal chain a.b.c down to its root, a Name or a Call (recorded) or
                # another expression (only walked)
                attrs: list[str] = []
                root = chain
                while type(root) is _Attribute:
                    attrs.append(root.attr)
                    root = root.value
                rkind = type(root)
                if record and (rkind is _Name or rkind is _Call):
                    attrs.reverse()
                    self._order = order = self._order + 1
                    ref = (chain, root, tuple(attrs), scope, order, in_main, stmt, call, path)
                    refs.append(_tuple_new(Ref, ref))
                if call is not None:
                    stack.extend(reversed(self._call_args(call)))
                if rkind is not _Name:
                    push(root)
            elif kind in _COMPREHENSIONS:
                self._comprehension(n)
            elif kind is ast.Lambda:
                self._arguments_outer(n.args)
                self._defer(n)
            elif kind is ast.NamedExpr:
                push(n.value)
                self._walrus(n)
            else:  # a dict (keys may be None), or a kind this table does not know: every child
                stack.extend(reversed(children(n)))

    def _name_ref(self, node: ast.expr) -> None:
        """The chain of an expression that is one name read."""
        if not self._annotation:
            self._order += 1
            item = (node, node, (), self._scope, self._order, self._in_main, self._stmt, None)
            self.refs.append(_tuple_new(Ref, (*item, self._path)))

    def _call_args(self, call: ast.Call) -> list[ast.expr]:
        """The arguments of a call still to walk, in order; the type of ``isinstance(x, T)``
        is walked here, as an annotation (only compared against, never called)."""
        args = call.args
        if call.keywords:
            args = [*args, *(k.value for k in call.keywords)]
        func = call.func
        if type(func) is _Name and func.id in _TYPE_TESTS and len(args) == 2:
            self._annotation += 1
            self._expr(args[1])
            self._annotation -= 1
            args = args[:1]
        return args

    def _walrus(self, node: ast.NamedExpr) -> None:
        """``(x := ...)`` binds ``x`` in the scope around any comprehension it is in."""
        if type(node.target) is _Name:
            saved = self._scope
            while self._scope.kind == "comprehension" and self._scope.parent:
                self._scope = self._scope.parent
            self._bind(node.target.id, expr=node.value)
            self._scope = saved

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
        if type(node) is ast.DictComp:
            self._expr(node.key)
            self._expr(node.value)
        else:
            self._expr(node.elt)  # type: ignore[union-attr]
        self._scope = outer

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


_Name, _Attribute, _Call, _Constant, _Load = (
    ast.Name,
    ast.Attribute,
    ast.Call,
    ast.Constant,
    ast.Load,
)
_SEQUENCES = frozenset({ast.Tuple, ast.List})
_COMPREHENSIONS = frozenset({ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp})

# Expression kinds with no binding or chain of their own: the fields that may hold child nodes,
# in ``_fields`` order (operators and contexts are left out: nothing below them to record).
# Most of the nodes an expression walk meets are these or leaves (Constant, the operators).
# Reversed: the walk pushes them on a stack.
_EXPR_KIDS: dict[type, tuple[str, ...]] = {
    kind: tuple(f for f in reversed(kind._fields) if f not in {"op", "ops", "ctx", "conversion"})
    for kind in (
        ast.BoolOp,
        ast.BinOp,
        ast.UnaryOp,
        ast.IfExp,
        ast.Set,
        ast.Await,
        ast.Yield,
        ast.YieldFrom,
        ast.Compare,
        ast.FormattedValue,
        ast.JoinedStr,
        ast.Subscript,
        ast.Starred,
        ast.List,
        ast.Tuple,
        ast.Slice,
    )
}
_EXPR_KIDS[ast.Constant] = ()
for _base in (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop):
    for _kind in _base.__subclasses__():
        _EXPR_KIDS[_kind] = ()

_STMT_HANDLERS: dict[type, Callable[[ModuleIndex, Any], None]] = {
    ast.FunctionDef: ModuleIndex._s_def,
    ast.AsyncFunctionDef: ModuleIndex._s_def,
    ast.ClassDef: ModuleIndex._s_class,
    ast.Assign: ModuleIndex._s_assign,
    ast.AnnAssign: ModuleIndex._s_annassign,
    ast.AugAssign: ModuleIndex._s_augassign,
    ast.Import: ModuleIndex._s_import,
    ast.ImportFrom: ModuleIndex._s_importfrom,
    ast.For: ModuleIndex._s_for,
    ast.AsyncFor: ModuleIndex._s_for,
    ast.While: ModuleIndex._s_while,
    ast.If: ModuleIndex._s_if,
    ast.With: ModuleIndex._s_with,
    ast.AsyncWith: ModuleIndex._s_with,
    ast.Try: ModuleIndex._try,
    ast.Global: ModuleIndex._s_global,
    ast.Nonlocal: ModuleIndex._s_nonlocal,
    ast.Expr: ModuleIndex._s_expr,
    ast.Return: ModuleIndex._s_return,
    ast.Pass: ModuleIndex._s_pass,
    ast.Break: ModuleIndex._s_pass,
    ast.Continue: ModuleIndex._s_pass,
}
for _name, _handler in (
    ("TryStar", ModuleIndex._try),
    ("Match", ModuleIndex._match),
    ("TypeAlias", ModuleIndex._s_typealias),
):
    if hasattr(ast, _name):
        _STMT_HANDLERS[getattr(ast, _name)] = _handler

# For finding a function's global and nonlocal statements: where statements nest in statements
# (other than nested scopes, which declare for themselves)
_NESTED_BODIES: dict[type, tuple[str, ...]] = {
    ast.If: ("body", "orelse"),
    ast.For: ("body", "orelse"),
    ast.AsyncFor: ("body", "orelse"),
    ast.While: ("body", "orelse"),
    ast.With: ("body",),
    ast.AsyncWith: ("body",),
    ast.Try: ("body", "handlers", "orelse", "finalbody"),
    ast.ExceptHandler: ("body",),
}
for _name, _fields in (
    ("TryStar", ("body", "handlers", "orelse", "finalbody")),
    ("Match", ("cases",)),
    ("match_case", ("body",)),
):
    if hasattr(ast, _name):
        _NESTED_BODIES[getattr(ast, _name)] = _fields
_NO_NESTED_DECLARATIONS = frozenset(
    {
        ast.Expr,
        ast.Assign,
        ast.AugAssign,
        ast.AnnAssign,
        ast.Return,
        ast.Raise,
        ast.Assert,
        ast.Delete,
        ast.Pass,
        ast.Break,
        ast.Continue,
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
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


def _declare(body: list[ast.stmt], scope: Scope) -> None:
    """Apply the ``global`` and ``nonlocal`` statements of a function body, not descending
    into nested scopes, to the function's scope."""
    stack: list[Any] = list(body)
    while stack:
        s = stack.pop()
        kind = type(s)
        if kind in _NO_NESTED_DECLARATIONS:
            continue
        if kind is ast.Global:
            scope.globals.update(s.names)
        elif kind is ast.Nonlocal:
            scope.nonlocals.update(s.names)
        elif kind in _NESTED_BODIES:
            for f in _NESTED_BODIES[kind]:
                stack.extend(getattr(s, f))
        else:  # a statement kind this table does not know (a newer Python's)
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
