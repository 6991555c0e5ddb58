"""MSE601-MSE603: what the enclave's runtime does not offer: host signals, more than 256
threads, the host's binaries, users and time zones, ports of the app's own. The APIs are data
(rules/runtime.toml); names are resolved through scopes (mse_lint.analysis.scope)."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Optional

from mse_lint.analysis.astwalk import children, walk
from mse_lint.analysis.scope import ModuleIndex, Ref, Scope, names_reaching
from mse_lint.checks import FileContext, LazyPattern, meets, name_needs
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic
from mse_lint.core.record import Frozen

if TYPE_CHECKING:
    from mse_lint.checks.distributions import Distributions

# Where a value only decides a branch: `if shutil.which("x"):`, `x is None`, `not x`, `bool(x)`
_TEST_PARENTS = (ast.If, ast.While, ast.IfExp, ast.Assert, ast.BoolOp, ast.UnaryOp)


class Entry(Frozen):
    name: str
    rule: str
    kind: str = "ref"
    note: str = ""
    arg: Optional[str] = None
    pos: Optional[int] = None
    signal: str = ""
    extra: str = ""
    receiver: str = ""

    def covers(self, qname: str) -> bool:
        return fnmatchcase(qname, self.name) if "*" in self.name else qname == self.name


def _entry(raw: Mapping[str, Any]) -> Entry:
    return Entry(
        name=raw["name"],
        rule=raw["rule"],
        kind=raw.get("kind", "ref"),
        note=raw.get("note", ""),
        arg=raw.get("arg"),
        pos=raw.get("pos"),
        signal=raw.get("signal", ""),
        extra=raw.get("extra", ""),
        receiver=raw.get("receiver", ""),
    )


def _argument(call: ast.Call, arg: Optional[str], pos: Optional[int]) -> Optional[ast.expr]:
    for kw in call.keywords:
        if kw.arg is not None and kw.arg == arg:
            return kw.value
    if pos is not None and len(call.args) > pos:
        if any(isinstance(a, ast.Starred) for a in call.args[: pos + 1]):
            return None
        return call.args[pos]
    return None


def _display(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _loop_like(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return "loop" in name.lower()


class RuntimeCheck:
    codes = frozenset({"MSE601", "MSE602", "MSE603"})

    def __init__(self, catalog: Catalog, settings: object = None) -> None:
        data = catalog.data("runtime")
        entries = [_entry(raw) for raw in data.get("api", [])]
        self.methods = {e.name: e for e in entries if e.kind == "method"}
        self.qualified = [e for e in entries if e.kind != "method"]
        plain = [e for e in self.qualified if e.kind != "listen"]
        self.exact = {e.name: e for e in plain if "*" not in e.name}
        self.patterns = [e for e in plain if "*" in e.name]
        self.method_words = frozenset(self.methods) | {"listen"}
        self.tops = frozenset(e.name.split(".")[0] for e in self.qualified)
        threads = data.get("threads", {})
        self.limit = int(threads.get("limit", 256))
        self.reserve = int(threads.get("reserve", 0))
        zones = data.get("zones", {})
        self.builtin_zones = frozenset(zones.get("builtin", ()))
        self.catalog = catalog
        # a file can reach an API only if its text holds the API's own name (or, for a pattern,
        # its module's)
        names = {
            e.name.split(".")[0] if "*" in e.name else e.name.rsplit(".", 1)[-1]
            for e in self.qualified
        }
        words = sorted(names | set(self.methods) | {"listen"})
        self._prefilter = LazyPattern(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b")
        self._needs = name_needs([e.name for e in self.qualified], self.method_words)

    def wants(self, text: str) -> bool:
        if self._needs is None:
            return self._prefilter.get().search(text) is not None
        return meets(self._needs, text)

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        index = ctx.index()
        # built on first need: most files have neither `shutil.which` nor `.listen()`
        lazy: dict[str, Any] = {}

        def parents() -> dict[int, ast.AST]:
            if "parents" not in lazy:
                lazy["parents"] = {
                    id(child): node for node in walk(ctx.tree) for child in children(node)
                }
            return lazy["parents"]  # type: ignore[no-any-return]

        def with_values() -> dict[tuple[int, str], str]:
            if "with" not in lazy:
                lazy["with"] = self._with_values(ctx.tree, index)
            return lazy["with"]  # type: ignore[no-any-return]

        touch = self._touchable(index)
        seen: set[tuple[str, int, int]] = set()
        for ref in index.refs:
            if ref.in_main:
                continue  # never runs in the enclave
            method = ref.attrs[-1] if ref.call is not None and ref.attrs else None
            everything = _STAR in touch  # a star import may bind any API name
            if (
                not everything
                and _root_name(ref.root) not in touch
                and (method not in self.method_words)
            ):
                continue  # cannot reach a catalogued API: skip the resolution
            for entry, node, values in self._matches(index, ref, with_values):
                if entry.kind == "which" and self._only_tested(index, ref, parents()):
                    continue
                if entry.kind == "loop":
                    diag = self._loop_finding(ctx, index, ref, parents())
                else:
                    diag = self._finding(ctx, index, ref, entry, node, values)
                if diag is None:
                    continue
                key = (diag.rule, diag.span.line, diag.span.col)
                if key not in seen:
                    seen.add(key)
                    yield diag

    # -- matching --------------------------------------------------------------------------------
    def _touchable(self, index: ModuleIndex) -> set[str]:
        """Names that may hold a catalogued module or API: bound by importing one, or by an
        expression over such names (to a fixpoint). Other references are never resolved."""
        touch: set[str] = set()
        if index.module.stars:
            return {_STAR}
        pending: list[tuple[str, ast.expr]] = []
        scopes: dict[int, Scope] = {id(index.module): index.module}
        for r in index.refs:
            s: Optional[Scope] = r.scope
            while s is not None and id(s) not in scopes:
                scopes[id(s)] = s
                s = s.parent
        for scope in scopes.values():
            for name, bindings in scope.bindings.items():
                for b in bindings:
                    if b.static is not None and b.static.qname.split(".")[0] in self.tops:
                        touch.add(name)
                    elif b.expr is not None:
                        pending.append((name, b.expr))
        return names_reaching(touch, pending) | {"getattr", "__import__"}

    def _with_values(self, tree: ast.AST, index: ModuleIndex) -> dict[tuple[int, str], str]:
        """``with socket.socket() as s``: the scope and name of ``s`` -> ``socket.socket()``
        (the scope pass leaves with-targets unresolved)."""
        out: dict[tuple[int, str], str] = {}
        calls = {id(r.call): r for r in index.refs if r.call is not None}
        for node in walk(tree):
            if not isinstance(node, (ast.With, ast.AsyncWith)):
                continue
            for item in node.items:
                var, expr = item.optional_vars, item.context_expr
                if not isinstance(var, ast.Name) or not isinstance(expr, ast.Call):
                    continue
                ref = calls.get(id(expr))
                if ref is None:
                    continue
                for value, used in index.chain_values(ref):
                    if used == len(ref.attrs):
                        out[(id(ref.scope), var.id)] = value.qname + "()"
        return out

    def _matches(
        self, index: ModuleIndex, ref: Ref, with_values: Callable[[], Mapping[tuple[int, str], str]]
    ) -> Iterator[tuple[Entry, ast.AST, list[str]]]:
        full = len(ref.attrs)
        values = [v.qname for v, used in index.chain_values(ref) if used == full]
        for q in values:
            hit = self.exact.get(q)
            if hit is None:
                hit = next((e for e in self.patterns if e.covers(q)), None)
            if hit is None:
                continue
            if hit.kind in ("call", "count", "zone", "which", "loop") and ref.call is None:
                continue
            yield hit, ref.call or ref.node, values
            return
        if ref.call is None or not ref.attrs:
            return
        method = ref.attrs[-1]
        receiver = ref.node.value if isinstance(ref.node, ast.Attribute) else None
        if receiver is None:
            return
        if method == "listen":
            owners = [v.qname for v, used in index.chain_values(ref) if used == full - 1]
            if isinstance(ref.root, ast.Name) and full == 1:
                bound = with_values().get((id(ref.scope), ref.root.id))
                if bound is None:
                    bound = self._with_value_outer(ref.scope, ref.root.id, with_values())
                if bound:
                    owners.append(bound)
            for entry in self.qualified:
                if entry.kind == "listen" and f"{entry.name}()" in owners:
                    yield entry, ref.call, values
                    return
        found = self.methods.get(method)
        if found is None:
            return
        if found.receiver == "loop":
            owners = [v.qname for v, used in index.chain_values(ref) if used == full - 1]
            if not (_loop_like(receiver) or any(o.startswith("asyncio.") for o in owners)):
                return
        yield found, ref.call, values

    @staticmethod
    def _with_value_outer(
        scope: Scope, name: str, with_values: Mapping[tuple[int, str], str]
    ) -> Optional[str]:
        s: Optional[Scope] = scope.parent
        while s is not None:
            if name in s.bindings:
                return with_values.get((id(s), name))
            s = s.parent
        return None

    # -- findings --------------------------------------------------------------------------------
    def _finding(
        self,
        ctx: FileContext,
        index: ModuleIndex,
        ref: Ref,
        entry: Entry,
        node: ast.AST,
        values: list[str],
    ) -> Optional[Diagnostic]:
        call = ref.call
        api = f"{_display(call.func)}(...)" if call is not None else _display(ref.node)
        if entry.rule == "MSE601":
            sig = entry.signal
            if not sig and call is not None and call.args:
                first = call.args[0]
                sig = first.attr if isinstance(first, ast.Attribute) else _display(first, 30)
            return ctx.diagnostic(
                "MSE601", node, ref.stmt, api=api, signal=sig or "a signal", extra=entry.extra
            )
        if entry.kind == "count":
            assert call is not None
            count = self._int(index, ref, _argument(call, entry.arg, entry.pos))
            if count is None or count <= self.limit - self.reserve:
                return None
            return ctx.diagnostic(
                "MSE602",
                node,
                ref.stmt,
                api=_display(call),
                count=count,
                reserve=self.reserve,
                limit=self.limit,
            )
        if entry.kind == "zone":
            assert call is not None
            zone = _argument(call, entry.arg, entry.pos)
            if not (isinstance(zone, ast.Constant) and isinstance(zone.value, str)):
                return None
            if zone.value in self.builtin_zones or self._has_tzdata(ctx):
                return None
            return ctx.diagnostic("MSE603", node, ref.stmt, api=_display(call), note=entry.note)
        shown = _display(call) if call is not None else api
        return ctx.diagnostic("MSE603", node, ref.stmt, api=shown, note=entry.note)

    def _loop_finding(
        self, ctx: FileContext, index: ModuleIndex, ref: Ref, parents: Mapping[int, ast.AST]
    ) -> Optional[Diagnostic]:
        """``threading.Thread(...)`` created inside ``for _ in range(300)`` (or a comprehension
        over one): as many threads as the loops turn, nested loops multiplying."""
        call = ref.call
        assert call is not None
        count, node, loops = 1, parents.get(id(call)), []
        child: ast.AST = call
        while node is not None and not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
        ):
            iters: list[ast.expr] = []
            if isinstance(node, (ast.For, ast.AsyncFor)) and child is not node.iter:
                if any(child is s for s in node.body):
                    iters = [node.iter]
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                iters = [g.iter for g in node.generators if g.iter is not child]
            for it in iters:
                n = self._range_len(index, ref, it)
                if n is None:
                    return None  # a loop of unknown length: no count to report
                count *= n
                loops.append(_display(it, 30))
            child, node = node, parents.get(id(node))
        if not loops or count <= self.limit - self.reserve:
            return None
        return ctx.diagnostic(
            "MSE602",
            call,
            ref.stmt,
            api=f"{_display(call.func)}(...) in {' and '.join(loops)}",
            count=count,
            reserve=self.reserve,
            limit=self.limit,
        )

    def _range_len(self, index: ModuleIndex, ref: Ref, it: ast.expr) -> Optional[int]:
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.args):
            return None
        values = index.lookup(ref.scope, it.func.id, ref.order, ref.path)
        if not any(v.qname == "builtins.range" for v in values) or it.keywords:
            return None
        bounds = [self._int(index, ref, a) for a in it.args]
        if any(b is None for b in bounds) or len(bounds) > 3:
            return None
        try:
            return len(range(*bounds))  # type: ignore[arg-type]
        except (ValueError, OverflowError):
            return None

    def _int(self, index: ModuleIndex, ref: Ref, node: Optional[ast.expr]) -> Optional[int]:
        """A literal int, or a name whose only reaching value is one (``WORKERS = 300``)."""
        if isinstance(node, ast.Name):
            bindings = index.reaching_bindings(ref.scope, node.id, ref.order, ref.path)
            if len(bindings) != 1 or bindings[0].expr is None:
                return None
            node = bindings[0].expr
        if node is None:
            return None
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _has_tzdata(self, ctx: FileContext) -> bool:
        reqs = ctx.project.requirements
        if reqs is not None:
            from mse_lint.project.requirements import (
                requirement_names,  # here: only with a requirements.txt
            )

            if "tzdata" in requirement_names(reqs, ctx.target_python):
                return True
        image = (ctx.project.docker or "").strip()
        if not image:
            return False
        held = self._dists.image_distributions(image)
        return held is not None and "tzdata" in held

    @functools.cached_property
    def _dists(self) -> Distributions:
        """The images' dated package lists (pandas 2 brings tzdata, pandas 1.5 did not): built
        only for a file that names a zone other than UTC."""
        from mse_lint.checks.distributions import Distributions

        return Distributions(self.catalog)

    def _only_tested(self, index: ModuleIndex, ref: Ref, parents: Mapping[int, ast.AST]) -> bool:
        """The result of ``shutil.which(...)`` only decides branches: directly, or through a
        variable whose every read is such a test."""
        call = ref.call
        assert call is not None
        if _is_test(call, parents):
            return True
        parent = parents.get(id(call))
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1):
            return False
        target = parent.targets[0]
        if not isinstance(target, ast.Name):
            return False
        reads = []
        for r in index.refs:
            if not (isinstance(r.root, ast.Name) and r.root.id == target.id):
                continue
            bindings = index.reaching_bindings(r.scope, target.id, r.order, r.path)
            if any(b.expr is call for b in bindings):
                reads.append(r)
        return bool(reads) and all(not r.attrs and _is_test(r.node, parents) for r in reads)


_STAR = "*"


def _root_name(root: ast.expr) -> str:
    while isinstance(root, (ast.Call, ast.Attribute)):
        root = root.func if isinstance(root, ast.Call) else root.value
    return root.id if isinstance(root, ast.Name) else ""


def _is_test(node: ast.AST, parents: Mapping[int, ast.AST]) -> bool:
    parent = parents.get(id(node))
    if isinstance(parent, ast.Compare):
        others = [parent.left, *parent.comparators]
        return all(
            o is node or (isinstance(o, ast.Constant) and o.value is None) for o in others
        ) and all(isinstance(op, (ast.Is, ast.IsNot)) for op in parent.ops)
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name):
        return parent.func.id == "bool" and node in parent.args
    if isinstance(parent, ast.UnaryOp):
        return isinstance(parent.op, ast.Not)
    if isinstance(parent, ast.BoolOp):
        return _is_test(parent, parents) or isinstance(parents.get(id(parent)), _TEST_PARENTS)
    if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)):
        return parent.test is node
    return False
