"""MSE301-MSE308: reads and writes of the enclave filesystem, followed through the code.

Each catalogued file API (rules/paths.toml) is a site: which arguments (or the receiver of a
pathlib method) it writes or reads, and whether that depends on a mode. The path value of each
(``mse_lint.analysis.pathvalue``) decides the rule: an absolute path outside the writable
places (MSE301), a relative path (MSE302 / MSE304), the code dir (MSE303), a code-dir file that
does not ship (MSE305), a literal ``/root`` or ``/tmp`` (MSE308). Unknown values are never reported.
MSE306 (calls Gramine does not implement) and MSE307 (local stores) go by qualified name.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any, Optional

from mse_lint.analysis.astwalk import walk
from mse_lint.analysis.pathvalue import (
    MORE_PARTS,
    Evaluator,
    PathValue,
    Places,
    Rules,
    argument,
    file_place,
    has_argument,
    load_places,
    load_rules,
    source_text,
)
from mse_lint.analysis.scope import ModuleIndex, Ref
from mse_lint.checks import FileContext, LazyPattern, meets, name_needs, word_set
from mse_lint.checks import words as file_words
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic
from mse_lint.core.record import Frozen, replace
from mse_lint.core.settings import Settings

# position, keyword, path when absent, keyword of the folder it is relative to
Arg = tuple[Optional[int], Optional[str], Optional[str], Optional[str]]
_FATES = {
    "excluded": "is excluded by .mseignore",
    "hidden": "is hidden (a component of its path starts with a dot, and those never ship)",
    "broken symlink": "is a broken symlink",
    "symlink loop": "is a symlink loop",
}


class Api(Frozen):
    name: str
    method: bool = False
    write: tuple[Arg, ...] = ()
    read: tuple[Arg, ...] = ()
    path: Optional[Arg] = None
    self_role: Optional[str] = None
    mode: Optional[Mapping[str, Any]] = None
    dir: Optional[Arg] = None
    store: bool = False
    memory: tuple[str, ...] = ()
    uri: bool = False


def _arg(raw: Mapping[str, Any]) -> Arg:
    return (raw.get("pos"), raw.get("arg"), raw.get("absent"), raw.get("base"))


def _api(raw: Mapping[str, Any]) -> Api:
    return Api(
        name=raw["name"],
        method=bool(raw.get("method", False)),
        write=tuple(_arg(a) for a in raw.get("write", [])),
        read=tuple(_arg(a) for a in raw.get("read", [])),
        path=_arg(raw["path"]) if "path" in raw else None,
        self_role=raw.get("self"),
        mode=raw.get("mode"),
        dir=_arg(raw["dir"]) if "dir" in raw else None,
        store=bool(raw.get("store", False)),
        memory=tuple(raw.get("memory", ())),
        uri=bool(raw.get("uri", False)),
    )


class Unsupported(Frozen):
    name: str
    why: str

    def matches(self, qname: str) -> bool:
        if "*" not in self.name:
            return qname == self.name
        prefix = self.name.split("*", 1)[0]
        return qname.startswith(prefix) and "(" not in qname and fnmatchcase(qname, self.name)


class PathsCheck:
    codes = frozenset(f"MSE30{i}" for i in range(1, 9))

    def __init__(self, catalog: Catalog, settings: Optional[Settings] = None) -> None:
        data = catalog.data("paths")
        env = catalog.data("environment")
        self.places: Places = load_places(env)
        # the process family's call-result table: resolving with the same one shares the
        # module index that its check builds (FileContext.index)
        self.returns: Mapping[str, str] = dict(catalog.data("process").get("returns", {}))
        self.rules: Rules = load_rules(data, env)
        self.apis: dict[str, Api] = {}
        self.methods: dict[str, Api] = {}
        for raw in data.get("calls", {}).get("api", []):
            api = _api(raw)
            (self.methods if api.method else self.apis)[api.name] = api
        self.unsupported = [
            Unsupported(u["name"], u["why"]) for u in data.get("calls", {}).get("unsupported", [])
        ]
        places = data.get("places", {})
        self.writable = frozenset(places.get("writable", ()))
        self.code = places.get("code", "MODULE")
        self.literal_env: Mapping[str, str] = places.get("literal", {})
        self.writable_files = frozenset(places.get("writable_files", ()))
        secrets = catalog.data("secrets").get("secrets_path_files", [])
        self.secrets_files = frozenset(f["name"] for f in secrets)
        self.call_words = frozenset({n.rsplit(".", 1)[-1] for n in self.apis} | set(self.methods))
        wild = [u.name.split(".")[0] for u in self.unsupported if "*" in u.name]
        self.ref_words = frozenset(
            {u.name.rsplit(".", 1)[-1] for u in self.unsupported if "*" not in u.name} | set(wild)
        )
        # The text prefilter. A qualified API needs its module in the text too (imported or
        # named; `open` is a builtin); a pathlib method needs a pathlib object, which only a
        # file that names Path/pathlib can build (values from other modules are unknown).
        self._tops: dict[str, set[str]] = {}
        for name in [*self.apis, *(u.name for u in self.unsupported)]:
            parts = name.replace(".*", "").split(".")
            self._tops.setdefault(parts[-1], set()).add(parts[0])
        self._functions = LazyPattern(
            r"\b(" + "|".join(sorted(map(re.escape, self._tops))) + r")\b"
        )
        # what the index resolves to a catalogued name has every part of it in the text (see
        # checks.name_needs); the table of returns this check resolves with keeps that true
        self._needs = name_needs([*self.apis, *(u.name for u in self.unsupported)])
        path_methods = [m for m, api in self.methods.items() if api.self_role]
        any_methods = [m for m, api in self.methods.items() if not api.self_role]
        self._path_methods = _words_re(path_methods, r"\.\s*(?:", r")\s*\(")
        self._any_methods = _words_re(any_methods, r"\.\s*(?:", r")\s*\(")
        self.ref_re = _words_re(self.ref_words, r"\b(?:", r")\b")
        # the same test on the shared word set (a set lookup, not a scan of the text)
        self._ref_set = word_set(self.ref_words)
        self.paren_method = _words_re(self.methods, r"\)\s*\.\s*(?:", r")\s*\(")
        self._shipped_dirs: dict[frozenset[str], frozenset[str]] = {}

    def wants(self, text: str) -> bool:
        if self._any_methods.search(text):
            return True
        if ("Path" in text or "pathlib" in text) and self._path_methods.search(text):
            return True
        if self._needs is not None:
            return meets(self._needs, text)
        for m in self._functions.get().finditer(text):
            tops = self._tops[m.group(1)]
            if "builtins" in tops or any(t in text for t in tops):
                return True
        return False

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        index = ctx.index(self.returns)
        rel = file_place(ctx.file, ctx.project.code_dir)
        ev = Evaluator(ctx.tree, index, self.places, self.rules, rel, ctx.source)
        return list(_Run(self, ctx, index, ev).diagnostics())

    def shipped_dirs(self, shipped: frozenset[str]) -> frozenset[str]:
        found = self._shipped_dirs.get(shipped)
        if found is None:
            dirs: set[str] = set()
            for rel in shipped:
                parts = rel.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    dirs.add("/".join(parts[:i]))
            found = self._shipped_dirs[shipped] = frozenset(dirs)
        return found


class _Site(Frozen):
    role: str  # write | read
    api: Api
    ref: Ref
    node: ast.expr  # where to report
    values: tuple[PathValue, ...]
    call: ast.Call


class _Run:
    def __init__(self, check: PathsCheck, ctx: FileContext, index: ModuleIndex, ev: Evaluator):
        self.c = check
        # names that may stand for a catalogued API: its own last name, or a name imported
        # under another (`from shutil import copy2 as cp`)
        words = check.call_words | check.ref_words
        aliases = {
            a.asname
            for site in index.imports
            if isinstance(site.node, ast.ImportFrom)
            for a in site.node.names
            if a.asname and a.name in words
        }
        self.call_words = check.call_words | aliases
        self.ref_words = check.ref_words | aliases
        self.any_unsupported = bool(aliases & check.ref_words) or (
            bool(check._ref_set & file_words(ctx.source))
            if check._ref_set is not None
            else bool(check.ref_re.search(ctx.source))
        )
        self.ctx = ctx
        self.index = index
        self.ev = ev
        self.seen: set[tuple[str, int, int, int, int]] = set()
        secrets = set(check.secrets_files)
        if ctx.project.secrets_file:
            secrets.add(ctx.project.secrets_file.replace("\\", "/").rsplit("/", 1)[-1])
        self.secrets = secrets

    def emit(
        self, rule: str, node: ast.expr, stmt: Optional[ast.AST], **values: object
    ) -> Iterator[Diagnostic]:
        d = self.ctx.diagnostic(rule, node, stmt, **values)
        key = (rule, d.span.line, d.span.col, d.span.end_line, d.span.end_col)
        if key not in self.seen:
            self.seen.add(key)
            yield d

    # -- sites -----------------------------------------------------------------------------------
    def diagnostics(self) -> Iterator[Diagnostic]:
        sites: list[_Site] = []
        done: set[int] = set()
        for ref in self.index.refs:
            if ref.in_main:
                continue
            last = ref.attrs[-1] if ref.attrs else getattr(ref.root, "id", "")
            candidate = ref.call is not None and last in self.call_words
            unsupported = self.any_unsupported and self._may_be_unsupported(ref)
            if not candidate and not unsupported:
                continue
            full = self._full_names(ref)
            if unsupported:
                yield from self._unsupported(ref, full)
            if not candidate or ref.call is None:
                continue
            api = next((self.c.apis[q] for q in full if q in self.c.apis), None)
            if api is None and ref.attrs and ref.attrs[-1] in self.c.methods:
                api = self.c.methods[ref.attrs[-1]]
            if api is None:
                continue
            done.add(id(ref.call))
            sites.extend(self._sites(api, ref, ref.call))
            if api.store:
                yield from self._store(api, ref, ref.call)
        # pathlib methods on an expression that is not a name chain: `(base / "x").read_text()`
        for node in self._method_calls():
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in self.c.methods
                and id(node) not in done
            ):
                inner = self._inner_ref(node.func.value)
                if inner is not None and not inner.in_main:
                    sites.extend(self._sites(self.c.methods[node.func.attr], inner, node))
        written = {
            v.text for s in sites if s.role == "write" for v in s.values if v.exact and v.absolute
        }
        for site in sites:
            yield from self._judge(site, written)

    def _method_calls(self) -> Iterator[ast.Call]:
        """Calls of a catalogued method on a receiver that is not a name chain nor a call
        (those have no reference of their own): `(HERE / "x").read_text()`. The walk only runs
        when the text has such a call."""
        lines = sorted(
            {
                self.ctx.source.count("\n", 0, m.start()) + 1
                for m in self.c.paren_method.finditer(self.ctx.source)
            }
        )
        if not lines:
            return
        for stmt in _statements_at(self.ctx.tree.body, lines):
            for node in walk(stmt):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    root = node.func.value
                    while isinstance(root, ast.Attribute):
                        root = root.value
                    if not isinstance(root, (ast.Name, ast.Call)):
                        yield node

    def _in_memory(self, node: ast.expr, depth: int = 0) -> bool:
        """A database URI (literal, f-string, or a name bound to one) naming an in-memory
        database."""
        if isinstance(node, ast.Name) and depth < 4:
            ref = self.ev.by_node.get(id(node))
            if ref is None:
                return False
            bindings = self.index.reaching_bindings(ref.scope, node.id, ref.order, ref.path)
            return any(b.expr is not None and self._in_memory(b.expr, depth + 1) for b in bindings)
        for n in walk(node):
            if (
                isinstance(n, ast.Constant)
                and isinstance(n.value, str)
                and ("mode=memory" in n.value or ":memory:" in n.value)
            ):
                return True
        return False

    def _may_be_unsupported(self, ref: Ref) -> bool:
        root = ref.root
        if isinstance(root, ast.Name) and root.id in self.ref_words:
            return True
        return any(a in self.ref_words for a in ref.attrs)

    def _inner_ref(self, node: ast.expr) -> Optional[Ref]:
        """A reference inside ``node``: it tells the statement and whether it is main-only."""
        for n in walk(node):
            ref = self.ev.by_node.get(id(n))
            if ref is not None:
                return ref
        return None

    def _full_names(self, ref: Ref) -> list[str]:
        out = []
        for value, used in self.index.chain_values(ref):
            if used == len(ref.attrs):
                out.append(self.ev.rules.normal(value.qname))
        return out

    def _label(self, call: ast.Call) -> str:
        text = " ".join(source_text(self.ctx.lines, call.func).split())
        if len(text) > 60:
            text = "…" + text[-59:]
        return f"`{text}()`"

    def _sites(self, api: Api, ref: Ref, call: ast.Call) -> Iterator[_Site]:
        func = call.func
        role_by_mode: Optional[str] = None
        if api.mode is not None:
            role_by_mode = self._mode_role(api.mode, call)
        if api.method:
            if api.self_role is not None:
                assert isinstance(func, ast.Attribute)
                receivers = [v for v in self.ev.values(func.value) if v.obj and v.kind == "path"]
                if not receivers:
                    return  # not a pathlib object (str.replace, file.open...) or not known
                role = role_by_mode if api.self_role == "mode" else api.self_role
                if role is not None:
                    yield _Site(role, api, ref, func, tuple(receivers), call)
        elif api.path is not None and role_by_mode is not None:
            yield from self._arg_site(role_by_mode, api, api.path, ref, call)
        for spec in api.write:
            yield from self._arg_site("write", api, spec, ref, call)
        for spec in api.read:
            yield from self._arg_site("read", api, spec, ref, call)
        if api.dir is not None:
            yield from self._arg_site("write", api, api.dir, ref, call, into=True)

    def _arg_site(
        self,
        role: str,
        api: Api,
        spec: Arg,
        ref: Ref,
        call: ast.Call,
        into: bool = False,
    ) -> Iterator[_Site]:
        pos, kw, absent, base = spec
        node = argument(call, pos, kw)
        if base is not None and has_argument(call, None, base):
            return  # relative to a folder given by another argument (glob's root_dir)
        if api.uri and node is not None and self._in_memory(node):
            return
        if node is None:
            if absent is None or has_argument(call, pos, kw):
                return
            values = [PathValue(absent)]
            where: ast.expr = call.func
        else:
            if self.ev.is_none(node):
                return
            values = self.ev.values(node)
            where = node
        if api.uri:
            values = [_strip_uri(v) for v in values]
        values = [v for v in values if not (v.exact and v.text in api.memory)]
        if into:  # a file created inside that folder
            values = [v if v.more else replace(v, more=MORE_PARTS) for v in values]
        if values:
            yield _Site(role, api, ref, where, tuple(values), call)

    def _mode_role(self, mode: Mapping[str, Any], call: ast.Call) -> Optional[str]:
        node = argument(call, mode.get("pos"), mode.get("arg"))
        if node is None:
            if has_argument(call, mode.get("pos"), mode.get("arg")):
                return None
            text: Optional[str] = mode.get("default", "r")
        else:
            text = self.ev.const_str(node)
        if text is None:
            return None
        chars = text[:1] if mode.get("first") else text
        return "write" if any(ch in mode.get("write", "wax+") for ch in chars) else "read"

    # -- rules -----------------------------------------------------------------------------------
    def _judge(self, site: _Site, written: set[str]) -> Iterator[Diagnostic]:
        for v in site.values:
            if v.kind != "path" or not v.text:
                continue
            secret_file = v.basename() in self.secrets  # MSE208 reports those
            found: list[tuple[str, Optional[str]]] = []  # (rule, fate for MSE305)
            place = "REL" if not v.absolute else self.c.places.place(v)
            if place is None:
                continue  # could be anywhere: `os.path.join("/", name)`
            if place == "REL":
                if site.role == "write":
                    found.append(("MSE302", None))
                elif not secret_file:
                    found.append(("MSE304", None))
                    fate = self._relative_fate(v)
                    if fate is not None:
                        found.append(("MSE305", fate))
            elif site.role == "write":
                if place == self.c.code:
                    found.append(("MSE303", None))
                elif place not in self.c.writable and v.text not in self.c.writable_files:
                    found.append(("MSE301", None))
            elif place == self.c.code and not secret_file:
                fate = self._code_fate(v, written)
                if fate is not None:
                    found.append(("MSE305", fate))
            if found:
                api = self._label(site.call)
                via = f" (from {v.via})" if v.via else ""
                for rule, fate in found:
                    yield from self.emit(
                        rule, site.node, site.ref.stmt, api=api, path=v.shown(), via=via, fate=fate
                    )
            if v.literal is not None and place in self.c.literal_env and not secret_file:
                env = self.c.literal_env[place]
                yield from self.emit(
                    "MSE308",
                    v.literal,
                    None,
                    literal=" ".join(source_text(self.ctx.lines, v.literal).split()),
                    place=f"${env} ({self.c.places.roots.get(place, '')})",
                    env=env,
                )

    def _code_fate(self, v: PathValue, written: set[str]) -> Optional[str]:
        info = self.ctx.project
        if not info.code_dir or not v.exact or not v.anchored or v.text in written:
            return None
        root = self.c.places.code_root
        if v.text == root:
            return None
        return self._fate(v.text[len(root) + 1 :], missing=True)

    def _relative_fate(self, v: PathValue) -> Optional[str]:
        if not self.ctx.project.code_dir or not v.exact or v.text.startswith(".."):
            return None
        if v.text in (".", ""):
            return None
        return self._fate(v.text, missing=False)

    def _fate(self, rel: str, missing: bool) -> Optional[str]:
        info = self.ctx.project
        rel = rel.rstrip("/")
        parts = rel.split("/")
        for i in range(len(parts), 0, -1):
            fate = info.unshipped.get("/".join(parts[:i]))
            if fate is not None:
                return _FATES.get(fate, f"is {fate}")
        if not missing or rel in info.shipped or rel in self.c.shipped_dirs(info.shipped):
            return None
        return "does not exist"

    def _store(self, api: Api, ref: Ref, call: ast.Call) -> Iterator[Diagnostic]:
        spec = api.write[0] if api.write else api.path
        if spec is not None:
            node = argument(call, spec[0], spec[1])
            if node is not None and api.uri and self._in_memory(node):
                return
            text = self.ev.const_str(node) if node is not None else None
            if text is not None:
                text = _strip_uri(PathValue(text)).text if api.uri else text
                if text in api.memory:
                    return
        yield from self.emit("MSE307", call.func, ref.stmt, api=self._label(call).strip("`"))

    def _unsupported(self, ref: Ref, full: list[str]) -> Iterator[Diagnostic]:
        for q in full:
            for u in self.c.unsupported:
                if u.matches(q):
                    api = q.replace("()", "")
                    yield from self.emit("MSE306", ref.node, ref.stmt, api=api, why=u.why)
                    return


def _statements_at(body: list[ast.stmt], lines: list[int]) -> Iterator[ast.stmt]:
    """The top-level statements that span one of ``lines`` (sorted)."""
    for stmt in body:
        end = stmt.end_lineno or stmt.lineno
        i = bisect.bisect_left(lines, stmt.lineno)
        if i < len(lines) and lines[i] <= end:
            yield stmt


def _words_re(words: Iterable[str], before: str, after: str) -> re.Pattern[str]:
    return re.compile(before + "|".join(sorted(map(re.escape, words))) + after)


def _strip_uri(v: PathValue) -> PathValue:
    if v.text.startswith("file:"):
        text = v.text[5:].split("?", 1)[0]
        if "mode=memory" in v.text:
            text = ":memory:"
        return replace(v, text=text)
    return v
