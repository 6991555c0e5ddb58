"""MSE506's prefilter for stdlib additions: which files can reach an API newer than the target
at all, from their words and the text around them, before the scope index is built.

Every test here is a superset of what the scope index resolves (mse_lint.checks.compat.api):
whatever cannot be told for sure counts as reachable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Optional

from mse_lint.checks import name_needs
from mse_lint.checks import words as file_words
from mse_lint.checks.compat.data import CompatData, Version
from mse_lint.checks.compat.text import GAP_RE, back, word_ending_at

# An import statement's names: up to its closing parenthesis, or to the end of its logical line
_IMPORT_NAMES = re.compile(
    r"import\b(?:[ \t\f]|\\[\s\S])*(?:\((?:[^#)]|#[^\n]*)*\)?|(?:[^\n\\#;]|\\[\s\S])*)"
)
_WORD_CHAR = re.compile(r"\w")
_WORD_END: dict[str, re.Pattern[str]] = {}  # no leading \b: re then searches for the literal


class _Reach:
    """Where a name of a catalogued addition stands in one file's text (line breaks made
    ``\n``): the tests of :meth:`ApiPrefilter.needs`, each a superset of what the scope
    index can resolve. Whatever cannot be told for sure counts as reachable."""

    def __init__(self, text: str) -> None:
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.text = text
        self._imports: Optional[list[tuple[int, int]]] = None
        self._memo: dict[tuple[str, str], bool] = {}

    def _occurrences(self, word: str) -> Iterator[int]:
        """Where ``word`` stands as a whole word."""
        text = self.text
        pattern = _WORD_END.get(word)
        if pattern is None:
            pattern = _WORD_END[word] = re.compile(re.escape(word) + r"\b")
        for m in pattern.finditer(text):
            i = m.start()
            if i == 0 or not _WORD_CHAR.match(text, i - 1):
                yield i

    def _in_import(self, i: int) -> bool:
        if self._imports is None:
            self._imports = [(m.start(), m.end()) for m in _IMPORT_NAMES.finditer(self.text)]
        return any(start < i < end for start, end in self._imports)

    def dot_lines(self, names: Iterable[str]) -> Iterator[int]:
        """The lines where one of ``names`` may stand after a dot."""
        text = self.text
        for name in names:
            for i in self._occurrences(name):
                if self._at("dot", name, i):
                    yield text.count("\n", 0, i) + 1

    def test(self, how: str, word: str) -> bool:
        key = (how, word)
        found = self._memo.get(key)
        if found is None:
            found = any(self._at(how, word, i) for i in self._occurrences(word))
            self._memo[key] = found
        return found

    def _at(self, how: str, word: str, i: int) -> bool:
        text = self.text
        if how == "keyword":  # `param=`, not `param ==`
            gap = GAP_RE.match(text, i + len(word))
            j = gap.end() if gap else i + len(word)
            return text.startswith("=", j) and not text.startswith("==", j)
        k = back(text, i)
        if k is None:
            return True
        if k < 0:
            return False
        c = text[k]
        if how == "dot":
            return c == "."
        if c == "'" or c == '"':
            return True  # `import_module("m")`, `getattr(x, "name")`
        if c == ".":
            return how == "name"
        if c.isalnum() or c == "_":
            before = word_ending_at(text, k)
            return before == "import" or (how == "module" and before == "from")
        return c in ",(" and self._in_import(i)


# the words a file must hold for one addition, and how some of them must stand (_Reach.test)
ApiNeed = tuple[frozenset[str], tuple[tuple[str, str], ...], str, int]
# last names of attributes, keyword parameters, builtins (ApiPrefilter.ref_names), and the lines
# where one of those names may stand after a dot (in an annotation, say; None: anywhere)
Names = tuple[frozenset[str], frozenset[str], frozenset[str], Optional[frozenset[int]]]


class ApiPrefilter:
    """For each target Python, what a file's text must hold to reach an addition newer than it
    (worked out once per target)."""

    def __init__(self, data: CompatData) -> None:
        self.data = data
        self._pairs: dict[Version, frozenset[tuple[str, str]]] = {}
        self._names: dict[Version, Names] = {}
        self._needs: dict[Version, Optional[list[ApiNeed]]] = {}
        self._keys: dict[Version, dict[str, list[ApiNeed]]] = {}

    def pairs(self, target: Version) -> frozenset[tuple[str, str]]:
        """(module, name) word pairs: a file can use an addition newer than ``target`` only if
        its text holds both the top-level module (imported under some name) and the
        addition's own name (``typing`` and ``Self``, ``pathlib`` and ``walk``)."""
        if target not in self._pairs:
            pairs = set()
            for a in (*self.data.attrs.values(), *self.data.modules.values()):
                if a.python > target:
                    top, last = a.name.split(".")[0], a.name.rsplit(".", 1)[-1]
                    pairs.add((last if top == "builtins" else top, last))
            for params in self.data.params.values():
                for p in params:
                    if p.python > target:
                        top = p.name.split(".")[0]
                        last = p.name.rsplit(".", 1)[-1]
                        pairs.add((last if top == "builtins" else top, p.param))
            self._pairs[target] = frozenset(pairs)
        return self._pairs[target]

    def ref_names(self, target: Version) -> Names:
        """The last names of attribute additions newer than ``target``, their keyword
        parameters' names, the builtins among them (and None: no line known)."""
        found = self._names.get(target)
        if found is None:
            attrs = [a.name for a in self.data.attrs.values() if a.python > target]
            last = frozenset(n.rsplit(".", 1)[-1] for n in attrs)
            found = self._names[target] = (
                last,
                frozenset(
                    p.param for ps in self.data.params.values() for p in ps if p.python > target
                ),
                frozenset(n.split(".", 1)[1] for n in attrs if n.startswith("builtins.")),
                None,
            )
        return found

    def needs(self, target: Version) -> Optional[list[ApiNeed]]:
        """For each addition newer than ``target``: the words a file's text must hold for the
        scope index to resolve a reference to it (every part of a name the index resolves
        comes from the text, :func:`checks.name_needs`), the tests of :class:`_Reach` it must
        pass too, each a place that addition can be reached from: its top-level module
        imported (``import m``, ``from m``, or a string naming it for ``import_module``), its
        own name after a dot, in an import list or in a string (``getattr``), its keyword
        parameter followed by ``=`` (builtins are reached by their bare names); and which of
        the sets of :meth:`ref_names` it is in (0: last names, 1: keyword parameters, 2:
        builtins; -1: none, a module). None when a name is not made of word characters."""
        if target not in self._needs:
            entries: list[ApiNeed] = []
            additions = [
                (a.name, a.kind, "")
                for a in (*self.data.attrs.values(), *self.data.modules.values())
                if a.python > target
            ]
            additions += [
                (p.name, p.kind, p.param)
                for params in self.data.params.values()
                for p in params
                if p.python > target
            ]
            for name, kind, param in additions:
                needs = name_needs([f"{name}.{param}" if param else name])
                if needs is None:
                    self._needs[target] = None
                    return None
                top, last = name.split(".")[0], name.rsplit(".", 1)[-1]
                tests: list[tuple[str, str]] = []
                if top != "builtins":
                    tests.append(("module", top))
                    if kind == "attr":
                        tests.append(("name", last))
                if param:
                    tests.append(("keyword", param))
                entries.append((needs[0][0], tuple(tests), last, -1))
                if kind == "attr":
                    entries[-1] = (needs[0][0], tuple(tests), last, 0)
                    if top == "builtins":  # in both sets
                        entries.append((needs[0][0], tuple(tests), last, 2))
                elif kind == "param":
                    entries[-1] = (needs[0][0], tuple(tests), param, 1)
            self._needs[target] = entries
            by_name: dict[str, list[ApiNeed]] = {}
            for e in entries:
                by_name.setdefault(e[2], []).append(e)
            self._keys[target] = by_name
        return self._needs[target]

    def may_use(self, text: str, target: Version) -> Optional[Names]:
        """None when ``text`` cannot reach an addition newer than ``target``; else the names of
        :meth:`ref_names` it may reach them through."""
        entries = self.needs(target)
        if entries is None:
            words = file_words(text)
            pairs = self.pairs(target)
            if any(top in words and last in words for top, last in pairs):
                return self.ref_names(target)
            return None
        words = file_words(text)
        by_name = self._keys[target]  # each entry's name is among its own words
        hits = by_name.keys() & words
        if not hits:
            return None
        reach: Optional[_Reach] = None
        names: tuple[set[str], set[str], set[str]] = (set(), set(), set())
        passed = False
        for need, tests, name, which in (e for key in hits for e in by_name[key]):
            if need <= words:
                if reach is None:
                    reach = _Reach(text)
                if all(reach.test(how, word) for how, word in tests):
                    passed = True
                    if which >= 0:
                        names[which].add(name)
        if not passed or reach is None:
            return None
        lines = frozenset(reach.dot_lines(names[0]))
        return frozenset(names[0]), frozenset(names[1]), frozenset(names[2]), lines
