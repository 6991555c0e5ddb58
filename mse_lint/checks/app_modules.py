"""The local modules of the app that mse.toml names, parsed once for MSE405 and MSE406: read from
the code dir when they ship, parsed with ``ast``, indexed with ModuleIndex (never imported), with
the lookups the app and route passes make on them."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from typing import Optional

from mse_lint.analysis.astwalk import walk
from mse_lint.analysis.scope import ModuleIndex, Ref, is_main_guard
from mse_lint.checks import ProjectContext
from mse_lint.core.diagnostics import Span
from mse_lint.core.record import Mutable, field
from mse_lint.core.safeio import read_regular
from mse_lint.project.model import Manifest, fate_of, path_is

_MAX_MODULES = 64  # local modules followed from the app module


def display_code(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LocalModule(Mutable):
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


class LocalModules:
    def __init__(self, ctx: ProjectContext, manifest: Manifest) -> None:
        self.ctx = ctx
        self.code = manifest.code_dir
        self.patterns = manifest.patterns
        self.cache: dict[str, Optional[LocalModule]] = {}

    def ships(self, rel: str) -> bool:
        return fate_of(rel, self.patterns)[0].ships

    def rel_of(self, name: str) -> Optional[str]:
        base = name.replace(".", "/")
        for rel in (f"{base}.py", f"{base}/__init__.py"):
            if path_is(self.code / rel, "file") and self.ships(rel):
                return rel
        return None

    def load(self, name: str) -> Optional[LocalModule]:
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
        mod = LocalModule(name, rel, self.ctx.display(path), source, tree, index)
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
        for stmt in module_level(tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                mod.defs[stmt.name] = stmt
        self.cache[name] = mod
        return mod

    def absolute(self, qname: str, within: LocalModule) -> list[str]:
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

    def split(self, qname: str) -> Optional[tuple[LocalModule, list[str]]]:
        """``views.bp`` -> (module views, ["bp"]) when a local shipped module holds it."""
        parts = qname.split(".")
        for i in range(len(parts) - 1, 0, -1):
            if any(p.endswith("()") for p in parts[:i]):
                continue
            mod = self.load(".".join(parts[:i]))
            if mod is not None:
                return mod, parts[i:]
        return None


def module_level(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import (module level, into if/try/with, not under __main__)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            if is_main_guard(stmt.test):
                yield from module_level(stmt.orelse)
                continue
            yield from module_level(stmt.body)
            yield from module_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for part in (stmt.body, stmt.orelse, stmt.finalbody):
                yield from module_level(part)
            for h in stmt.handlers:
                yield from module_level(h.body)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield from module_level(stmt.body)


def binds_at_import(body: Sequence[ast.stmt], name: str) -> bool:
    """Whether a statement that runs at import binds ``name`` (not only under __main__)."""
    for stmt in module_level(body):
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


def str_value(node: Optional[ast.expr]) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def call_arg(call: ast.Call, pos: int, *names: str) -> Optional[ast.expr]:
    for k in call.keywords:
        if k.arg in names:
            return k.value
    if 0 <= pos < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args):
        return call.args[pos]
    return None


def imported_names(node: ast.AST, mod: LocalModule, modules: LocalModules) -> Iterator[str]:
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


def dotted_name(node: ast.expr) -> Optional[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None
