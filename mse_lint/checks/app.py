"""The app that mse.toml names: MSE405 MSE406 MSE412 (project-level), MSE411 (per file).

Never imports the user's code: the app module (and the local modules it imports, when they
ship) are parsed with ``ast`` and resolved with :class:`mse_lint.analysis.scope.ModuleIndex`.

- MSE405: ``python_application = "module:variable"`` as the enclave loads it
  (``sys.path.append(code dir)``, ``import_module``, ``getattr``: no call).
- MSE406: the routes of the app object, from decorators, ``add_url_rule`` / ``add_api_route`` /
  ``add_route``, Starlette ``Route``/``Mount`` lists, and Blueprints / APIRouters registered on
  it with their prefixes; does one of them serve an unauthenticated GET on the healthcheck?
- MSE412: shipped top-level modules named like a stdlib module of the target Python.
- MSE411: a server started at import time (module level, not under ``__main__``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Optional

from mse_lint.analysis.astwalk import walk
from mse_lint.analysis.scope import ModuleIndex, Ref, Scope, is_main_guard
from mse_lint.checks import FileContext, ProjectContext, word_set
from mse_lint.checks import words as file_words
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import FILE_SPAN, Diagnostic, Severity, Span
from mse_lint.core.record import Frozen, Mutable, field, replace
from mse_lint.core.safeio import read_regular
from mse_lint.core.settings import Settings
from mse_lint.core.stdlib import stdlib_modules
from mse_lint.project.model import Fate, Manifest, MseToml, fate_of, path_is

_MAX_MODULES = 64  # local modules followed from the app module
_WORD_CHAR = re.compile(r"\w")
_PARAM = re.compile(r"<(?:(\w+):)?\w+>|\{\w+(?::(\w+))?\}")


# ================================================================================================
# MSE411: a server started while the module is imported
# ================================================================================================
class ServerStartCheck:
    codes = frozenset({"MSE411"})

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        data = catalog.data("config")
        self.calls = frozenset(data.get("server_calls", ()))
        self.methods = frozenset(data.get("server_methods", ()))
        names = {q.split(".")[-1].rstrip("()") for q in self.calls} | set(self.methods)
        self.names = frozenset(names)
        # only files that call one of the names can start a server
        self._prefilter = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\s*\(")
        self._words = word_set(names)  # the pattern needs one of them as a word
        self._calls = {n: re.compile(re.escape(n) + r"\s*\(") for n in names}

    def wants(self, text: str) -> bool:
        if self._words is None:
            return self._prefilter.search(text) is not None
        # _prefilter's test, name by name: a literal first searches fast, ``\b`` first does not
        for name in self._words.intersection(file_words(text)):
            for m in self._calls[name].finditer(text):
                start = m.start()
                if start == 0 or not _WORD_CHAR.match(text, start - 1):
                    return True
        return False

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        if not _import_time_call(ctx.tree, self.names):
            return  # the usual case: servers started in functions only (indexing costs)
        index = ctx.index()
        for ref in index.refs:
            if ref.call is None or ref.in_main or not _runs_at_import(ref.scope):
                continue
            if ref.attrs and ref.attrs[-1] in self.methods:
                yield ctx.diagnostic("MSE411", ref.call, ref.stmt, api=_display(ref.node) + "()")
                continue
            for value in index.resolve(ref.node, ref.scope, ref.order, ref.path):
                if value.qname in self.calls:
                    api = value.qname if "()" not in value.qname else _display(ref.node)
                    yield ctx.diagnostic("MSE411", ref.call, ref.stmt, api=api + "()")
                    break


def _import_time_call(tree: ast.Module, names: frozenset[str]) -> bool:
    """A call of one of ``names`` outside every function body (cheap, before indexing)."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack.extend(getattr(node, "decorator_list", ()))
            continue
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in names:
                return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _runs_at_import(scope: Scope) -> bool:
    s: Optional[Scope] = scope
    while s is not None:
        if s.kind == "function":
            return False
        s = s.parent
    return True


# mse-cli polls the healthcheck until the status is not 503 (its deploy and localtest loops):
# any other answer, an error page included, counts as ready
_READY = (
    "which mse-cli takes as ready (it waits only while the status is 503): the app is reported "
    "healthy without ever being probed"
)


