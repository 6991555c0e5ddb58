"""MSE506's text prefilters: a file is only walked or indexed when its text may hold what the
check reports, so every odd spelling of a construct or of a stdlib addition must get through
them (and be reported), while the common look-alikes must not."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from mse_lint.checks import FileContext
from mse_lint.checks.compat.check import CompatCheck
from mse_lint.checks.compat.runtime_types import annotation_roots, runtime_roots
from mse_lint.checks.compat.syntax import SYNTAX_TEXT
from mse_lint.checks.compat.text import fstring_issue_possible, star_lines
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Span

ROOT = Path(__file__).resolve().parents[1]


def _findings(catalog: Catalog, text: str, target: tuple[int, int]) -> list[tuple[Span, str]]:
    check = CompatCheck(catalog)
    ctx = FileContext("m.py", text, ast.parse(text), catalog, target)
    try:
        return [(d.span, d.message.split(" needs ")[0]) for d in check.run(ctx)]
    finally:
        ctx.release()


# -- stars in subscripts -------------------------------------------------------------------------
STAR_SUBSCRIPTS = [
    # (text, line of the star, line of the finding: the subscript's or the annotation's)
    ("x[*a]\n", 1, 1),
    ("x[a, *b]\n", 1, 1),
    ("x[a[0], *b]\n", 1, 1),  # a subscript before the star
    ("x[\n    *b\n]\n", 2, 1),  # over lines
    ("x[\n    a,\n    *b,\n]\n", 3, 1),
    ('x["(", *b]\n', 1, 1),  # a bracket in a string on the way back
    ("x['it''s', *b]\n", 1, 1),  # adjacent strings
    ('x[f"{a[0]}", *b]\n', 1, 1),
    ("x[  # the (first one\n    *b]\n", 2, 1),  # a bracket in a comment
    ("x[a,  # don't stop here (\n    *b]\n", 2, 1),
    ("x[\\\n*b]\n", 2, 1),  # a line continuation
    ("x[f(1), *b]\n", 1, 1),
    ("x[lambda: 1, *b]\n", 1, 1),
    ("x[{'k': [1]}['k'], *b]\n", 1, 1),
    ("x[1:2, *b]\n", 1, 1),
    ("match[*b]\n", 1, 1),  # a soft keyword is a name
    ("x[(*a, b)]\n", 1, 1),  # the tree cannot tell these parentheses apart
    ("x[((a, *b))]\n", 1, 1),
    ("def f(*args: *Ts): pass\n", 1, 1),
    ("def f(\n    * args  # varargs\n    :\n    *Ts,\n): pass\n", 4, 4),
    ("x = 1\r\ny = x[\r\n    *b]\r\n", 3, 2),  # CRLF
    ("x = 1\ry = x[\r    *b]\r", 3, 2),  # CR only
]


@pytest.mark.parametrize(("text", "line", "reported"), STAR_SUBSCRIPTS)
def test_star_lines_keep_every_spelling(text: str, line: int, reported: int) -> None:
    assert line in star_lines(text)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="needs a Python that parses PEP 646")
@pytest.mark.parametrize(("text", "line", "reported"), STAR_SUBSCRIPTS)
def test_star_subscripts_are_reported(
    catalog: Catalog, text: str, line: int, reported: int
) -> None:
    found = _findings(catalog, text, (3, 10))
    assert [(span.line, what) for span, what in found] == [
        (reported, "A star expression in a subscript or annotation (PEP 646)")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "f(*args)\n",
        "f(a, *args, **kwargs)\n",
        "f(a, 'x', *args)\n",
        "def f(a, *, b): pass\n",
        "def f(self, *args: int): pass\n",
        "x = [*a, *b]\n",
        "x = (*a, b)\n",
        "return [*a]\n",
        "y = {*a}\n",
        "z = a * b\n",
        "z = a ** b\n",
        "first, *rest = items\n",
        "if x:\n    first, *rest = items\n",
        "s = '''\nnotes:\n* one\n'''\n",
        "y = f(g(*a))\n",
        "y = f(a[0], b[1:2], *c)\n",
    ],
)
def test_star_lines_pass_over_other_stars(text: str) -> None:
    assert star_lines(text) == set()


def test_a_star_subscript_at_the_end_of_a_big_file_is_found(catalog: Catalog) -> None:
    text = "def f(a, *args, **kwargs):\n    return g(a, *args)\n\n" * 300 + "y = x[(*a, b)]\n"
    assert [(s.line, s.col) for s, _ in _findings(catalog, text, (3, 10))] == [(901, 5)]


# -- stdlib additions ----------------------------------------------------------------------------
ADDITIONS = [
    # (text, target, line of the finding, what it names)
    ("import datetime as dt\nx = dt.\\\n    UTC\n", (3, 10), 2, "`datetime.UTC`"),
    ("import datetime\nx = (datetime.  # 'the' zone\n    UTC)\n", (3, 10), 2, "`datetime.UTC`"),
    (
        "from datetime import (  # see ) below\n    date,\n    UTC,\n)\n",
        (3, 10),
        1,
        "`from datetime import UTC`",
    ),
    ("from \\\n    datetime import UTC\n", (3, 10), 1, "`from datetime import UTC`"),
    ("import os, \\\n    tomllib\n", (3, 10), 1, "`import tomllib`"),
    (
        "import datetime\nx = getattr(datetime, 'UTC')\n",
        (3, 10),
        2,
        "`getattr(datetime, 'UTC')` (`datetime.UTC`)",
    ),
    (
        "import importlib\nm = importlib.import_module('tomllib')\n",
        (3, 10),
        2,
        "`importlib.import_module('tomllib')` (`tomllib`)",
    ),
    (
        "from dataclasses import dataclass\n@dataclass(slots  # fast\n    = True)\nclass C: pass\n",
        (3, 9),
        2,
        "`slots=` of `dataclasses.dataclass`",
    ),
    ("from os import *\nx = path.splitroot('/a')\n", (3, 11), 2, "`os.path.splitroot`"),
    ("import datetime\r\nx = datetime.\\\r\n    UTC\r\n", (3, 10), 2, "`datetime.UTC`"),
    ("async def f(it):\n    return await anext(it)\n", (3, 9), 2, "`anext`"),
    (
        "from importlib.metadata import \\\n(version,\n packages_distributions)\n",
        (3, 9),
        1,
        "`from importlib.metadata import packages_distributions`",
    ),
    ("import typing\ndef f() -> typing.Self: ...\n", (3, 10), 2, "`typing.Self` in an annotation"),
    (
        "import typing\nclass C:\n    x = 1\n\n    @staticmethod\n    def f(\n"
        "        a: int,\n        c: typing.\\\n            Self = None,\n    ) -> None: ...\n",
        (3, 10),
        8,
        "`typing.Self` in an annotation",
    ),
    ("from typing import *\nx = 1\n", (3, 8), None, ""),
]


@pytest.mark.parametrize(("text", "target", "line", "what"), ADDITIONS)
def test_additions_in_odd_spellings_are_reported(
    catalog: Catalog, text: str, target: tuple[int, int], line: int, what: str
) -> None:
    found = _findings(catalog, text, target)
    if line is None:
        assert found == []
        return
    assert [(span.line, construct) for span, construct in found] == [(line, what)]


@pytest.mark.parametrize(
    "text",
    [
        # the words are there, but nowhere the index could reach an addition from
        "import copy\nimport warnings\n\nwarnings.warn('this is deprecated')\n",
        "import datetime\n\n# UTC is new in 3.11\nNOW = datetime.datetime.now\n",
        "import operator\n\nitems.sort(key=operator.itemgetter(1))\ncall = 1\n",
        "from dataclasses import dataclass\n\nslots = 1\nif slots == 1: pass\n",
    ],
)
def test_texts_that_cannot_reach_an_addition_skip_the_index(catalog: Catalog, text: str) -> None:
    assert CompatCheck(catalog).api_prefilter.may_use(text, (3, 10)) is None
    assert _findings(catalog, text, (3, 10)) == []


def test_annotations_are_those_of_runtime_roots() -> None:
    files = sorted((ROOT / "mse_lint").rglob("*.py")) + sorted((ROOT / "tests").rglob("*.py"))
    checked = 0
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        expected = [root for root, is_annotation in runtime_roots(tree, True) if is_annotation]
        assert list(annotation_roots(tree)) == expected, path
        checked += len(expected)
    assert checked > 500


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("try:\n    pass\nexcept* ValueError:\n    pass\n", 3),
        ("try:\n    pass\nexcept  *ValueError:\n    pass\n", 3),
        ("try:\n    pass\nexcept \\\n    * (ValueError, TypeError) as e:\n    pass\n", 3),
    ],
)
def test_except_star_is_found_by_the_star_scan(catalog: Catalog, text: str, line: int) -> None:
    assert star_lines(text)
    if sys.version_info >= (3, 11):
        found = _findings(catalog, text, (3, 10))
        assert [(span.line, what) for span, what in found] == [
            (line, "`except*` (exception groups)")
        ]


# -- PEP 695 / PEP 701 (parsed by Python 3.12 and later) ----------------------------------------
TYPE_ALIASES = [
    "type Alias = int\n",
    "type Alias[T] = list[T]\n",
    "type \\\n    Alias = int\n",
    "if True:\n    type  Alias=int\n",
]


@pytest.mark.parametrize("text", TYPE_ALIASES)
def test_the_type_statement_gate_keeps_every_spelling(text: str) -> None:
    assert re.search(SYNTAX_TEXT["type-alias"][0], text)


@pytest.mark.parametrize("text", ["x = type(a)\n", "type = 1\n", "if type is None: pass\n"])
def test_the_type_statement_gate_passes_over_the_builtin(text: str) -> None:
    assert not re.search(SYNTAX_TEXT["type-alias"][0], text)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="needs a Python that parses PEP 695")
@pytest.mark.parametrize("text", TYPE_ALIASES)
def test_type_statements_are_reported(catalog: Catalog, text: str) -> None:
    found = _findings(catalog, text, (3, 10))
    assert [what for _, what in found] == ["The `type` statement (PEP 695)"]


FSTRINGS = [
    ('x = f"{d["k"]}"\n', "reusing its own quotes"),
    ("x = f\"{'\\\\n'.join(a)}\"\n", "with a backslash"),
    ('x = f"""{a # note\n}"""\n', "with a comment"),
    ('x = f"{a\n+ 1}"\n', "whose replacement field spans lines"),
    ('x = f"{f\'{d["k"]}\'}"\n', "reusing its own quotes"),  # nested
    ("x = (\n    'a'  # c\n    Rf\"{d['k']}\" fR'{d['k']}'\n)\n", "reusing its own quotes"),
    ('x = 1\ry = f"{a\r+ 1}"\r', "whose replacement field spans lines"),  # CR line breaks
    ('x = f"{a!r:>{w}}" f"{{}}" F"{a["k"]!r}"\n', "reusing its own quotes"),
]


@pytest.mark.parametrize(("text", "issue"), FSTRINGS)
def test_the_fstring_gate_keeps_every_spelling(text: str, issue: str) -> None:
    assert fstring_issue_possible(text)


@pytest.mark.parametrize(
    "text",
    [
        'x = f"{a}" "plain \\" quote" f"{b:{c}}" f\'{d["k"]}\'\n',
        'x = rf"\\d{a}" + f"""{b!r}\n"""\n',
        "x = 'f\"'  # f'{\n",
    ],
)
def test_the_fstring_gate_passes_over_older_fstrings(text: str) -> None:
    assert not fstring_issue_possible(text)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="needs a Python that parses PEP 701")
@pytest.mark.parametrize(("text", "issue"), FSTRINGS)
def test_pep701_fstrings_are_reported(catalog: Catalog, text: str, issue: str) -> None:
    found = _findings(catalog, text, (3, 10))
    assert len(found) == 1 and issue in found[0][1]
