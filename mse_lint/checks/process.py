"""MSE101-MSE109: process creation, resolved through scopes and aliases."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any, Optional

from mse_lint.analysis.scope import ModuleIndex, Ref, names_reaching
from mse_lint.checks import FileContext, LazyPattern, meets, name_needs
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Severity
from mse_lint.core.record import Frozen, replace
from mse_lint.core.record import set_field as _set

_DYNAMIC_RULES = frozenset({"MSE101", "MSE102", "MSE103", "MSE104", "MSE105"})
_NONE = "__none__"
_UNSET = "__unset__"


class _Missing:
    pass


class _Unknown:
    pass


MISSING = _Missing()
UNKNOWN = _Unknown()


class Clause(Frozen):
    op: str
    arg: Optional[str] = None
    pos: Optional[int] = None
    default: Any = MISSING
    value: Any = None

    def __init__(
        self,
        op: str,
        arg: Optional[str] = None,
        pos: Optional[int] = None,
        default: Any = MISSING,
        value: Any = None,
    ) -> None:
        _set(self, "op", op)
        _set(self, "arg", arg)
        _set(self, "pos", pos)
        _set(self, "default", default)
        _set(self, "value", value)


class ApiEntry(Frozen):
    name: str
    rule: str
    kind: str = "ref"
    when: tuple[Clause, ...] = ()
    main: bool = True
    note: str = ""
    needs: str = ""
    tool: str = ""
    result: str = ""
    excepts: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    python: Optional[tuple[int, int]] = None
    # what this API's findings say and weigh when it differs from its rule's defaults (joblib
    # degrades to one core where the rest of MSE107 fails)
    severity: Optional[Severity] = None
    message: str = ""
    fix: str = ""

    def __init__(
        self,
        name: str,
        rule: str,
        kind: str = "ref",
        when: tuple[Clause, ...] = (),
        main: bool = True,
        note: str = "",
        needs: str = "",
        tool: str = "",
        result: str = "",
        excepts: tuple[str, ...] = (),
        files: tuple[str, ...] = (),
        python: Optional[tuple[int, int]] = None,
        severity: Optional[Severity] = None,
        message: str = "",
        fix: str = "",
    ) -> None:
        _set(self, "name", name)
        _set(self, "rule", rule)
        _set(self, "kind", kind)
        _set(self, "when", when)
        _set(self, "main", main)
        _set(self, "note", note)
        _set(self, "needs", needs)
        _set(self, "tool", tool)
        _set(self, "result", result)
        _set(self, "excepts", excepts)
        _set(self, "files", files)
        _set(self, "python", python)
        _set(self, "severity", severity)
        _set(self, "message", message)
        _set(self, "fix", fix)

    @property
    def prefix(self) -> str:
        return self.name.split("*", 1)[0]

    def covers(self, qname: str) -> bool:
        """The pattern matches ``qname``, excepted or not. ``*`` spans submodules and
        attributes (``pathos.*`` covers ``pathos.pools.ProcessPool``), not call results."""
        if "*" not in self.name:
            return qname == self.name
        if not qname.startswith(self.prefix) or "(" in qname[len(self.prefix) :]:
            return False
        return fnmatchcase(qname, self.name)

    def excepted(self, qname: str) -> bool:
        return any(fnmatchcase(qname, e) for e in self.excepts)

    def matches(self, qname: str) -> bool:
        return self.covers(qname) and not self.excepted(qname)


def _decode(value: Any) -> Any:
    if value == _NONE:
        return None
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _entry(raw: Mapping[str, Any]) -> ApiEntry:
    clauses = tuple(
        Clause(
            op=c["op"],
            arg=c.get("arg"),
            pos=c.get("pos"),
            default=_decode(c["default"]) if "default" in c else MISSING,
            value=_decode(c.get("value")),
        )
        for c in raw.get("when", [])
    )
    py = raw.get("python")
    severity = raw.get("severity")
    return ApiEntry(
        name=raw["name"],
        rule=raw["rule"],
        kind=raw.get("kind", "ref"),
        when=clauses,
        main=raw.get("main", True),
        note=raw.get("note", ""),
        needs=raw.get("needs", ""),
        tool=raw.get("tool", ""),
        result=raw.get("result", ""),
        excepts=tuple(raw.get("except", [])),
        files=tuple(raw.get("files", [])),
        python=tuple(int(p) for p in py.split(".")[:2]) if py else None,  # type: ignore[arg-type]
        severity=Severity.parse(severity) if severity else None,
        message=raw.get("message", ""),
        fix=raw.get("fix", ""),
    )


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN


def _argument(call: Optional[ast.Call], clause: Clause) -> Any:
    """The clause's argument value: a literal, MISSING, or UNKNOWN."""
    if call is None:
        return MISSING
    for kw in call.keywords:
        if kw.arg is not None and kw.arg == clause.arg:
            return _literal(kw.value)
    if clause.pos is not None:
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                return UNKNOWN
            if i == clause.pos:
                return _literal(a)
    if any(kw.arg is None for kw in call.keywords):
        return UNKNOWN  # **kwargs may carry it
    return MISSING


