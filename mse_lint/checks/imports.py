"""MSE504: third-party imports that nothing installs in the enclave.

Per file (the engine already parsed it): every absolute import reached when the module runs is
checked against the stdlib of every Python version (a version mismatch is MSE506's business),
the project's own modules, and the distributions known to be installed: the docker image's
packages, the top-level requirements.txt and what they pull in (checks/shipping.py). Imports
that the code expects to fail (``try``/``except ImportError``, ``contextlib.suppress``), that
only type checkers see, or that run only as a script (``if __name__ == "__main__":``) are left
alone.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Optional

from mse_lint.analysis.scope import _is_type_checking, is_main_guard
from mse_lint.checks import FileContext, ProjectInfo
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic
from mse_lint.core.settings import Settings

if TYPE_CHECKING:
    from mse_lint.checks.distributions import Distributions, Environment

_CATCHES_IMPORT_ERROR = frozenset(
    {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
)


_IMPORTERS = frozenset({"importlib.import_module", "builtins.__import__", "importlib.__import__"})


class ImportsCheck:
    codes = frozenset({"MSE504"})

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        data = catalog.data("stdlib")
        names = set(data.get("common", ()))
        for extra in data.get("extra", {}).values():
            names.update(extra)
        self.stdlib = frozenset(names)
        # one project per run (and per worker): its environment and folder listing, computed once
        self._cache: Optional[tuple[ProjectInfo, tuple[int, int], Environment]] = None
        self._folders: Optional[tuple[ProjectInfo, Mapping[str, frozenset[str]]]] = None

    @functools.cached_property
    def dists(self) -> Distributions:
        """The packages the images and requirements provide: built, and the shipping module
        with its requirement parser imported, for the first file whose project ships."""
        from mse_lint.checks.distributions import Distributions

        return Distributions(self.catalog)

    def wants(self, text: str) -> bool:
        return "import" in text

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        info = ctx.project
        if info.code_dir is None or not ctx.file:
            return []
        rel = os.path.relpath(os.path.abspath(ctx.file), info.code_dir).replace(os.sep, "/")
        if rel.startswith("../") or rel not in info.shipped:
            return []  # host-side code, named by the user: not installed anywhere
        env = self._environment(info, ctx.target_python)
        if not env.known:
            return []  # a custom image may carry anything
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        local = ctx.local_modules | self._siblings(info).get(folder, frozenset())
        requirements = (
            "the code dir's requirements.txt"
            if env.requirements is not None
            else "requirements.txt (none ships at the top of the code dir)"
        )
        out: list[Diagnostic] = []
        seen: set[tuple[int, str]] = set()
        reached: set[int] = set()
        found = list(_runtime_imports(ctx.tree, reached, ctx.target_python))
        if "import_module" in ctx.source or "__import__" in ctx.source:
            found.extend(_dynamic_imports(ctx, reached))
        for node, stmt, module, shown in found:
            top = module.split(".", 1)[0]
            if top in self.stdlib or top in local or not top:
                continue
            providers = self.dists.providers(module)
            from mse_lint.project.requirements import (
                canonical,  # here: only for a shipped file of a project
            )

            if any(canonical(p) in env.installed for p in providers):
                continue
            if (id(node), providers[0]) in seen:
                continue  # `from pandas import DataFrame, Series`: one finding
            seen.add((id(node), providers[0]))
            out.append(
                ctx.diagnostic(
                    "MSE504",
                    node,
                    stmt,
                    module=shown,
                    dist=providers[0],
                    requirements=requirements,
                    image=env.image_label,
                )
            )
        return out

    def _environment(self, info: ProjectInfo, python: tuple[int, int]) -> Environment:
        if self._cache is None or self._cache[0] is not info or self._cache[1] != python:
            self._cache = (info, python, self.dists.environment(info, python))
        return self._cache[2]

    def _siblings(self, info: ProjectInfo) -> Mapping[str, frozenset[str]]:
        """Module names per shipped folder: a module's neighbours import each other when the
        folder is on sys.path, which is not for mse-lint to judge here."""
        if self._folders is None or self._folders[0] is not info:
            out: dict[str, set[str]] = {}
            for rel in info.shipped:
                parts = rel.split("/")
                for i in range(len(parts)):
                    folder = "/".join(parts[:i])
                    name = parts[i]
                    if i == len(parts) - 1:
                        if not name.endswith(".py"):
                            continue
                        name = name[:-3]
                    out.setdefault(folder, set()).add(name)
            self._folders = (info, {k: frozenset(v) for k, v in out.items()})
        return self._folders[1]


def _runtime_imports(
    tree: ast.Module, reached: set[int], python: tuple[int, int] = (3, 10)
) -> Iterator[tuple[ast.AST, ast.stmt, str, str]]:
    """(node, statement, dotted name to look up, module as written) of each absolute import
    that runs unguarded when the module is imported or its functions are called. ``reached``
    receives the id of every statement visited (those are the unguarded ones)."""
    todo: list[list[ast.stmt]] = [list(tree.body)]
    while todo:
        for stmt in todo.pop():
            reached.add(id(stmt))
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    yield stmt, stmt, alias.name, alias.name
            elif isinstance(stmt, ast.ImportFrom):
                if stmt.level or not stmt.module:
                    continue  # relative: the project's own
                for alias in stmt.names:
                    # `from google.cloud import storage` may name a module: the longest
                    # catalogued prefix decides, see Distributions.providers
                    name = stmt.module if alias.name == "*" else f"{stmt.module}.{alias.name}"
                    yield stmt, stmt, name, stmt.module
            elif isinstance(stmt, ast.If):
                taken = _version_test(stmt.test, python)
                if _is_type_checking(stmt.test) or is_main_guard(stmt.test) or taken is False:
                    todo.append(stmt.orelse)
                elif taken:
                    todo.append(stmt.body)
                else:
                    todo.extend((stmt.body, stmt.orelse))
            elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
                handlers = getattr(stmt, "handlers", [])
                if not any(_catches_import_error(h) for h in handlers):
                    todo.append(getattr(stmt, "body", []))
                for h in handlers:
                    todo.append(h.body)
                todo.extend((getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])))
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                if not any(_suppresses_import_error(i.context_expr) for i in stmt.items):
                    todo.append(stmt.body)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                todo.append(stmt.body)
            elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
                todo.extend((stmt.body, stmt.orelse))
            elif type(stmt).__name__ == "Match":
                for case in getattr(stmt, "cases", []):
                    todo.append(case.body)


def _dynamic_imports(
    ctx: FileContext, reached: set[int]
) -> Iterator[tuple[ast.AST, ast.stmt, str, str]]:
    """``importlib.import_module("yaml")`` / ``__import__("yaml")`` with a literal name, resolved
    by scope (an alias of importlib counts, a local function named import_module does not)."""
    index = ctx.index()
    for ref in index.refs:
        call = ref.call
        if call is None or not call.args or id(ref.stmt) not in reached:
            continue
        first = call.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        name = first.value
        if not name or name.startswith("."):
            continue
        values = index.resolve(ref.node, ref.scope, ref.order, ref.path)
        if any(v.qname in _IMPORTERS for v in values):
            yield call, ref.stmt, name, name


_COMPARE: dict[type, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


def _version_test(test: ast.expr, python: tuple[int, int]) -> Optional[bool]:
    """``sys.version_info >= (3, 11)`` (or ``sys.version_info[:2] < (3, 9)``) for the target
    Python; None for any other test."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, right = test.left, test.comparators[0]
    if isinstance(left, ast.Subscript) and isinstance(left.slice, ast.Slice):
        left = left.value  # [:2] keeps the comparison the same for a 2-tuple
    if not (
        isinstance(left, ast.Attribute)
        and left.attr == "version_info"
        and isinstance(left.value, ast.Name)
        and left.value.id == "sys"
    ):
        return None
    if not isinstance(right, ast.Tuple) or not 1 <= len(right.elts) <= 2:
        return None
    literal = []
    for elt in right.elts:
        if not (isinstance(elt, ast.Constant) and type(elt.value) is int):
            return None
        literal.append(elt.value)
    compare = _COMPARE.get(type(test.ops[0]))
    if compare is None:
        return None
    # the running version has a micro part: (3, 10, x) > (3, 10), as sys.version_info is
    return compare((*python, 0), tuple(literal))


def _exception_names(node: Optional[ast.expr]) -> Iterator[str]:
    if node is None:
        yield "BaseException"  # a bare except
    elif isinstance(node, ast.Tuple):
        for elt in node.elts:
            yield from _exception_names(elt)
    elif isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    return any(n in _CATCHES_IMPORT_ERROR for n in _exception_names(handler.type))


def _suppresses_import_error(expr: ast.expr) -> bool:
    """``contextlib.suppress(ImportError)`` (or ``suppress(...)`` imported from it)."""
    if not isinstance(expr, ast.Call):
        return False
    func = expr.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name != "suppress":
        return False
    return any(n in _CATCHES_IMPORT_ERROR for a in expr.args for n in _exception_names(a))
