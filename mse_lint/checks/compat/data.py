"""MSE506's data and records: rules/compat.toml indexed, the constructs the passes find, and
source positions (ast's UTF-8 byte columns made character columns)."""

from __future__ import annotations

import ast
from typing import Optional

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Span
from mse_lint.core.record import Frozen

Version = tuple[int, int]

EFFECT_SYNTAX = "a SyntaxError when the module is imported, so the app never starts"
EFFECT_MODULE = "an ImportError when this runs"
EFFECT_ATTR = "an AttributeError or ImportError when this runs"
EFFECT_PARAM = "a TypeError (unexpected keyword argument) when this runs"
EFFECT_TYPE = "a TypeError when this is evaluated"


def parse_version(text: str) -> Version:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def label(v: Version) -> str:
    return f"{v[0]}.{v[1]}"


class Feature(Frozen):
    """A construct newer than some Python: where, what the message calls it, since when."""

    key: str
    needs: Version
    construct: str
    span: Span
    effect: str = EFFECT_SYNTAX
    # first line of the statement holding it: a suppression comment there applies too
    stmt_line: int = 0


class Addition(Frozen):
    name: str
    python: Version
    kind: str  # attr | module | param
    param: str = ""


class CompatData:
    """rules/compat.toml, indexed."""

    def __init__(self, catalog: Catalog) -> None:
        data = catalog.data("compat")
        self.syntax: dict[str, tuple[Version, str]] = {
            k: (parse_version(v["python"]), v["what"]) for k, v in data.get("syntax", {}).items()
        }
        types = data.get("types", {})
        self.generic_classes: tuple[str, ...] = tuple(types.get("generic-classes", ()))
        self.type_names: tuple[str, ...] = tuple(types.get("type-names", ()))
        self.attrs: dict[str, Addition] = {}
        self.modules: dict[str, Addition] = {}
        self.params: dict[str, list[Addition]] = {}
        for raw in data.get("additions", {}).get("api", ()):
            a = Addition(raw["name"], parse_version(raw["python"]), raw.get("kind", "attr"))
            if a.kind == "module":
                self.modules[a.name] = a
            elif a.kind == "param":
                a = Addition(a.name, a.python, a.kind, raw["param"])
                self.params.setdefault(a.name, []).append(a)
            else:
                self.attrs[a.name] = a

    def feature(self, key: str, span: Span, code: Optional[str] = None) -> Feature:
        needs, what = self.syntax[key]
        effect = EFFECT_TYPE if key in ("union", "generic") else EFFECT_SYNTAX
        return Feature(key, needs, f"`{code}`, {what}," if code else what, span, effect)

    def module(self, name: str) -> Optional[Addition]:
        """The addition ``name`` or one of its parent packages is."""
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            found = self.modules.get(".".join(parts[:i]))
            if found is not None:
                return found
        return None


# -- source positions ------------------------------------------------------------------------
class Source:
    """One file's lines, for ast positions."""

    def __init__(self, text: str) -> None:
        self.lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._bytes: dict[int, bytes] = {}

    def _line(self, n: int) -> bytes:
        if n not in self._bytes:
            self._bytes[n] = self.lines[n - 1].encode("utf-8") if 1 <= n <= len(self.lines) else b""
        return self._bytes[n]

    def segment(self, l1: int, c1: int, l2: int, c2: int) -> str:
        """Text between two ast positions (1-based lines, UTF-8 byte columns)."""
        if l1 == l2:
            return self._line(l1)[c1:c2].decode("utf-8", "replace")
        parts = [self._line(l1)[c1:]]
        parts.extend(self._line(n) for n in range(l1 + 1, l2))
        parts.append(self._line(l2)[:c2])
        return b"\n".join(parts).decode("utf-8", "replace")

    def col(self, line: int, byte_col: int) -> int:
        return len(self._line(line)[:byte_col].decode("utf-8", "ignore")) + 1

    def span(self, l1: int, c1: int, l2: int, c2: int) -> Span:
        return Span(l1, self.col(l1, c1), l2, self.col(l2, c2))

    def node_span(self, node: ast.AST) -> Span:
        l1 = getattr(node, "lineno", 1)
        c1 = getattr(node, "col_offset", 0)
        l2 = getattr(node, "end_lineno", None) or l1
        c2 = getattr(node, "end_col_offset", None)
        return self.span(l1, c1, l2, c2 if c2 is not None else c1 + 1)


def code_text(node: ast.AST, limit: int = 40) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sentence(construct: str) -> str:
    return construct[0].upper() + construct[1:]