def _holds(clause: Clause, value: Any) -> bool:
    if clause.op == "absent":
        return value is MISSING
    if value is MISSING:
        value = clause.default
        if value is MISSING:
            return clause.op in ("falsy", "not_in")
    if value is UNKNOWN or (value == _UNSET and clause.op not in ("in", "not_in")):
        return False
    op = clause.op
    if op == "truthy":
        return bool(value)
    if op == "falsy":
        return not value
    if op == "gt":
        return (
            isinstance(value, (int, float)) and not isinstance(value, bool) and value > clause.value
        )
    if op == "in":
        return any(value == v and type(value) is type(v) for v in clause.value)
    if op == "not_in":
        return not any(value == v and type(value) is type(v) for v in clause.value)
    return False


class ProcessCheck:
    codes = frozenset(f"MSE10{i}" for i in range(1, 10))

    def __init__(self, catalog: Catalog, settings: object = None) -> None:
        data = catalog.data("process")
        entries = [_entry(raw) for raw in data.get("api", [])]
        self.returns: Mapping[str, str] = dict(data.get("returns", {}))
        self.exact: dict[str, list[ApiEntry]] = {}
        self.patterns: list[ApiEntry] = []
        self.methods: dict[str, list[ApiEntry]] = {}
        self.imports: dict[str, list[ApiEntry]] = {}
        self.assigns: dict[str, list[ApiEntry]] = {}
        self.settings: list[ApiEntry] = []
        for e in entries:
            if e.kind == "method":
                self.methods.setdefault(e.name, []).append(e)
            elif e.kind == "import":
                self.imports.setdefault(e.name, []).append(e)
            elif e.kind == "assign":
                self.assigns.setdefault(e.name, []).append(e)
            elif e.kind == "setting":
                self.settings.append(e)
            elif "*" in e.name:
                self.patterns.append(e)
            else:
                self.exact.setdefault(e.name, []).append(e)
        qualified = [e.name for e in entries if e.kind in ("ref", "call", "assign", "import")]
        qualified += list(self.returns)
        self.tops = frozenset(n.split(".")[0].split("(")[0] for n in qualified) | {"importlib"}
        words = sorted(self.tops | set(self.methods) | {"getattr", "__import__"})
        alternatives = "|".join(map(re.escape, words))
        # (compiled only when the word sets cannot stand in for it: it costs start-up)
        self._prefilter = LazyPattern(rf"\b(?:{alternatives})\b")
        # The returns table's values are prefixes of their keys (`multiprocessing`) or
        # `<dynamic>`, which starts no catalogued name: what resolves through it comes from
        # the text too.
        self._needs = name_needs(
            [*self.exact, *self.assigns, *(e.name for e in self.patterns)],
            [*self.methods, *self.imports],
        )
        self._settings_files = tuple(f for e in self.settings for f in e.files)
        self._match_cache: dict[str, tuple[list[ApiEntry], bool]] = {}

    def wants(self, text: str) -> bool:
        if self._needs is None:
            return self._prefilter.get().search(text) is not None
        return meets(self._needs, text)

    def wants_file(self, path: str) -> bool:
        base = path.rsplit("/", 1)[-1]
        return any(fnmatchcase(base, f) for f in self._settings_files)

    def match(self, qname: str) -> list[ApiEntry]:
        return self._lookup(qname)[0]

    def _lookup(self, qname: str) -> tuple[list[ApiEntry], bool]:
        """(entries matching ``qname``, whether a pattern names it as an exception)."""
        found = self._match_cache.get(qname)
        if found is None:
            entries = list(self.exact.get(qname, ()))
            excepted = False
            for p in self.patterns:
                if p.covers(qname):
                    if p.excepted(qname):
                        excepted = True
                    else:
                        entries.append(p)
            found = self._match_cache[qname] = (entries, excepted)
        return found

    # ------------------------------------------------------------------------------------------
    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        index = ctx.index(self.returns)
        touch = self._touchable(index)
        seen: set[tuple[str, int, int, int, int]] = set()
        for diag in self._all(ctx, index, touch):
            key = (diag.rule, *diag.span.__dict__.values())
            if key not in seen:
                seen.add(key)
                yield diag

    def _all(self, ctx: FileContext, index: ModuleIndex, touch: set[str]) -> Iterator[Diagnostic]:
        self._touch_memo: dict[int, bool] = {}  # node ids of this file's tree
        for ref in index.refs:
            found = False
            if self._root_touchable(ref.root, touch):
                for diag in self._reference(ctx, index, ref):
                    found = True
                    yield diag
            # `obj.compute(...)` on any object, unless the object resolved to a catalogued API
            # already (`dask.compute(...)` is that API's finding, not a second one)
            if not found and ref.call is not None and ref.attrs and ref.attrs[-1] in self.methods:
                yield from self._method(ctx, ref)
        for site in index.imports:
            for mod in site.modules:
                top = mod.split(".")[0]
                if top in ctx.local_modules:
                    continue
                for entry in self.imports.get(top, ()):
                    said = {"api": f"import {mod}", "note": entry.note}
                    diag = ctx.diagnostic(entry.rule, site.node, site.node, **said)
                    yield _own(diag, entry, said)
        for store in index.stores:
            if not self.assigns or not self._root_touchable(store.target.value, touch):
                continue
            values = index.resolve(store.target.value, store.scope, store.order, store.path)
            for value in values:
                for entry in self.assigns.get(f"{value.qname}.{store.target.attr}", ()):
                    if store.in_main and not entry.main:
                        continue
                    literal = _literal(store.value)
                    if all(_holds(c, literal) for c in entry.when):
                        said = {"api": ast.unparse(store.target), "note": entry.note}
                        diag = ctx.diagnostic(entry.rule, store.target, store.stmt, **said)
                        yield _own(diag, entry, said)
        if self.settings and self.wants_file(ctx.path):
            yield from self._module_settings(ctx)

    def _root_touchable(self, root: ast.expr, touch: set[str]) -> bool:
        # every call of f()()()... is a ref: remember the answer for each node walked, or a
        # chain of n calls costs n^2 steps (minutes for ten thousand)
        memo = self._touch_memo
        walked: list[int] = []
        while True:
            key = id(root)
            if key in memo:
                result = memo[key]
                break
            walked.append(key)
            if isinstance(root, ast.Name):
                result = root.id in touch
                break
            if isinstance(root, ast.Call):
                root = root.func
            elif isinstance(root, ast.Attribute):
                root = root.value
            else:
                result = False
                break
        for key in walked:
            memo[key] = result
        return result

    def _touchable(self, index: ModuleIndex) -> set[str]:
        """Names that can possibly resolve to a catalogued API; everything else is skipped."""
        touch = {"getattr", "__import__"}
        if index.module.stars:
            touch.update(_all_names(index))
            return touch
        pending: list[tuple[str, ast.expr]] = []
        for name, bindings in _all_bindings(index):
            for b in bindings:
                if b.static is not None and b.static.qname.split(".")[0] in self.tops:
                    touch.add(name)
                elif b.expr is not None:
                    pending.append((name, b.expr))
        return names_reaching(touch, pending)

    def _applies(self, ctx: FileContext, entry: ApiEntry, ref: Ref) -> bool:
        if ref.in_main and not entry.main:
            return False
        if entry.python is not None and ctx.target_python > entry.python:
            return False
        if entry.kind == "call":
            if ref.call is None:
                return False
            return all(_holds(c, _argument(ref.call, c)) for c in entry.when)
        return entry.kind == "ref"

    def _reference(self, ctx: FileContext, index: ModuleIndex, ref: Ref) -> Iterator[Diagnostic]:
        safe = False  # the current value's longer chain is a catalogued exception
        for value, used in index.chain_values(ref):
            if used == len(ref.attrs):
                safe = False  # the full chain of the next possible value
            elif safe:
                continue  # `pathos.pools.ThreadPool` is safe: do not report `pathos.pools`
            entries, excepted = self._lookup(value.qname)
            entries = [e for e in entries if self._applies(ctx, e, ref)]
            if not entries:
                safe = excepted
                if not ref.attrs and value.qname == "builtins.getattr" and ref.call is not None:
                    # getattr(os, "system") is a reference to os.system, called or not
                    found = self._getattr_reference(ctx, index, ref, ref.call)
                    if found is not None:
                        yield found
                        return
                continue
            node: ast.AST = ref.node
            for _ in range(len(ref.attrs) - used):
                node = node.value  # type: ignore[attr-defined]
            for entry in entries:
                where = ref.call if entry.kind == "call" and ref.call is not None else node
                yield self._report(ctx, entry, value.qname, value.dynamic, where, ref)
            return

    def _getattr_reference(
        self, ctx: FileContext, index: ModuleIndex, ref: Ref, call: ast.Call
    ) -> Optional[Diagnostic]:
        for value in index.resolve(call, ref.scope, ref.order, ref.path):
            for entry in self.match(value.qname):
                if entry.kind == "ref" and self._applies(ctx, entry, ref):
                    return self._report(ctx, entry, value.qname, value.dynamic, call, ref)
        return None

    def _method(self, ctx: FileContext, ref: Ref) -> Iterator[Diagnostic]:
        assert ref.call is not None
        for entry in self.methods[ref.attrs[-1]]:
            if ref.in_main and not entry.main:
                continue
            if all(_holds(c, _argument(ref.call, c)) for c in entry.when):
                api = f"{_display(ref.node)}()"
                yield self._report(ctx, entry, api, None, ref.node, ref)

    def _report(
        self,
        ctx: FileContext,
        entry: ApiEntry,
        qname: str,
        dynamic: Optional[str],
        node: ast.AST,
        ref: Ref,
    ) -> Diagnostic:
        api = qname if "()" not in qname else _display(ref.node)
        rule = entry.rule
        if dynamic and rule in _DYNAMIC_RULES:
            rule = "MSE106"
        values = {
            "api": api,
            "how": dynamic or "",
            "note": entry.note,
            "needs": entry.needs,
            "tool": entry.tool,
            "result": entry.result,
        }
        diag = ctx.diagnostic(rule, node, ref.stmt, **values)
        return _own(diag, entry, values) if rule == entry.rule else diag

    def _module_settings(self, ctx: FileContext) -> Iterator[Diagnostic]:
        base = ctx.path.rsplit("/", 1)[-1]
        for stmt in ctx.tree.body:
            if not isinstance(stmt, ast.Assign):
                continue
            for target in stmt.targets:
                if not isinstance(target, ast.Name):
                    continue
                for entry in self.settings:
                    if entry.name != target.id or not any(
                        fnmatchcase(base, f) for f in entry.files
                    ):
                        continue
                    literal = _literal(stmt.value)
                    if all(_holds(c, literal) for c in entry.when):
                        values = {
                            "api": f"{target.id} = {ast.unparse(stmt.value)}",
                            "note": entry.note,
                        }
                        yield _own(ctx.diagnostic(entry.rule, stmt, stmt, **values), entry, values)