def _display(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ================================================================================================
# Local modules, parsed once
# ================================================================================================
class _Module(Mutable):
    name: str  # dotted
    rel: str  # relative to the code dir
    display: str
    source: str
    tree: ast.Module
    index: ModuleIndex
    refs: dict[int, Ref] = field(default_factory=dict)  # id(expr node) -> its Ref
    defs: dict[str, ast.AST] = field(default_factory=dict)  # module-level def/class by name
    decorated: dict[int, ast.AST] = field(default_factory=dict)  # id(decorator) -> its def

    def ref_of(self, node: ast.expr) -> Optional[Ref]:
        key = node.func if isinstance(node, ast.Call) else node
        return self.refs.get(id(key))

    def span(self, node: ast.AST) -> Span:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # the `def name` part, not the whole body
            text = self.source.splitlines()[node.lineno - 1] if self.source else ""
            start = text.find("def " + node.name)
            start = text.find(node.name) if start < 0 else start
            if start >= 0:
                end = text.find(node.name, start) + len(node.name)
                return Span(node.lineno, start + 1, node.lineno, end + 1)
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        col = getattr(node, "col_offset", 0)
        end_col = getattr(node, "end_col_offset", None) or col + 1
        lines = self.source.splitlines()

        def char(ln: int, byte: int) -> int:
            if 1 <= ln <= len(lines) and not lines[ln - 1].isascii():
                return len(lines[ln - 1].encode("utf-8")[:byte].decode("utf-8", "ignore")) + 1
            return byte + 1

        return Span(line, char(line, col), end_line, char(end_line, end_col))


class _Modules:
    def __init__(self, ctx: ProjectContext, manifest: Manifest) -> None:
        self.ctx = ctx
        self.code = manifest.code_dir
        self.patterns = manifest.patterns
        self.cache: dict[str, Optional[_Module]] = {}

    def ships(self, rel: str) -> bool:
        return fate_of(rel, self.patterns)[0].ships

    def rel_of(self, name: str) -> Optional[str]:
        base = name.replace(".", "/")
        for rel in (f"{base}.py", f"{base}/__init__.py"):
            if path_is(self.code / rel, "file") and self.ships(rel):
                return rel
        return None

    def load(self, name: str) -> Optional[_Module]:
        if name in self.cache:
            return self.cache[name]
        self.cache[name] = None
        loaded = sum(1 for m in self.cache.values() if m is not None)
        if loaded >= _MAX_MODULES or not all(p.isidentifier() for p in name.split(".")):
            return None
        rel = self.rel_of(name)
        if rel is None:
            return None
        path = self.code / rel
        try:
            source = read_regular(path, "source").decode("utf-8")
            tree = ast.parse(source, str(path))
            index = ModuleIndex(tree)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
            return None  # MSE001/MSE002 report it
        mod = _Module(name, rel, self.ctx.display(path), source, tree, index)
        for ref in index.refs:
            # the chain and each of its prefixes (`app` and `app.router` in
            # `app.router.add_route`) are read where the chain is
            link: ast.expr = ref.node
            while True:
                mod.refs.setdefault(id(link), ref)
                if not isinstance(link, ast.Attribute):
                    break
                link = link.value
        for node in walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for d in node.decorator_list:
                    mod.decorated[id(d)] = node
        for stmt in _module_level(tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                mod.defs[stmt.name] = stmt
        self.cache[name] = mod
        return mod

    def absolute(self, qname: str, within: _Module) -> list[str]:
        """A qualified name from an import in ``within``, made absolute (relative imports)."""
        if not qname.startswith("."):
            return [qname]
        dots = len(qname) - len(qname.lstrip("."))
        rest = qname[dots:]
        package = within.name.split(".")
        if not within.rel.endswith("__init__.py"):
            package = package[:-1]
        out = []
        for level in (dots, dots - 1):  # `from . import x` is recorded as "..x"
            if level < 1 or level - 1 > len(package):
                continue
            base = package[: len(package) - (level - 1)]
            out.append(".".join(p for p in (*base, rest) if p))
        return out

    def split(self, qname: str) -> Optional[tuple[_Module, list[str]]]:
        """``views.bp`` -> (module views, ["bp"]) when a local shipped module holds it."""
        parts = qname.split(".")
        for i in range(len(parts) - 1, 0, -1):
            if any(p.endswith("()") for p in parts[:i]):
                continue
            mod = self.load(".".join(parts[:i]))
            if mod is not None:
                return mod, parts[i:]
        return None


def _module_level(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import (module level, into if/try/with, not under __main__)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            if is_main_guard(stmt.test):
                yield from _module_level(stmt.orelse)
                continue
            yield from _module_level(stmt.body)
            yield from _module_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for part in (stmt.body, stmt.orelse, stmt.finalbody):
                yield from _module_level(part)
            for h in stmt.handlers:
                yield from _module_level(h.body)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield from _module_level(stmt.body)


def _binds_at_import(body: Sequence[ast.stmt], name: str) -> bool:
    """Whether a statement that runs at import binds ``name`` (not only under __main__)."""
    for stmt in _module_level(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name == name:
                return True
            continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound == name or alias.name == "*":
                    return True
            continue
        targets: list[ast.AST] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            targets = [stmt.target]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            targets = [i.optional_vars for i in stmt.items if i.optional_vars is not None]
        elif isinstance(stmt, ast.Expr):  # `(app := Flask(__name__))`
            targets = [n.target for n in walk(stmt) if isinstance(n, ast.NamedExpr)]
        for t in targets:
            for n in walk(t):
                if isinstance(n, ast.Name) and n.id == name:
                    return True
    return False


def _str(node: Optional[ast.expr]) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _arg(call: ast.Call, pos: int, *names: str) -> Optional[ast.expr]:
    for k in call.keywords:
        if k.arg in names:
            return k.value
    if 0 <= pos < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args):
        return call.args[pos]
    return None


# ================================================================================================
# Apps, routers and routes
# ================================================================================================
class _Obj(Frozen):
    """An app or a router: the constructor call that made it."""

    mod: _Module
    call: ast.Call
    role: str  # app | router
    kind: str  # flask | fastapi | starlette
    prefix: str = ""

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.mod.name, self.call.lineno, self.call.col_offset)


class _Route(Frozen):
    path: str  # full path, prefixes included
    methods: Optional[frozenset[str]]  # None: not known statically
    mod: _Module
    kind: str  # flask | fastapi | starlette: how trailing slashes are redirected
    node: ast.AST  # the registration (decorator call, method call, Route(...))
    auth: str = ""  # what puts it behind authentication


_ObjKey = tuple[str, int, int]
_RouteRow = tuple[str, Optional[frozenset[str]], _Module, ast.AST, str]


class _Graph(Mutable):
    routes: dict[_ObjKey, list[_RouteRow]] = field(default_factory=dict)
    children: dict[_ObjKey, list[tuple[_Obj, Optional[str], str]]] = field(default_factory=dict)
    uncertain: set[_ObjKey] = field(default_factory=set)


class AppCheck:
    codes = frozenset({"MSE405", "MSE406", "MSE412"})

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        data = catalog.data("config")
        self.apps = {a["name"]: a["kind"] for a in data.get("app_class", [])}
        self.routers = {
            r["name"]: (r["kind"], r.get("prefix", "")) for r in data.get("router_class", [])
        }
        self.route_methods: dict[str, Optional[frozenset[str]]] = {
            m["name"]: (frozenset(m["methods"]) if m.get("methods") else None)
            for m in data.get("route_method", [])
        }
        self.includes = {m["name"]: m["prefix"] for m in data.get("include_method", [])}
        self.opaque = frozenset(data.get("opaque_methods", ()))
        self.route_classes = frozenset(data.get("route_classes", ()))
        self.mount_classes = frozenset(data.get("mount_classes", ()))
        auth = list(data.get("auth_decorators", ()))
        self.auth_exact = frozenset(a for a in auth if not a.startswith("*."))
        self.auth_names = frozenset(a[2:] for a in auth if a.startswith("*."))
        self.security = tuple(data.get("security_dependencies", ()))

    def wants(self, text: str) -> bool:
        return False

    def run(self, ctx: ProjectContext) -> Iterable[Diagnostic]:
        toml = ctx.project.mse_toml
        manifest = ctx.manifest
        if toml is None or toml.error is not None or manifest is None:
            return []
        out: list[Diagnostic] = []
        out.extend(self.shadowing(ctx, manifest))
        if toml.schema == "pre-0.9":
            return out
        modules = _Modules(ctx, manifest)
        out.extend(_AppRun(self, ctx, toml, manifest, modules).diagnostics())
        return out

    # -- MSE412 --------------------------------------------------------------------------------
    def shadowing(self, ctx: ProjectContext, manifest: Manifest) -> Iterator[Diagnostic]:
        stdlib = stdlib_modules(self.catalog, ctx.target_python)
        python = f"{ctx.target_python[0]}.{ctx.target_python[1]}"
        for entry in manifest.entries:
            if not entry.fate.ships or entry.is_dir:
                continue
            parts = entry.rel.split("/")
            if len(parts) == 1 and parts[0].endswith(".py"):
                name = parts[0][:-3]
            elif len(parts) == 2 and parts[1] == "__init__.py":
                name = parts[0]
            else:
                continue
            if name in stdlib:
                yield ctx.diagnostic(
                    "MSE412",
                    ctx.display(manifest.code_dir / entry.rel),
                    FILE_SPAN,
                    name=name,
                    python=python,
                )


class _AppRun:
    def __init__(
        self,
        check: AppCheck,
        ctx: ProjectContext,
        toml: MseToml,
        manifest: Manifest,
        modules: _Modules,
    ) -> None:
        self.check = check
        self.ctx = ctx
        self.toml = toml
        self.manifest = manifest
        self.modules = modules
        from mse_lint.project.tomlpos import (
            key_positions,  # here: per-file runs (pre-commit) never need it
        )

        self.keys = key_positions(toml.source)
        self.toml_path = ctx.display(toml.path)
        self.graph = _Graph()
        self.seen_objs: set[tuple[str, int, int]] = set()

    def key_span(self, key: str) -> Span:
        table = ("code",) if self.toml.schema == "0.x" else ()
        found = self.keys.get((*table, key))
        return found.whole if found is not None else FILE_SPAN

    def toml_diag(
        self, rule: str, key: str, severity: Optional[Severity] = None, **values: object
    ) -> Diagnostic:
        d = self.ctx.diagnostic(rule, self.toml_path, self.key_span(key), False, **values)
        return d if severity is None else replace(d, severity=severity)

    def module_diag(
        self,
        rule: str,
        mod: _Module,
        node: ast.AST,
        severity: Optional[Severity] = None,
        **values: object,
    ) -> Diagnostic:
        d = self.ctx.diagnostic(rule, mod.display, mod.span(node), False, **values)
        return d if severity is None else replace(d, severity=severity)

    # -- MSE405 --------------------------------------------------------------------------------
    def diagnostics(self) -> Iterator[Diagnostic]:
        app = self.toml.python_application
        if app is None or app.count(":") != 1:
            return  # MSE402
        module, variable = (p.strip() for p in app.split(":"))
        if not module or not all(p.isidentifier() for p in module.split(".")):
            return
        if not variable.isidentifier():
            return
        rel = module.replace(".", "/") + ".py"
        code = self.manifest.code_dir
        shown_code = self.ctx.display(code)
        if not path_is(code / rel, "file"):
            package = module.replace(".", "/") + "/__init__.py"
            if path_is(code / package, "file"):
                detail = (
                    f"python_application names the package {module!r} ({package}): "
                    f"`mse cloud deploy` requires the module file {rel} in the code dir"
                )
            else:
                detail = (
                    f"python_application names the module {module!r}, but {shown_code}/{rel} "
                    "does not exist: the enclave cannot import it"
                )
            yield self.toml_diag("MSE405", "python_application", detail=detail)
            return
        fate, pattern = fate_of(rel, self.manifest.patterns)
        if not fate.ships:
            why = (
                f"excluded by the .mseignore pattern {pattern!r}"
                if fate is Fate.EXCLUDED
                else "hidden (a path part starts with `.`), and hidden files never ship"
            )
            yield self.toml_diag(
                "MSE405",
                "python_application",
                detail=f"the app module {rel} does not ship: it is {why}",
            )
            return
        mod = self.modules.load(module)
        if mod is None:
            return  # does not parse: MSE001
        if variable not in mod.index.module.bindings:
            if mod.index.module.stars or "__getattr__" in mod.defs:
                return
            yield self.toml_diag(
                "MSE405",
                "python_application",
                detail=f"{rel} binds no `{variable}` at module level: the enclave's "
                f"getattr(module, {variable!r}) raises AttributeError",
            )
            return
        if not _binds_at_import(mod.tree.body, variable):
            yield self.toml_diag(
                "MSE405",
                "python_application",
                detail=f'{rel} binds `{variable}` only under `if __name__ == "__main__":`, '
                "which never runs when the enclave imports the module",
            )
            return
        factory = self.factory(mod, variable)
        if factory is not None:
            fmod, fdef = factory
            yield self.module_diag(
                "MSE405",
                fmod,
                fdef,
                detail=f"`{variable}` is a function that builds the app (a factory): the "
                f"enclave takes it with getattr and never calls it; bind its result, "
                f"`app = {fdef.name}()`, and name that variable",  # type: ignore[attr-defined]
            )
            return
        objects = self.objects_of_name(mod, variable, None)
        if objects and all(o.role == "router" for o in objects):
            what = _display(objects[0].call.func)
            yield self.toml_diag(
                "MSE405",
                "python_application",
                detail=f"`{variable}` in {rel} is a `{what}(...)`, a set of routes, not an "
                "application: hypercorn cannot serve it; name the app it is registered on",
            )
            return
        yield from self.healthcheck(mod, variable)

    def factory(self, mod: _Module, name: str, depth: int = 0) -> Optional[tuple[_Module, ast.AST]]:
        """The def that ``name`` is bound to at the end of ``mod`` when it is a factory (no
        required positional parameter), not a WSGI/ASGI callable."""
        bindings = mod.index.reaching_bindings(mod.index.module, name, None)
        if len(bindings) != 1 or depth > 4:
            return None
        b = bindings[0]
        if b.static is not None:
            for qname in self.modules.absolute(b.static.qname, mod):
                found = self.modules.split(qname)
                if found is not None and len(found[1]) == 1:
                    return self.factory(found[0], found[1][0], depth + 1)
            return None
        if b.expr is not None:
            return None
        node = mod.defs.get(name)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        required = len(positional) - len(args.defaults)
        if required > 0 or args.vararg is not None:
            return None  # (environ, start_response) / (scope, receive, send)
        return mod, node

    # -- MSE406 --------------------------------------------------------------------------------
    def healthcheck(self, mod: _Module, variable: str) -> Iterator[Diagnostic]:
        endpoint = None
        for table in (self.toml.data, self.toml.data.get("code")):
            if isinstance(table, dict) and isinstance(table.get("healthcheck_endpoint"), str):
                endpoint = table["healthcheck_endpoint"].strip()
        if not endpoint or not endpoint.startswith("/"):
            return
        apps = [o for o in self.objects_of_name(mod, variable, None) if o.role == "app"]
        if len(apps) != 1:
            return  # not an app we can read statically (a wrapper, an import from a package...)
        app = apps[0]
        self.scan_all()
        routes, complete = self.routes_of(app)
        exact = [r for r in routes if _same_path(r.path, endpoint, r.kind)]
        get = [r for r in exact if r.methods is None or "GET" in r.methods]
        public = [r for r in get if not r.auth]
        if public:
            return
        if get:
            r = get[0]
            yield self.module_diag(
                "MSE406",
                r.mod,
                r.node,
                detail=f"the route serving GET {endpoint} is behind authentication ({r.auth}): "
                f"the platform's healthcheck sends no credentials and gets 401/403, {_READY}",
            )
            return
        params = [
            r
            for r in routes
            if (r.methods is None or "GET" in r.methods) and _param_match(r.path, endpoint)
        ]
        if params:
            r = params[0]
            yield self.module_diag(
                "MSE406",
                r.mod,
                r.node,
                detail=f"GET {endpoint} only matches the route {r.path!r}, which takes path "
                f"parameters: the healthcheck runs that view with parameters read from {endpoint}, "
                "and mse-cli takes any status but 503 as ready, so whatever the view answers the "
                "app is reported healthy; a fixed route that needs none makes a real check",
            )
            return
        if exact:
            r = exact[0]
            methods = ", ".join(sorted(r.methods or ()))
            yield self.module_diag(
                "MSE406",
                r.mod,
                r.node,
                detail=f"the route {endpoint} serves {methods} only: the platform's healthcheck "
                f"is a GET and gets 405 Method Not Allowed, {_READY}",
            )
            return
        if not complete:
            return
        known = sorted({r.path for r in routes})
        listing = ", ".join(known[:6]) + (", ..." if len(known) > 6 else "")
        yield self.toml_diag(
            "MSE406",
            "healthcheck_endpoint",
            detail=f"no route of `{variable}` in {mod.rel} serves GET {endpoint} "
            f"(its routes: {listing or 'none'}): the platform's healthcheck gets 404, {_READY}",
        )

    # -- resolving objects ---------------------------------------------------------------------
    def objects_of_name(
        self, mod: _Module, name: str, ref: Optional[Ref], depth: int = 0
    ) -> list[_Obj]:
        if ref is None:
            bindings = mod.index.reaching_bindings(mod.index.module, name, None)
        else:
            bindings = mod.index.reaching_bindings(ref.scope, name, ref.order, ref.path)
        out: list[_Obj] = []
        for b in bindings:
            if b.static is not None:
                out.extend(self.objects_of_qname(mod, b.static.qname, depth + 1))
            elif b.expr is not None:
                out.extend(self.objects_of_expr(mod, b.expr, depth + 1))
        return out

    def objects_of_qname(self, mod: _Module, qname: str, depth: int) -> list[_Obj]:
        if depth > 12:
            return []
        for absolute in self.modules.absolute(qname, mod):
            found = self.modules.split(absolute)
            if found is not None and len(found[1]) == 1:
                return self.objects_of_name(found[0], found[1][0], None, depth + 1)
        return []

    def objects_of_expr(self, mod: _Module, expr: ast.expr, depth: int = 0) -> list[_Obj]:
        if depth > 12:
            return []
        if isinstance(expr, ast.Name):
            return self.objects_of_name(mod, expr.id, mod.ref_of(expr), depth + 1)
        ref = mod.ref_of(expr)
        if ref is None:
            return []
        if isinstance(expr, ast.Call):
            out: list[_Obj] = []
            func = expr.func
            if isinstance(func, ast.Name) and func.id in mod.defs:
                # a local def resolves to no qualified name: a factory of this module?
                bindings = mod.index.reaching_bindings(ref.scope, func.id, ref.order, ref.path)
                if any(b.static is None and b.expr is None for b in bindings):
                    out.extend(self.factory_result(mod, func.id, depth + 1))
            for value in mod.index.resolve(func, ref.scope, ref.order, ref.path):
                qname = value.qname
                if qname in self.check.apps:
                    out.append(_Obj(mod, expr, "app", self.check.apps[qname]))
                elif qname in self.check.routers:
                    kind, keyword = self.check.routers[qname]
                    prefix = _str(_arg(expr, -1, keyword)) if keyword else None
                    out.append(_Obj(mod, expr, "router", kind, prefix or ""))
                else:
                    out.extend(self.factory_result(mod, qname, depth + 1))
            return out
        if isinstance(expr, ast.Attribute):
            out = []
            for value in mod.index.resolve(expr, ref.scope, ref.order, ref.path):
                out.extend(self.objects_of_qname(mod, value.qname, depth + 1))
            return out
        return []

    def factory_result(self, mod: _Module, qname: str, depth: int) -> list[_Obj]:
        """The app a local factory returns (``app = create_app()``)."""
        target: Optional[tuple[_Module, str]] = None
        if "." not in qname.strip("."):
            if qname in mod.defs:
                target = (mod, qname)
        else:
            for absolute in self.modules.absolute(qname, mod):
                found = self.modules.split(absolute)
                if found is not None and len(found[1]) == 1:
                    target = (found[0], found[1][0])
                    break
        if target is None:
            # a name bound by a local def resolves to nothing in ModuleIndex: check defs
            return []
        fmod, fname = target
        node = fmod.defs.get(fname)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return []
        out: list[_Obj] = []
        for sub in walk(node):
            if isinstance(sub, ast.Return) and sub.value is not None:
                out.extend(self.objects_of_expr(fmod, sub.value, depth + 1))
        return out

    # -- routes --------------------------------------------------------------------------------
    def scan_all(self) -> None:
        """Record every route and include of every loaded module (loading the local modules
        they import, transitively)."""
        done: set[str] = set()
        while True:
            pending = [m for n, m in list(self.modules.cache.items()) if m and n not in done]
            if not pending:
                return
            for mod in pending:
                done.add(mod.name)
                for site in mod.index.imports:
                    for name in _imported(site.node, mod, self.modules):
                        self.modules.load(name)
                self.scan(mod)

    def scan(self, mod: _Module) -> None:
        for ref in mod.index.refs:
            call = ref.call
            if call is None or not ref.attrs or not isinstance(ref.node, ast.Attribute):
                continue
            method = ref.attrs[-1]
            opaque = method in self.check.opaque
            known = method in self.check.route_methods or method in self.check.includes
            if not (opaque or known):
                continue
            owners = self.objects_of_expr(mod, ref.node.value)
            if not owners:
                continue
            if opaque:  # routes of another app mounted there: unknown statically
                self.graph.uncertain.update(o.key for o in owners)
                continue
            if method in self.check.includes:
                children = self.objects_of_expr(mod, call.args[0]) if call.args else []
                prefix_node = _arg(call, -1, self.check.includes[method])
                prefix = _str(prefix_node)
                auth = self.dependencies_auth(mod, _arg(call, -1, "dependencies"))
                for owner in owners:
                    if not children or (prefix_node is not None and prefix is None):
                        self.graph.uncertain.add(owner.key)
                    for child in children:
                        self.graph.children.setdefault(owner.key, []).append((child, prefix, auth))
                continue
            path_node = _arg(call, 0, "rule", "path")
            path = _str(path_node)
            methods = self.route_methods_of(method, call)
            view = self.view_of(mod, call, method)
            auth = self.view_auth(mod, view, call) if view is not None else ""
            for owner in owners:
                if path is None:
                    self.graph.uncertain.add(owner.key)
                    continue
                self.graph.routes.setdefault(owner.key, []).append((path, methods, mod, call, auth))

    def route_methods_of(self, method: str, call: ast.Call) -> Optional[frozenset[str]]:
        fixed = self.check.route_methods.get(method)
        if fixed is not None:
            return fixed
        node = _arg(call, -1, "methods")
        if node is None:
            return frozenset({"GET"})
        return _methods_literal(node)

    def view_of(self, mod: _Module, call: ast.Call, method: str) -> Optional[ast.AST]:
        if id(call) in mod.decorated:
            return mod.decorated[id(call)]
        func = _arg(call, 2 if method == "add_url_rule" else 1, "view_func", "endpoint", "route")
        if isinstance(func, ast.Name):
            return mod.defs.get(func.id)
        return None

    def view_auth(self, mod: _Module, view: ast.AST, call: ast.Call) -> str:
        auth = self.dependencies_auth(mod, _arg(call, -1, "dependencies"))
        if auth:
            return auth
        if not isinstance(view, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return ""
        decorators = view.decorator_list
        if call in decorators:
            # decorators apply bottom-up: one listed above the route decorator wraps a function
            # the route never sees (`@login_required` over `@app.route` protects nothing)
            decorators = decorators[decorators.index(call) + 1 :]
        for deco in decorators:
            target = deco.func if isinstance(deco, ast.Call) else deco
            found = self.auth_name(mod, target)
            if found:
                return f"@{found}"
        args = view.args
        defaults = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
        for default in defaults:
            found = self.security_dependency(mod, default)
            if found:
                return found
        return ""

    def auth_name(self, mod: _Module, target: ast.expr) -> str:
        dotted = _dotted(target)
        if dotted is None:
            return ""
        last = dotted.split(".")[-1]
        if last in self.check.auth_names:
            return dotted
        ref = mod.ref_of(target)
        if ref is not None:
            for value in mod.index.resolve(target, ref.scope, ref.order, ref.path):
                if value.qname in self.check.auth_exact:
                    return dotted
        return ""

    def dependencies_auth(self, mod: _Module, node: Optional[ast.expr]) -> str:
        if not isinstance(node, (ast.List, ast.Tuple)):
            return ""
        for item in node.elts:
            found = self.security_dependency(mod, item)
            if found:
                return found
        return ""

    def security_dependency(self, mod: _Module, node: ast.expr, depth: int = 0) -> str:
        """``Security(...)``, or ``Depends(x)`` where x is a fastapi.security scheme (or a
        function that depends on one)."""
        if not isinstance(node, ast.Call) or depth > 3:
            return ""
        ref = mod.ref_of(node)
        if ref is None:
            return ""
        names = [v.qname for v in mod.index.resolve(node.func, ref.scope, ref.order, ref.path)]
        shown = _display(node)
        if any(n in ("fastapi.Security", "fastapi.params.Security") for n in names):
            return shown
        if not any(n in ("fastapi.Depends", "fastapi.params.Depends") for n in names):
            return ""
        dep = _arg(node, 0, "dependency")
        if dep is None:
            return ""
        dep_ref = mod.ref_of(dep)
        if dep_ref is not None:
            for value in mod.index.resolve(dep, dep_ref.scope, dep_ref.order, dep_ref.path):
                if any(value.qname.startswith(p) for p in self.check.security):
                    return shown
        if isinstance(dep, ast.Name):
            fn = mod.defs.get(dep.id)
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for default in [*fn.args.defaults, *(d for d in fn.args.kw_defaults if d)]:
                    if self.security_dependency(mod, default, depth + 1):
                        return shown
        return ""

    def routes_of(self, app: _Obj) -> tuple[list[_Route], bool]:
        """Every route reachable from ``app`` with its full path; whether the list is known to
        be complete (no include or route whose target or path is not a literal)."""
        out: list[_Route] = []
        complete = True
        self.constructor_routes(app)
        stack: list[tuple[_Obj, str, str, int]] = [(app, "", self.obj_auth(app), 0)]
        seen: set[tuple[tuple[str, int, int], str]] = set()
        while stack:
            obj, prefix, auth, depth = stack.pop()
            if (obj.key, prefix) in seen or depth > 10:
                continue
            seen.add((obj.key, prefix))
            self.constructor_routes(obj)
            if obj.key in self.graph.uncertain:
                complete = False
            for path, methods, mod, node, route_auth in self.graph.routes.get(obj.key, []):
                full = _join(prefix, path)
                out.append(_Route(full, methods, mod, obj.kind, node, auth or route_auth))
            for child, given, inc_auth in self.graph.children.get(obj.key, []):
                if child.kind == "flask":
                    own = given if given is not None else child.prefix
                    sub = _join(prefix, own) if own else prefix
                else:
                    sub = _join(_join(prefix, given or ""), child.prefix)
                stack.append((child, sub, auth or inc_auth or self.obj_auth(child), depth + 1))
        return out, complete

    def obj_auth(self, obj: _Obj) -> str:
        return self.dependencies_auth(obj.mod, _arg(obj.call, -1, "dependencies"))

    def constructor_routes(self, obj: _Obj) -> None:
        """Starlette style: ``Starlette(routes=[Route(...), Mount(...)])``."""
        if obj.key in self.seen_objs:
            return
        self.seen_objs.add(obj.key)
        node = _arg(obj.call, -1, "routes")
        if node is None:
            return
        self.route_list(obj, obj.mod, node, "")

    def route_list(
        self, obj: _Obj, mod: _Module, node: ast.expr, prefix: str, depth: int = 0
    ) -> None:
        if isinstance(node, ast.Name) and depth < 4:
            bindings = mod.index.reaching_bindings(mod.index.module, node.id, None)
            if len(bindings) == 1 and bindings[0].expr is not None:
                self.route_list(obj, mod, bindings[0].expr, prefix, depth + 1)
                return
        if not isinstance(node, (ast.List, ast.Tuple)):
            self.graph.uncertain.add(obj.key)
            return
        for item in node.elts:
            ref = mod.ref_of(item) if isinstance(item, ast.Call) else None
            if ref is None or not isinstance(item, ast.Call):
                self.graph.uncertain.add(obj.key)
                continue
            names = {v.qname for v in mod.index.resolve(item.func, ref.scope, ref.order, ref.path)}
            path = _str(_arg(item, 0, "path"))
            if path is None:
                self.graph.uncertain.add(obj.key)
                continue
            if names & self.check.route_classes:
                methods_node = _arg(item, -1, "methods")
                methods = (
                    frozenset({"GET"}) if methods_node is None else _methods_literal(methods_node)
                )
                endpoint = _arg(item, 1, "endpoint")
                view = mod.defs.get(endpoint.id) if isinstance(endpoint, ast.Name) else None
                auth = self.view_auth(mod, view, item) if view is not None else ""
                self.graph.routes.setdefault(obj.key, []).append(
                    (_join(prefix, path), methods, mod, item, auth)
                )
            elif names & self.check.mount_classes:
                sub = _arg(item, -1, "routes")
                if sub is not None:
                    self.route_list(obj, mod, sub, _join(prefix, path), depth + 1)
                else:
                    self.graph.uncertain.add(obj.key)
            else:
                self.graph.uncertain.add(obj.key)


def _imported(node: ast.AST, mod: _Module, modules: _Modules) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        base = ("." * node.level) + (node.module or "")
        for name in modules.absolute(base, mod) if node.level else [base]:
            if name:
                yield name
            for alias in node.names:
                if alias.name != "*":
                    yield f"{name}.{alias.name}" if name else alias.name


def _methods_literal(node: ast.expr) -> Optional[frozenset[str]]:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        out = set()
        for e in node.elts:
            value = _str(e)
            if value is None:
                return None
            out.add(value.upper())
        return frozenset(out)
    return None


def _dotted(node: ast.expr) -> Optional[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix.rstrip("/") + "/" + path.lstrip("/")


def _norm(path: str) -> str:
    return path.rstrip("/") or "/"


def _same_path(route: str, endpoint: str, kind: str) -> bool:
    """Whether a GET on ``endpoint`` reaches ``route``, following redirects as the healthcheck
    does: Flask (werkzeug's strict slashes) redirects `/health` to a `/health/` rule but answers
    404 to `/health/` for a `/health` rule; Starlette and FastAPI redirect both ways."""
    if route == endpoint:
        return True
    if kind == "flask":
        return route.endswith("/") and route[:-1] == endpoint
    return _norm(route) == _norm(endpoint)


def _param_match(route: str, endpoint: str) -> bool:
    if not _PARAM.search(route):
        return False
    pattern = ""
    last = 0
    for m in _PARAM.finditer(route):
        pattern += re.escape(route[last : m.start()])
        converter = m.group(1) or m.group(2) or ""
        pattern += ".+" if converter == "path" else "[^/]+"
        last = m.end()
    pattern += re.escape(route[last:])
    return re.fullmatch(pattern.rstrip("/") or "/", _norm(endpoint)) is not None
