"""MSE506's stdlib additions (rules/compat.toml ``[additions]``) resolved through the scope index:
imports, attribute chains, keyword parameters of calls, ``getattr`` and ``import_module`` with a
string, and attributes in evaluated annotations. Uses inside a version guard are left alone
(mse_lint.checks.compat.guards)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mse_lint.analysis.astwalk import walk
from mse_lint.analysis.scope import ModuleIndex, Ref, Value
from mse_lint.checks import words as file_words
from mse_lint.checks.compat.data import (
    EFFECT_ATTR,
    EFFECT_MODULE,
    EFFECT_PARAM,
    CompatData,
    Feature,
    Source,
    Version,
    code_text,
)
from mse_lint.checks.compat.guards import Guards
from mse_lint.checks.compat.reach import Names
from mse_lint.checks.compat.runtime_types import annotation_roots, future_annotations
from mse_lint.checks.compat.syntax import dotted
from mse_lint.core.diagnostics import Span
from mse_lint.core.record import replace

_DYNAMIC_ACCESS = frozenset(
    {"builtins.getattr", "builtins.__import__", "importlib.import_module", "importlib.__import__"}
)
# what resolves to a member of _DYNAMIC_ACCESS is named so somewhere in the text
_DYNAMIC_WORDS = frozenset({"getattr", "__import__", "import_module"})


def api_features(
    tree: ast.Module,
    text: str,
    index: ModuleIndex,
    src: Source,
    data: CompatData,
    target: Version,
    names: Names,
) -> Iterator[Feature]:
    """Additions newer than ``target`` that the file reaches; ``names``: the subsets of
    :meth:`ApiPrefilter.ref_names` a reference may reach them through."""
    run = _ApiPass(tree, index, src, data, target)
    yield from run.imports()
    yield from run.refs(text, names)
    yield from run.annotations(names)


class _ApiPass:
    """One file's additions: imports, then references, then annotations."""

    def __init__(
        self, tree: ast.Module, index: ModuleIndex, src: Source, data: CompatData, target: Version
    ) -> None:
        self.tree = tree
        self.index = index
        self.src = src
        self.data = data
        self.target = target
        self._guards: list[Guards] = []  # built when first needed

    def ok(self, line: int, needs: Version, qname: str) -> bool:
        """Whether ``qname`` (new in ``needs``) cannot fail at ``line``."""
        if needs <= self.target:
            return True
        if not self._guards:
            self._guards.append(Guards(self.tree, self.index))
        return self._guards[0].covers(line, needs, qname)

    def imports(self) -> Iterator[Feature]:
        data, src, ok = self.data, self.src, self.ok
        for site in self.index.imports:
            node = site.node
            line = node.lineno
            if isinstance(node, ast.Import):
                for alias in node.names:
                    m = data.module(alias.name)
                    if m is not None and not ok(line, m.python, m.name):
                        construct = f"`import {alias.name}`" + (
                            f" (module `{m.name}`)" if m.name != alias.name else ""
                        )
                        yield _api_feature(m.python, construct, src.node_span(node), EFFECT_MODULE)
            elif node.level == 0 and node.module:
                m = data.module(node.module)
                if m is not None:
                    if not ok(line, m.python, m.name):
                        construct = f"`from {node.module} import ...`" + (
                            f" (module `{m.name}`)" if m.name != node.module else ""
                        )
                        yield _api_feature(m.python, construct, src.node_span(node), EFFECT_MODULE)
                    continue
                for alias in node.names:
                    q = f"{node.module}.{alias.name}"
                    a = data.attrs.get(q) or data.modules.get(q)
                    if a is not None and not ok(line, a.python, q):
                        construct = f"`from {node.module} import {alias.name}`"
                        effect = EFFECT_MODULE
                        yield Feature("api", a.python, construct, src.node_span(node), effect)

    def refs(self, text: str, names: Names) -> Iterator[Feature]:
        attr_names, param_names, builtin_names, _dot_lines = names
        words = file_words(text)
        # A reference can only reach an addition through a name the text holds (imports,
        # attributes and getattr strings are all words of it), so most are skipped unresolved:
        # those from a plain name whose attributes and keywords name no addition newer than
        # the target, in a file that names no such builtin, unless a call may be a dynamic
        # access (a string argument where getattr and import_module take a name).
        builtins_named = not builtin_names.isdisjoint(words)
        dynamic_named = not _DYNAMIC_WORDS.isdisjoint(words)
        for ref in self.index.refs:
            if (
                isinstance(ref.root, ast.Name)
                and not builtins_named
                and attr_names.isdisjoint(ref.attrs)
                and (
                    ref.call is None
                    or (
                        not (dynamic_named and _names_a_string(ref.call))
                        and all(kw.arg not in param_names for kw in ref.call.keywords)
                    )
                )
            ):
                continue
            for f in self._ref(ref):
                yield replace(f, stmt_line=ref.stmt.lineno)

    def annotations(self, names: Names) -> Iterator[Feature]:
        attr_names, _params, _builtins, dot_lines = names
        if not (attr_names and dot_lines != frozenset() and self.target < (3, 14)):
            return
        if future_annotations(self.tree):
            return
        index, data = self.index, self.data
        for root in annotation_roots(self.tree, dot_lines):
            for sub in walk(root):
                if not isinstance(sub, ast.Attribute) or sub.attr not in attr_names:
                    continue  # (an addition's qualified name ends with its own name)
                if not dotted(sub):
                    continue
                for v in index.resolve(sub, index.module, None):
                    a = data.attrs.get(_normal(v.qname))
                    if a is not None and not self.ok(sub.lineno, a.python, a.name):
                        shown = ast.unparse(sub)
                        construct = f"`{shown}` in an annotation" + (
                            f" (`{a.name}`)" if shown != a.name else ""
                        )
                        span = self.src.node_span(sub)
                        yield _api_feature(a.python, construct, span, EFFECT_ATTR)
                        break

    def _ref(self, ref: Ref) -> Iterator[Feature]:
        data, index, src, ok = self.data, self.index, self.src, self.ok
        line = ref.stmt.lineno
        dynamic_root = isinstance(ref.root, ast.Call)
        if dynamic_root and _getattr_with_default(ref.root):
            return
        full = len(ref.attrs)
        values = list(index.chain_values(ref))
        if not values and isinstance(ref.root, ast.Name) and not ref.attrs:
            # a builtin that the running interpreter lacks (`anext` on 3.9) is still one
            name = f"builtins.{ref.root.id}"
            if name in data.attrs and not index.reaching_bindings(
                ref.scope, ref.root.id, ref.order, ref.path
            ):
                values = [(Value(name), 0)]
        call = ref.call
        if call is not None and any(
            used == full and v.qname in _DYNAMIC_ACCESS for v, used in values
        ):
            # getattr(typing, "override"), importlib.import_module("tomllib")
            if _getattr_with_default(call):
                return
            for v in index.resolve(call, ref.scope, ref.order, ref.path):
                q = _normal(v.qname)
                a = data.attrs.get(q) or data.module(q)
                if a is not None and not ok(line, a.python, a.name):
                    effect = EFFECT_MODULE if a.kind == "module" else EFFECT_ATTR
                    construct = f"`{code_text(call)}` (`{a.name}`)"
                    yield _api_feature(a.python, construct, src.node_span(call), effect)
                    return
            return
        for value, used in values:
            q = _normal(value.qname)
            if call is not None and used == full:
                for p in data.params.get(q, ()):
                    for kw in call.keywords:
                        if kw.arg == p.param and not ok(line, p.python, f"{q}.{p.param}"):
                            construct = f"`{p.param}=` of `{q.removeprefix('builtins.')}`"
                            span = src.node_span(kw)
                            yield _api_feature(p.python, construct, span, EFFECT_PARAM)
            # At the root: a bare name bound by `from m import x` was reported at the import,
            # a call's callee at its own reference; only dynamic access and builtins remain.
            dynamic = dynamic_root and value.dynamic is not None
            if used == 0 and not dynamic and not q.startswith("builtins."):
                continue
            a = data.attrs.get(q)
            if a is None and dynamic and used == 0:
                a = data.module(q)
            if a is None:
                continue
            if ok(line, a.python, a.name):
                return
            node: ast.AST = ref.node
            for _ in range(full - used):
                node = node.value  # type: ignore[attr-defined]
            shown = q.removeprefix("builtins.")
            effect = EFFECT_MODULE if a.kind == "module" else EFFECT_ATTR
            yield Feature("api", a.python, f"`{shown}`", src.node_span(node), effect)
            return


def _normal(qname: str) -> str:
    """A method reached through an instance names the class's method: ``pathlib.Path().walk``
    is ``pathlib.Path.walk``."""
    return qname.replace("().", ".")


def _names_a_string(call: ast.Call) -> bool:
    """Whether ``call`` has a string where ``getattr`` takes the name of an attribute or
    ``import_module`` and ``__import__`` that of a module (what the scope index resolves)."""
    return any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args[:2])


def _api_feature(needs: Version, construct: str, span: Span, effect: str) -> Feature:
    return Feature("api", needs, construct, span, effect)


def _getattr_with_default(call: ast.expr) -> bool:
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "getattr"
        and len(call.args) >= 3
    )