def _own(diag: Diagnostic, entry: ApiEntry, values: Mapping[str, str]) -> Diagnostic:
    """The finding with the entry's own severity, message and fix, where it has them."""
    changes: dict[str, Any] = {}
    if entry.severity is not None and entry.severity != diag.severity:
        changes["severity"] = entry.severity
    if entry.message:
        try:
            changes["message"] = entry.message.format(**values)
        except (KeyError, IndexError) as exc:  # a catalogue bug; never lose the finding
            changes["message"] = f"{entry.message} ({exc})"
    if entry.fix:
        changes["fix"] = entry.fix
    return replace(diag, **changes) if changes else diag


def _display(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _all_bindings(index: ModuleIndex) -> Iterator[tuple[str, Sequence[Any]]]:
    seen: set[int] = set()
    stack = [index.module]
    scopes = []
    for ref in index.refs:
        if id(ref.scope) not in seen:
            seen.add(id(ref.scope))
            scopes.append(ref.scope)
    for s in [*stack, *scopes]:
        yield from s.bindings.items()
        p = s.parent
        while p is not None and id(p) not in seen:
            seen.add(id(p))
            yield from p.bindings.items()
            p = p.parent


def _all_names(index: ModuleIndex) -> set[str]:
    return {name for name, _ in _all_bindings(index)} | {
        r.root.id for r in index.refs if isinstance(r.root, ast.Name)
    }
