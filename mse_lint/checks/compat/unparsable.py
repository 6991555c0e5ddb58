"""MSE506 for a file the running interpreter cannot parse: libcst reads it with the grammar of
every Python up to 3.14, and the constructs newer than the interpreter become findings instead of
an MSE001 syntax error (called by mse_lint.pipeline.engine). libcst is imported only here, and
only for such files."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Optional

from mse_lint.checks.compat.data import CompatData, Feature, Version, label, sentence
from mse_lint.checks.compat.text import FSTRING_KEYS, fstring_issues
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Span

_VISITOR: list[Any] = []


def _cst_visitor() -> Any:
    """The libcst visitor class of :func:`cst_features`, made once (libcst is imported only
    for files the running Python cannot parse; a class made per call would be garbage with
    reference cycles, which the engine's workers leave to reference counting)."""
    if _VISITOR:
        return _VISITOR[0]
    import libcst as cst

    class Visitor(cst.CSTVisitor):
        def __init__(
            self,
            module: Any,
            data: CompatData,
            span: Callable[..., Span],
        ) -> None:
            super().__init__()
            self.module = module
            self.data = data
            self.span = span
            self.found: list[Feature] = []

        def visit_Match(self, node: cst.Match) -> None:
            self.found.append(self.data.feature("match", self.span(node, node.subject)))

        def visit_TryStar(self, node: cst.TryStar) -> None:
            for h in node.handlers:
                self.found.append(self.data.feature("except-star", self.span(h, h.type)))

        def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
            t = node.type
            if isinstance(t, cst.Tuple) and not t.lpar:
                self.found.append(self.data.feature("except-bare-tuple", self.span(t)))

        def visit_TypeAlias(self, node: cst.TypeAlias) -> None:
            self.found.append(self.data.feature("type-alias", self.span(node)))

        def visit_TypeParameters(self, node: cst.TypeParameters) -> None:
            self.found.append(self.data.feature("type-params", self.span(node)))

        def visit_TypeParam(self, node: cst.TypeParam) -> None:
            if node.default is not None:
                self.found.append(self.data.feature("type-param-default", self.span(node)))

        def visit_Decorator(self, node: cst.Decorator) -> None:
            if not _cst_plain(node.decorator):
                self.found.append(self.data.feature("decorator", self.span(node.decorator)))

        def visit_With(self, node: cst.With) -> None:
            parens = isinstance(node.lpar, cst.LeftParen)
            if parens and (len(node.items) > 1 or node.items[0].asname is not None):
                self.found.append(self.data.feature("paren-with", self.span(node, node.items[0])))

        def visit_SubscriptElement(self, node: cst.SubscriptElement) -> None:
            s = node.slice
            if isinstance(s, cst.Index) and getattr(s, "star", None):
                self.found.append(self.data.feature("star-subscript", self.span(node)))

        def visit_TemplatedString(self, node: cst.TemplatedString) -> bool:
            self.found.append(self.data.feature("tstring", self.span(node)))
            return False

        def visit_FormattedString(self, node: cst.FormattedString) -> bool:
            issues = fstring_issues(self.module.code_for_node(node))
            if issues:
                self.found.append(self.data.feature(FSTRING_KEYS[issues[0]], self.span(node)))
            return False  # nested f-strings are part of this one's verdict

    _VISITOR.append(Visitor)
    return Visitor


def _cst_plain(expr: Any) -> bool:
    """A dotted name, or a call of one: the decorators every Python accepts."""
    import libcst as cst

    if isinstance(expr, cst.Call):
        expr = expr.func
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name)


def cst_features(text: str, data: CompatData) -> Optional[list[Feature]]:
    """Newer syntax found by libcst, or None when libcst cannot parse the file either."""
    try:
        import libcst as cst
        from libcst.metadata import MetadataWrapper, PositionProvider
    except ImportError:  # pragma: no cover - libcst is a dependency
        return None
    try:
        module = cst.parse_module(text)
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        positions = wrapper.resolve(PositionProvider)
    except RecursionError:
        raise  # deep but maybe valid: the engine retries on a larger stack
    except Exception:  # libcst's ParserSyntaxError, or a plain SyntaxError for bad encodings
        return None

    def span(node: cst.CSTNode, end: Optional[cst.CSTNode] = None) -> Span:
        a = positions[node]
        b = positions[end] if end is not None else a
        return Span(a.start.line, a.start.column + 1, b.end.line, b.end.column + 1)

    visitor = _cst_visitor()(wrapper.module, data, span)
    wrapper.module.visit(visitor)
    found: list[Feature] = visitor.found
    found.sort(key=lambda f: f.span)
    return found


def unparsable_features(text: str, exc: SyntaxError, catalog: Catalog) -> Optional[list[Feature]]:
    """For a file the running interpreter rejects: the newer constructs in it, when the
    rejection is one of them (libcst parses the file, and the interpreter's error lies in a
    construct newer than itself). None means a genuine syntax error."""
    data = CompatData(catalog)
    features = cst_features(text, data)
    if not features:
        return None
    here = (sys.version_info[0], sys.version_info[1])
    line = exc.lineno or 0
    newer = [f for f in features if f.needs > here]
    # A genuine error before the first newer construct is what the interpreter tripped on.
    if not any(f.span.line <= line <= f.span.end_line for f in newer):
        first = min((f.span.line for f in newer), default=None)
        if first is None or line < first:
            return None
    return features


def feature_diagnostic(catalog: Catalog, path: str, f: Feature, target: Version) -> Diagnostic:
    """An MSE506 finding outside a FileContext (a file only libcst could parse)."""
    rule = catalog.get("MSE506")
    construct = sentence(f.construct)
    return Diagnostic(
        path,
        f.span,
        "MSE506",
        rule.severity,
        rule.format(
            construct=construct, needs=label(f.needs), target=label(target), effect=f.effect
        ),
        rule.fix,
        f.span.line,
    )
