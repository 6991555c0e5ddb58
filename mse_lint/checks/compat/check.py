"""MSE506's check: the syntax pass, the stdlib-additions pass and the run-time types pass on one
file, each behind its own prefilter for the target Python, their findings sorted and deduplicated
into diagnostics."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from typing import Optional

from mse_lint.checks import FileContext
from mse_lint.checks.compat.api import api_features
from mse_lint.checks.compat.data import CompatData, Feature, Source, Version, label, sentence
from mse_lint.checks.compat.reach import ApiPrefilter
from mse_lint.checks.compat.runtime_types import type_features
from mse_lint.checks.compat.syntax import SYNTAX_TEXT, ast_features
from mse_lint.checks.compat.text import fstring_issue_possible, star_lines
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.record import replace

# patterns of which a file's text must match one, whether star_lines and whether
# fstring_issue_possible may find something newer
_Gate = tuple[tuple[re.Pattern[str], ...], bool, bool]


class CompatCheck:
    codes = frozenset({"MSE506"})

    def __init__(self, catalog: Catalog, settings: object = None) -> None:
        self.data = CompatData(catalog)
        self.api_prefilter = ApiPrefilter(self.data)
        self._gates: dict[Version, Optional[_Gate]] = {}

    def _syntax_gate(self, target: Version) -> Optional[_Gate]:
        """What the text of a file must hold for ast_features to find anything newer than
        ``target`` in it: a match of one of the patterns, or (when its flag is set) a star that
        :func:`star_lines` finds or an f-string :func:`fstring_issue_possible` accepts; None
        when any file may hold such syntax."""
        if target not in self._gates:
            running = sys.version_info[:2]
            parts: list[str] = []
            always = running >= (3, 14)  # t-strings: any string prefix, walked every time
            stars = fstrings = False
            for key, (needs, _) in self.data.syntax.items():
                if needs <= target or key in ("union", "generic"):
                    continue  # too old to report, or the run-time type pass's own
                if key.startswith("fstring-"):
                    fstrings = running >= (3, 12)  # older parsers reject them outright
                    continue
                if key in ("star-subscript", "except-star"):
                    stars = True  # star_lines finds `except*` too
                    continue
                text = SYNTAX_TEXT.get(key)
                if text is None:
                    always = True  # a construct without a known text: never skip
                elif running >= text[1]:
                    parts.append(text[0])
            # searched one by one: an alternation would lose each pattern's literal prefix
            patterns = tuple(re.compile(p) for p in dict.fromkeys(parts))
            self._gates[target] = None if always else (patterns, stars, fstrings)
        return self._gates[target]

    def wants(self, text: str) -> bool:
        return True  # the syntax and API passes have their own prefilters, per target

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        target = ctx.target_python
        gate = self._syntax_gate(target)
        found: list[Feature] = []
        text = ctx.source
        stars: Optional[set[int]] = None
        fstrings: Optional[bool] = None
        if gate is not None and not any(p.search(text) for p in gate[0]):
            stars = star_lines(text) if gate[1] else set()
            fstrings = gate[2] and fstring_issue_possible(text)
        if stars is None or stars or fstrings:
            features = ast_features(ctx.tree, text, self.data, target, stars, fstrings)
            found = [f for f in features if f.needs > target]
        needs_types = target < (3, 10)
        names = self.api_prefilter.may_use(text, target)
        if needs_types and names is None:
            names = self.api_prefilter.ref_names(
                target
            )  # as ever: the index is built for the types anyway
        if names is not None:
            index = ctx.index()
            src = Source(text)
            found.extend(api_features(ctx.tree, text, index, src, self.data, target, names))
            # a union is an `|`, a builtin generic a subscript
            generic = target < self.data.syntax["generic"][0]
            if needs_types and ("|" in text or (generic and "[" in text)):
                found.extend(type_features(ctx.tree, index, src, self.data, target))
        seen: set[tuple[Span, str]] = set()
        for f in sorted(found, key=lambda f: (f.span, f.construct)):
            if (f.span, f.key) in seen:
                continue
            seen.add((f.span, f.key))
            yield report(ctx, f, target)


def report(ctx: FileContext, f: Feature, target: Version) -> Diagnostic:
    diag = ctx.diagnostic(
        "MSE506",
        ast.Pass(),
        None,
        construct=sentence(f.construct),
        needs=label(f.needs),
        target=label(target),
        effect=f.effect,
        _span=f.span,
    )
    return replace(diag, stmt_line=f.stmt_line or f.span.line)
