"""The apps, routers and routes of the local modules (MSE405, MSE406): which constructor call an
expression is (Flask, FastAPI, Starlette apps and their Blueprints and APIRouters, through
assignments, imports and factories), every route registered on each (decorators, ``add_url_rule``
and the like, Starlette ``Route``/``Mount`` lists, included routers with their prefixes) and what
puts it behind authentication. The framework names are data ([config] of rules/config.toml)."""

from __future__ import annotations

import ast
import re
from typing import Optional

from mse_lint.analysis.astwalk import walk
from mse_lint.analysis.scope import Ref
from mse_lint.checks.app_modules import (
    LocalModule,
    LocalModules,
    call_arg,
    display_code,
    dotted_name,
    imported_names,
    str_value,
)
from mse_lint.core.catalog import Catalog
from mse_lint.core.record import Frozen, Mutable, field

_PARAM = re.compile(r"<(?:(\w+):)?\w+>|\{\w+(?::(\w+))?\}")


class AppFacts:
    """The frameworks' names, from the catalogue: app and router classes, route and include
    methods, authentication decorators and security dependencies."""

    def __init__(self, catalog: Catalog) -> None:
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


class AppObject(Frozen):
    """An app or a router: the constructor call that made it."""

    mod: LocalModule
    call: ast.Call
    role: str  # app | router
    kind: str  # flask | fastapi | starlette
    prefix: str = ""

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.mod.name, self.call.lineno, self.call.col_offset)


class Route(Frozen):
    path: str  # full path, prefixes included
    methods: Optional[frozenset[str]]  # None: not known statically
    mod: LocalModule
    kind: str  # flask | fastapi | starlette: how trailing slashes are redirected
    node: ast.AST  # the registration (decorator call, method call, Route(...))
    auth: str = ""  # what puts it behind authentication


ObjKey = tuple[str, int, int]
RouteRow = tuple[str, Optional[frozenset[str]], LocalModule, ast.AST, str]


class RouteGraph(Mutable):
    routes: dict[ObjKey, list[RouteRow]] = field(default_factory=dict)
    children: dict[ObjKey, list[tuple[AppObject, Optional[str], str]]] = field(default_factory=dict)
    uncertain: set[ObjKey] = field(default_factory=set)


