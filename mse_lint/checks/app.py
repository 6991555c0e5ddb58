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

The local modules are read by mse_lint.checks.app_modules, the apps, routers and routes found by
mse_lint.checks.app_routes; this module holds the two checks and the findings.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from typing import Optional

from mse_lint.analysis.scope import Scope
from mse_lint.checks import FileContext, ProjectContext, word_set
from mse_lint.checks import words as file_words
from mse_lint.checks.app_modules import LocalModule, LocalModules, binds_at_import, display_code
from mse_lint.checks.app_routes import AppFacts, RouteFinder, param_match, same_path
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import FILE_SPAN, Diagnostic, Severity, Span
from mse_lint.core.record import replace
from mse_lint.core.settings import Settings
from mse_lint.core.stdlib import stdlib_modules
from mse_lint.project.model import Fate, Manifest, MseToml, fate_of, path_is

_WORD_CHAR = re.compile(r"\w")


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
                yield ctx.diagnostic(
                    "MSE411", ref.call, ref.stmt, api=display_code(ref.node) + "()"
                )
                continue
            for value in index.resolve(ref.node, ref.scope, ref.order, ref.path):
                if value.qname in self.calls:
                    api = value.qname if "()" not in value.qname else display_code(ref.node)
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


class AppCheck:
    codes = frozenset({"MSE405", "MSE406", "MSE412"})

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.facts = AppFacts(catalog)

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
        modules = LocalModules(ctx, manifest)
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
        modules: LocalModules,
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
        self.finder = RouteFinder(check.facts, modules)

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
        mod: LocalModule,
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
        problem = self.module_problem(module, rel)
        if problem is not None:
            yield self.toml_diag("MSE405", "python_application", detail=problem)
            return
        mod = self.modules.load(module)
        if mod is None:
            return  # does not parse: MSE001
        yield from self.variable(mod, rel, variable)

    def module_problem(self, module: str, rel: str) -> Optional[str]:
        """Why the enclave cannot import the app module ``module`` (file ``rel``), if it cannot."""
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
            return detail
        fate, pattern = fate_of(rel, self.manifest.patterns)
        if not fate.ships:
            why = (
                f"excluded by the .mseignore pattern {pattern!r}"
                if fate is Fate.EXCLUDED
                else "hidden (a path part starts with `.`), and hidden files never ship"
            )
            return f"the app module {rel} does not ship: it is {why}"
        return None

    def variable(self, mod: LocalModule, rel: str, variable: str) -> Iterator[Diagnostic]:
        """MSE405 for the variable python_application names in the app module, else MSE406."""
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
        if not binds_at_import(mod.tree.body, variable):
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
        objects = self.finder.objects_of_name(mod, variable, None)
        if objects and all(o.role == "router" for o in objects):
            what = display_code(objects[0].call.func)
            yield self.toml_diag(
                "MSE405",
                "python_application",
                detail=f"`{variable}` in {rel} is a `{what}(...)`, a set of routes, not an "
                "application: hypercorn cannot serve it; name the app it is registered on",
            )
            return
        yield from self.healthcheck(mod, variable)

    def factory(
        self, mod: LocalModule, name: str, depth: int = 0
    ) -> Optional[tuple[LocalModule, ast.AST]]:
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
    def healthcheck(self, mod: LocalModule, variable: str) -> Iterator[Diagnostic]:
        endpoint = None
        for table in (self.toml.data, self.toml.data.get("code")):
            if isinstance(table, dict) and isinstance(table.get("healthcheck_endpoint"), str):
                endpoint = table["healthcheck_endpoint"].strip()
        if not endpoint or not endpoint.startswith("/"):
            return
        apps = [o for o in self.finder.objects_of_name(mod, variable, None) if o.role == "app"]
        if len(apps) != 1:
            return  # not an app we can read statically (a wrapper, an import from a package...)
        app = apps[0]
        self.finder.scan_all()
        routes, complete = self.finder.routes_of(app)
        exact = [r for r in routes if same_path(r.path, endpoint, r.kind)]
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
            if (r.methods is None or "GET" in r.methods) and param_match(r.path, endpoint)
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
