"""Secrets: MSE208 MSE209 MSE210, how the app reaches its secrets file.

- MSE208: a secrets file named by a literal path (``open("secrets.json")``,
  ``Path(BASE) / "secrets.json"``, a module constant later passed to a call).
- MSE209: a key read from the JSON loaded from ``$SECRETS_PATH`` that the configured secrets file
  lacks. The value is followed through bindings (scope-aware, via ``ModuleIndex``): environment
  read -> path -> open file or text -> parsed JSON -> ``[key]`` / ``.get(key)``.
- MSE210: ``$SEALED_SECRETS_PATH`` read by an app set up for MSE cloud.

Names in the code are resolved through imports and aliases (``from os import getenv as g``), and
a local name that shadows them is not taken for them.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Optional

from mse_lint.analysis.astwalk import walk
from mse_lint.analysis.scope import Ref
from mse_lint.checks import FileContext
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic
from mse_lint.core.settings import Settings

_MAX_DEPTH = 12

Kind = tuple[str, str]  # (what the value is: path/handle/text/json, the env var it comes from)


class SecretUsageCheck:
    codes = frozenset({"MSE208", "MSE209", "MSE210"})

    def __init__(self, catalog: Catalog, settings: Settings) -> None:

        self.catalog = catalog
        self.settings = settings
        data = catalog.data("secrets")
        usage: Mapping[str, Any] = data.get("secrets_usage", {})
        self.secrets_env: str = usage.get("secrets_env", "SECRETS_PATH")
        self.sealed_env: str = usage.get("sealed_env", "SEALED_SECRETS_PATH")
        self.envs = frozenset({self.secrets_env, self.sealed_env})
        self.env_calls = frozenset(usage.get("env_calls", ()))
        self.env_mappings = frozenset(usage.get("env_mappings", ()))
        self.path_calls = frozenset(usage.get("path_calls", ()))
        self.open_calls = frozenset(usage.get("open_calls", ()))
        self.json_text_calls = frozenset(usage.get("json_text_calls", ()))
        self.json_file_calls = frozenset(usage.get("json_file_calls", ()))
        self.message_calls = frozenset(usage.get("message_calls", ()))
        self.path_methods = frozenset(usage.get("path_methods", ()))
        self.text_methods = frozenset(usage.get("text_methods", ()))
        self.files: dict[str, tuple[str, str]] = {
            f["name"]: (f["env"], f["enclave_path"]) for f in data.get("secrets_path_files", [])
        }
        self.default_place = self.files.get(
            "secrets.json", (self.secrets_env, "/root/.cache/mse/secrets.json")
        )

    def wants(self, text: str) -> bool:
        # every catalogued secrets file name ends with .json; the env var names share a suffix
        return self.secrets_env in text or ".json" in text

    def _allowed(self, value: str) -> bool:
        return self.settings.secrets.allows(value)

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        files = dict(self.files)
        if ctx.project.secrets_file:
            base = os.path.basename(ctx.project.secrets_file)
            if base and base not in files:
                files[base] = self.default_place
        src = ctx.source
        has_files = any(name in src for name in files)
        has_env = self.secrets_env in src and (  # SEALED_SECRETS_PATH contains it
            ctx.project.secret_keys is not None or ctx.project.cloud
        )
        if not has_files and not has_env:
            return []
        return list(_Run(self, ctx, files).diagnostics(has_files, has_env))


class _Run:
    """One file: the module index and memoised facts about its nodes."""

    def __init__(
        self, check: SecretUsageCheck, ctx: FileContext, files: dict[str, tuple[str, str]]
    ) -> None:
        self.c = check
        self.ctx = ctx
        self.files = files
        self.index = ctx.index()
        self.by_node: dict[int, Ref] = {}
        for ref in self.index.refs:
            self.by_node.setdefault(id(ref.node), ref)
            if isinstance(ref.root, ast.Name):
                self.by_node.setdefault(id(ref.root), ref)
        self._qnames: dict[int, frozenset[str]] = {}
        self._kinds: dict[int, Optional[Kind]] = {}
        # `with open(<secrets path>) as f:` -> (scope of the with, name) -> line ranges
        self.with_targets: dict[tuple[int, str], list[tuple[int, int, ast.expr]]] = {}

    # -- resolution ------------------------------------------------------------------------------
    def qnames(self, func: ast.expr) -> frozenset[str]:
        key = id(func)
        found = self._qnames.get(key)
        if found is None:
            ref = self.by_node.get(key)
            if ref is None:
                found = frozenset()
            else:
                values = self.index.resolve(func, ref.scope, ref.order, ref.path)
                found = frozenset(v.qname for v in values)
            self._qnames[key] = found
        return found

    def env_read(self, node: ast.expr) -> Optional[str]:
        """The secrets env var that ``node`` reads (os.getenv / os.environ[...] / .get)."""
        if isinstance(node, ast.Call) and node.args:
            name = _str(node.args[0])
            if name in self.c.envs and self.qnames(node.func) & self.c.env_calls:
                return name
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            name = _str(node.slice)
            if name in self.c.envs and self.qnames(node.value) & self.c.env_mappings:
                return name
        return None

    def kind(self, node: ast.expr, depth: int = 0) -> Optional[Kind]:
        key = id(node)
        if key in self._kinds:
            return self._kinds[key]
        if depth > _MAX_DEPTH:
            return None
        self._kinds[key] = None  # a cycle through bindings resolves to nothing
        found = self._kind(node, depth + 1)
        self._kinds[key] = found
        return found

    def _kind(self, node: ast.expr, depth: int) -> Optional[Kind]:
        env = self.env_read(node)
        if env is not None:
            return ("path", env)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            return self._name_kind(node, depth)
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        first = self.kind(node.args[0], depth) if node.args else None
        if isinstance(func, ast.Attribute):
            inner = self.kind(func.value, depth)
            if inner is not None:
                what, env = inner
                if what == "path":
                    if func.attr == "open":
                        return ("handle", env)
                    if func.attr in self.c.text_methods:
                        return ("text", env)
                    if func.attr in self.c.path_methods:
                        return inner
                elif what == "handle" and func.attr == "read":
                    return ("text", env)
        if first is None:
            return None
        names = self.qnames(func)
        what, env = first
        if what == "path":
            if names & self.c.path_calls:
                return first
            if names & self.c.open_calls:
                return ("handle", env)
        elif (what == "text" and names & self.c.json_text_calls) or (
            what == "handle" and names & self.c.json_file_calls
        ):
            return ("json", env)
        return None

    def _name_kind(self, node: ast.Name, depth: int) -> Optional[Kind]:
        ref = self.by_node.get(id(node))
        if ref is None:
            return None
        bindings = self.index.reaching_bindings(ref.scope, node.id, ref.order, ref.path)
        opaque = True
        for b in bindings:
            if b.expr is None:
                continue
            opaque = False
            found = self.kind(b.expr, depth)
            if found is not None:
                return found
        if opaque:  # `with open(path) as f:` binds f without an expression
            for start, end, expr in self.with_targets.get((id(ref.scope), node.id), ()):
                if start <= node.lineno <= end:
                    return self.kind(expr, depth)
        return None

    # -- the rules -----------------------------------------------------------------------------
    def diagnostics(self, has_files: bool, has_env: bool) -> Iterator[Diagnostic]:
        calls: list[ast.Call] = []
        subscripts: list[ast.Subscript] = []
        divisions: list[ast.BinOp] = []
        for node in walk(self.ctx.tree):
            if isinstance(node, ast.Call):
                calls.append(node)
            elif isinstance(node, ast.Subscript):
                subscripts.append(node)
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                divisions.append(node)
            elif isinstance(node, (ast.With, ast.AsyncWith)) and has_env:
                self._record_with(node)
        if has_files:
            yield from self._literal_paths(calls, divisions)
        if has_env:
            keys = self.ctx.project.secret_keys
            if keys is not None:
                yield from self._missing_keys(calls, subscripts, keys)
            if self.ctx.project.cloud:
                yield from self._sealed_reads(calls, subscripts)

    def _record_with(self, node: ast.AST) -> None:
        for item in node.items:  # type: ignore[attr-defined]
            target = item.optional_vars
            if not isinstance(target, ast.Name) or not node.body:  # type: ignore[attr-defined]
                continue
            expr = item.context_expr
            ref = self.by_node.get(id(expr.func if isinstance(expr, ast.Call) else expr))
            if ref is None:
                continue
            start = node.body[0].lineno  # type: ignore[attr-defined]
            end = getattr(node, "end_lineno", None) or start
            self.with_targets.setdefault((id(ref.scope), target.id), []).append((start, end, expr))

    # MSE208 -------------------------------------------------------------------------------------
    def _match(self, node: ast.expr) -> Optional[tuple[str, str]]:
        """(file name, the path as written) when ``node`` is a literal path to a secrets file."""
        text: Optional[str]
        if isinstance(node, ast.Constant):
            text = node.value if isinstance(node.value, str) else None
            tail = text
        elif isinstance(node, ast.JoinedStr) and node.values:
            last = node.values[-1]
            tail = _str(last)
            text = ast.get_source_segment(self.ctx.source, node) or tail
        else:
            return None
        if not tail or not text or "://" in tail or any(ch.isspace() for ch in tail):
            return None
        base = tail.replace("\\", "/").rsplit("/", 1)[-1]
        if base not in self.files or self.c._allowed(tail):
            return None
        shown = repr(text) if isinstance(node, ast.Constant) else text
        return base, shown

    def _path_parts(self, node: ast.expr) -> Iterator[ast.expr]:
        """The literals a path expression is built from (not looking into calls)."""
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, (ast.Constant, ast.JoinedStr)):
                yield n
            elif isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Div, ast.Add, ast.Mod)):
                stack.extend((n.right, n.left))

    def _is_message_call(self, call: ast.Call) -> bool:
        func = call.func
        last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return last in self.c.message_calls or last.endswith(("Error", "Exception", "Warning"))

    def _literal_paths(
        self, calls: list[ast.Call], divisions: list[ast.BinOp]
    ) -> Iterator[Diagnostic]:
        seen: set[int] = set()
        names: list[ast.Name] = []
        for call in calls:
            if self._is_message_call(call):
                continue
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                if isinstance(arg, ast.Starred):
                    continue
                if isinstance(arg, ast.Name):
                    names.append(arg)
                    continue
                for part in self._path_parts(arg):
                    yield from self._report_literal(part, part, seen)
        for div in divisions:
            for part in self._path_parts(div):
                yield from self._report_literal(part, part, seen)
        # a name passed to a call: the literal it was bound to (module constants, locals)
        for name in names:
            for part in self._bound_literals(name, 0):
                if id(part) not in seen:
                    yield from self._report_literal(part, name, set())

    def _bound_literals(self, node: ast.Name, depth: int) -> Iterator[ast.expr]:
        ref = self.by_node.get(id(node))
        if ref is None or depth > 4:
            return
        for b in self.index.reaching_bindings(ref.scope, node.id, ref.order, ref.path):
            if b.expr is None:
                continue
            if isinstance(b.expr, ast.Name):
                yield from self._bound_literals(b.expr, depth + 1)
            else:
                yield from self._path_parts(b.expr)

    def _report_literal(
        self, part: ast.expr, where: ast.expr, seen: set[int]
    ) -> Iterator[Diagnostic]:
        if id(part) in seen:
            return
        found = self._match(part)
        if found is None:
            return
        seen.add(id(part))
        base, shown = found
        env, expected = self.files[base]
        yield self.ctx.diagnostic("MSE208", where, path=shown, env=env, expected=expected)

    # MSE209 -------------------------------------------------------------------------------------
    def _missing_keys(
        self, calls: list[ast.Call], subscripts: list[ast.Subscript], keys: frozenset[str]
    ) -> Iterator[Diagnostic]:
        reads: list[tuple[ast.expr, ast.expr, str]] = []
        for sub in subscripts:
            key = _str(sub.slice)
            if key is not None and isinstance(sub.ctx, ast.Load):
                reads.append((sub, sub.value, key))
        for call in calls:
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr == "get" and call.args:
                key = _str(call.args[0])
                if key is not None:
                    reads.append((call, func.value, key))
        if not reads:
            return
        have = ", ".join(repr(k) for k in sorted(keys)) or "no keys at all"
        shown = _shown_path(self.ctx.project.secrets_file or "the secrets file")
        for node, value, key in sorted(reads, key=lambda r: (r[0].lineno, r[0].col_offset)):
            if key in keys:
                continue
            found = self.kind(value)
            if found == ("json", self.c.secrets_env):
                yield self.ctx.diagnostic("MSE209", node, key=key, file=shown, keys=have)

    # MSE210 -------------------------------------------------------------------------------------
    def _sealed_reads(
        self, calls: list[ast.Call], subscripts: list[ast.Subscript]
    ) -> Iterator[Diagnostic]:
        nodes: list[ast.expr] = [*calls, *subscripts]
        for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
            if self.env_read(node) == self.c.sealed_env:
                api = ast.get_source_segment(self.ctx.source, node) or ast.unparse(node)
                yield self.ctx.diagnostic("MSE210", node, api=" ".join(api.split()))


def _str(node: ast.expr) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _shown_path(path: str) -> str:
    """The secrets file as the user knows it: relative to the working folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