class RouteFinder:
    """The objects and routes of one project's local modules, found as they are asked for."""

    def __init__(self, facts: AppFacts, modules: LocalModules) -> None:
        self.facts = facts
        self.modules = modules
        self.graph = RouteGraph()
        self.seen_objs: set[tuple[str, int, int]] = set()

    def objects_of_name(
        self, mod: LocalModule, name: str, ref: Optional[Ref], depth: int = 0
    ) -> list[AppObject]:
        if ref is None:
            bindings = mod.index.reaching_bindings(mod.index.module, name, None)
        else:
            bindings = mod.index.reaching_bindings(ref.scope, name, ref.order, ref.path)
        out: list[AppObject] = []
        for b in bindings:
            if b.static is not None:
                out.extend(self.objects_of_qname(mod, b.static.qname, depth + 1))
            elif b.expr is not None:
                out.extend(self.objects_of_expr(mod, b.expr, depth + 1))
        return out

    def objects_of_qname(self, mod: LocalModule, qname: str, depth: int) -> list[AppObject]:
        if depth > 12:
            return []
        for absolute in self.modules.absolute(qname, mod):
            found = self.modules.split(absolute)
            if found is not None and len(found[1]) == 1:
                return self.objects_of_name(found[0], found[1][0], None, depth + 1)
        return []

    def objects_of_expr(self, mod: LocalModule, expr: ast.expr, depth: int = 0) -> list[AppObject]:
        if depth > 12:
            return []
        if isinstance(expr, ast.Name):
            return self.objects_of_name(mod, expr.id, mod.ref_of(expr), depth + 1)
        ref = mod.ref_of(expr)
        if ref is None:
            return []
        if isinstance(expr, ast.Call):
            out: list[AppObject] = []
            func = expr.func
            if isinstance(func, ast.Name) and func.id in mod.defs:
                # a local def resolves to no qualified name: a factory of this module?
                bindings = mod.index.reaching_bindings(ref.scope, func.id, ref.order, ref.path)
                if any(b.static is None and b.expr is None for b in bindings):
                    out.extend(self.factory_result(mod, func.id, depth + 1))
            for value in mod.index.resolve(func, ref.scope, ref.order, ref.path):
                qname = value.qname
                if qname in self.facts.apps:
                    out.append(AppObject(mod, expr, "app", self.facts.apps[qname]))
                elif qname in self.facts.routers:
                    kind, keyword = self.facts.routers[qname]
                    prefix = str_value(call_arg(expr, -1, keyword)) if keyword else None
                    out.append(AppObject(mod, expr, "router", kind, prefix or ""))
                else:
                    out.extend(self.factory_result(mod, qname, depth + 1))
            return out
        if isinstance(expr, ast.Attribute):
            out = []
            for value in mod.index.resolve(expr, ref.scope, ref.order, ref.path):
                out.extend(self.objects_of_qname(mod, value.qname, depth + 1))
            return out
        return []

    def factory_result(self, mod: LocalModule, qname: str, depth: int) -> list[AppObject]:
        """The app a local factory returns (``app = create_app()``)."""
        target: Optional[tuple[LocalModule, str]] = None
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
        out: list[AppObject] = []
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
                    for name in imported_names(site.node, mod, self.modules):
                        self.modules.load(name)
                self.scan(mod)

    def scan(self, mod: LocalModule) -> None:
        for ref in mod.index.refs:
            call = ref.call
            if call is None or not ref.attrs or not isinstance(ref.node, ast.Attribute):
                continue
            method = ref.attrs[-1]
            opaque = method in self.facts.opaque
            known = method in self.facts.route_methods or method in self.facts.includes
            if not (opaque or known):
                continue
            owners = self.objects_of_expr(mod, ref.node.value)
            if not owners:
                continue
            if opaque:  # routes of another app mounted there: unknown statically
                self.graph.uncertain.update(o.key for o in owners)
                continue
            if method in self.facts.includes:
                children = self.objects_of_expr(mod, call.args[0]) if call.args else []
                prefix_node = call_arg(call, -1, self.facts.includes[method])
                prefix = str_value(prefix_node)
                auth = self.dependencies_auth(mod, call_arg(call, -1, "dependencies"))
                for owner in owners:
                    if not children or (prefix_node is not None and prefix is None):
                        self.graph.uncertain.add(owner.key)
                    for child in children:
                        self.graph.children.setdefault(owner.key, []).append((child, prefix, auth))
                continue
            path_node = call_arg(call, 0, "rule", "path")
            path = str_value(path_node)
            methods = self.route_methods_of(method, call)
            view = self.view_of(mod, call, method)
            auth = self.view_auth(mod, view, call) if view is not None else ""
            for owner in owners:
                if path is None:
                    self.graph.uncertain.add(owner.key)
                    continue
                self.graph.routes.setdefault(owner.key, []).append((path, methods, mod, call, auth))

    def route_methods_of(self, method: str, call: ast.Call) -> Optional[frozenset[str]]:
        fixed = self.facts.route_methods.get(method)
        if fixed is not None:
            return fixed
        node = call_arg(call, -1, "methods")
        if node is None:
            return frozenset({"GET"})
        return _methods_literal(node)

    def view_of(self, mod: LocalModule, call: ast.Call, method: str) -> Optional[ast.AST]:
        if id(call) in mod.decorated:
            return mod.decorated[id(call)]
        func = call_arg(
            call, 2 if method == "add_url_rule" else 1, "view_func", "endpoint", "route"
        )
        if isinstance(func, ast.Name):
            return mod.defs.get(func.id)
        return None

    def view_auth(self, mod: LocalModule, view: ast.AST, call: ast.Call) -> str:
        auth = self.dependencies_auth(mod, call_arg(call, -1, "dependencies"))
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

    def auth_name(self, mod: LocalModule, target: ast.expr) -> str:
        dotted = dotted_name(target)
        if dotted is None:
            return ""
        last = dotted.split(".")[-1]
        if last in self.facts.auth_names:
            return dotted
        ref = mod.ref_of(target)
        if ref is not None:
            for value in mod.index.resolve(target, ref.scope, ref.order, ref.path):
                if value.qname in self.facts.auth_exact:
                    return dotted
        return ""

    def dependencies_auth(self, mod: LocalModule, node: Optional[ast.expr]) -> str:
        if not isinstance(node, (ast.List, ast.Tuple)):
            return ""
        for item in node.elts:
            found = self.security_dependency(mod, item)
            if found:
                return found
        return ""

    def security_dependency(self, mod: LocalModule, node: ast.expr, depth: int = 0) -> str:
        """``Security(...)``, or ``Depends(x)`` where x is a fastapi.security scheme (or a
        function that depends on one)."""
        if not isinstance(node, ast.Call) or depth > 3:
            return ""
        ref = mod.ref_of(node)
        if ref is None:
            return ""
        names = [v.qname for v in mod.index.resolve(node.func, ref.scope, ref.order, ref.path)]
        shown = display_code(node)
        if any(n in ("fastapi.Security", "fastapi.params.Security") for n in names):
            return shown
        if not any(n in ("fastapi.Depends", "fastapi.params.Depends") for n in names):
            return ""
        dep = call_arg(node, 0, "dependency")
        if dep is None:
            return ""
        dep_ref = mod.ref_of(dep)
        if dep_ref is not None:
            for value in mod.index.resolve(dep, dep_ref.scope, dep_ref.order, dep_ref.path):
                if any(value.qname.startswith(p) for p in self.facts.security):
                    return shown
        if isinstance(dep, ast.Name):
            fn = mod.defs.get(dep.id)
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for default in [*fn.args.defaults, *(d for d in fn.args.kw_defaults if d)]:
                    if self.security_dependency(mod, default, depth + 1):
                        return shown
        return ""

    def routes_of(self, app: AppObject) -> tuple[list[Route], bool]:
        """Every route reachable from ``app`` with its full path; whether the list is known to
        be complete (no include or route whose target or path is not a literal)."""
        out: list[Route] = []
        complete = True
        self.constructor_routes(app)
        stack: list[tuple[AppObject, str, str, int]] = [(app, "", self.obj_auth(app), 0)]
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
                out.append(Route(full, methods, mod, obj.kind, node, auth or route_auth))
            for child, given, inc_auth in self.graph.children.get(obj.key, []):
                if child.kind == "flask":
                    own = given if given is not None else child.prefix
                    sub = _join(prefix, own) if own else prefix
                else:
                    sub = _join(_join(prefix, given or ""), child.prefix)
                stack.append((child, sub, auth or inc_auth or self.obj_auth(child), depth + 1))
        return out, complete

    def obj_auth(self, obj: AppObject) -> str:
        return self.dependencies_auth(obj.mod, call_arg(obj.call, -1, "dependencies"))

    def constructor_routes(self, obj: AppObject) -> None:
        """Starlette style: ``Starlette(routes=[Route(...), Mount(...)])``."""
        if obj.key in self.seen_objs:
            return
        self.seen_objs.add(obj.key)
        node = call_arg(obj.call, -1, "routes")
        if node is None:
            return
        self.route_list(obj, obj.mod, node, "")

    def route_list(
        self, obj: AppObject, mod: LocalModule, node: ast.expr, prefix: str, depth: int = 0
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
            path = str_value(call_arg(item, 0, "path"))
            if path is None:
                self.graph.uncertain.add(obj.key)
                continue
            if names & self.facts.route_classes:
                methods_node = call_arg(item, -1, "methods")
                methods = (
                    frozenset({"GET"}) if methods_node is None else _methods_literal(methods_node)
                )
                endpoint = call_arg(item, 1, "endpoint")
                view = mod.defs.get(endpoint.id) if isinstance(endpoint, ast.Name) else None
                auth = self.view_auth(mod, view, item) if view is not None else ""
                self.graph.routes.setdefault(obj.key, []).append(
                    (_join(prefix, path), methods, mod, item, auth)
                )
            elif names & self.facts.mount_classes:
                sub = call_arg(item, -1, "routes")
                if sub is not None:
                    self.route_list(obj, mod, sub, _join(prefix, path), depth + 1)
                else:
                    self.graph.uncertain.add(obj.key)
            else:
                self.graph.uncertain.add(obj.key)


def _methods_literal(node: ast.expr) -> Optional[frozenset[str]]:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        out = set()
        for e in node.elts:
            value = str_value(e)
            if value is None:
                return None
            out.add(value.upper())
        return frozenset(out)
    return None


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix.rstrip("/") + "/" + path.lstrip("/")


def _norm(path: str) -> str:
    return path.rstrip("/") or "/"


def same_path(route: str, endpoint: str, kind: str) -> bool:
    """Whether a GET on ``endpoint`` reaches ``route``, following redirects as the healthcheck
    does: Flask (werkzeug's strict slashes) redirects `/health` to a `/health/` rule but answers
    404 to `/health/` for a `/health` rule; Starlette and FastAPI redirect both ways."""
    if route == endpoint:
        return True
    if kind == "flask":
        return route.endswith("/") and route[:-1] == endpoint
    return _norm(route) == _norm(endpoint)


def param_match(route: str, endpoint: str) -> bool:
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
