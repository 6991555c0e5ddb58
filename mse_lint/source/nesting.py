"""How deeply TOML and JSON text nests, measured without a recursive parser.

Every TOML and JSON parser mse-lint uses (tomllib / tomli, mse-cli's ``toml`` 0.10.2, ``json``)
recurses once or more per level of arrays and tables. On hostile input that ends in a
RecursionError wherever the parser happens to be called, in toml 0.10.2 after seconds of
quadratic work, and in a mypyc-compiled tomli without its own bound in a crash of the whole
process. A dotted key of many parts (``a.a.a...``) builds as deep a table, and tomllib's checks
of it take quadratic time. So TOML is measured first, with one flat scan, and refused past
:data:`TOML_MAX_DEPTH` with the position where the limit is crossed; JSON, parsed by the C
scanner with its own recursion guard, is measured only when that guard fires, to say where.
"""

from __future__ import annotations

import re
from itertools import repeat
from typing import Any, Optional

from mse_lint.source.lines import position

# Levels of arrays, inline tables, table headers and dotted-key parts, added up along the
# deepest path: a real mse.toml or pyproject.toml needs a handful. 100 keeps every parser well
# inside the default recursion limit (tomllib takes 2 frames a level for arrays, 3 for inline
# tables) from any caller's stack depth, and below tomli's own bound of 400.
TOML_MAX_DEPTH = 100

# JSON is only measured to explain a RecursionError of the parser: the level reported then.
JSON_MAX_DEPTH = 100

_TOML_STRINGS = (
    r'"""(?:[^"\\]|\\.|"(?!""))*""""{0,2}'  # multi-line basic string
    r"|'''(?:[^']|'(?!''))*''''{0,2}"  # multi-line literal string
    r'|"(?:[^"\\\n]|\\.)*"'  # basic string
    r"|'[^'\n]*'"  # literal string
    r"|#[^\n]*"  # comment
)
_TOML_TOKEN = _TOML_STRINGS + r"|[\[\]{}.=,\n]"
_TOML_PAIR = r"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}"  # an innermost pair of brackets
_JSON_TOKEN = r'"(?:[^"\\]|\\.)*"|[\[\]{}]'
_COMPILED: dict[str, re.Pattern[str]] = {}


def _pattern(source: str) -> re.Pattern[str]:
    """Compiled on first use: most runs never scan (reading pyproject.toml stops at the count)."""
    found = _COMPILED.get(source)
    if found is None:
        found = _COMPILED[source] = re.compile(source, re.S)
    return found


def toml_too_deep(text: str, limit: int = TOML_MAX_DEPTH) -> Optional[tuple[int, int]]:
    """Where ``text`` first nests deeper than ``limit`` levels, or None. Not a validator: on
    broken TOML it measures what it can, and the parser reports the error."""
    if text.count("[") + text.count("{") + text.count(".") <= limit:
        return None  # cannot nest that deep: a small file costs three counts
    if _toml_bound(text, limit) <= limit:
        return None  # nor can this one: a few passes of regular expressions, in C
    return _toml_scan(text, limit)


def _toml_bound(text: str, limit: int) -> int:
    """An upper bound of the depth :func:`_toml_scan` measures, without a loop in Python:
    strings and comments blanked, bracket pairs removed innermost first (one pass a level),
    and the longest dotted key counted at every level."""
    flat = _pattern(_TOML_STRINGS).sub("s", text)
    # a key is on one line: its parts are at most the dots of that line
    parts = max(map(str.count, flat.split("\n"), repeat("."))) + 1
    levels = 0
    while levels <= limit:
        flat, n = _pattern(_TOML_PAIR).subn("s", flat)
        if not n:
            break
        levels += 1
    levels += flat.count("[") + flat.count("{")  # left open: each may nest one more
    return levels + parts * (levels + 1)


def _toml_scan(text: str, limit: int) -> Optional[tuple[int, int]]:
    # The state of the scan: `base` is the depth of the container the cursor is in; `key`
    # counts the parts of the key being read (None while reading a value); the stack holds,
    # for each open array or inline table, its kind and the base to restore when it closes.
    header_depth = 0
    base = 0
    key: Optional[int] = 0
    stack: list[tuple[str, int]] = []
    header: Optional[int] = None  # parts of a [table] header being read
    line_start = True
    for m in _pattern(_TOML_TOKEN).finditer(text):
        tok = m.group()
        if tok[0] in "\"'#":
            line_start = False
            continue
        at = m.start()
        if header is not None:
            if tok == ".":
                header += 1
                if header > limit:
                    return position(text, at)
            elif tok == "]":
                header_depth = header
                base = header_depth
                header = None
            elif tok == "[":
                header += 1  # [[array of tables]]
            elif tok == "\n":
                header = None  # broken header: the parser says so
            continue
        if tok == "\n":
            if not stack:
                base, key, line_start = header_depth, 0, True
            continue
        if tok == "[" and not stack and line_start and key == 0:
            header = 1
            line_start = False
            continue
        line_start = False
        if tok == ".":
            if key is not None:
                key += 1
                if base + key > limit:  # each part but the last is a table
                    return position(text, at)
        elif tok == "=":
            if key is not None:
                base += key
                key = None
        elif tok in "[{":
            stack.append((tok, base))
            base += 1
            if base > limit:
                return position(text, at)
            key = 0 if tok == "{" else None
        elif tok in "]}":
            if stack:
                base = stack.pop()[1]
            key = None
        elif tok == "," and stack and stack[-1][0] == "{":
            base = stack[-1][1] + 1
            key = 0
    return None


def json_depth_problem(text: str, limit: int = JSON_MAX_DEPTH) -> str:
    """Why a JSON parser ran out of recursion on ``text``: how deep it nests, and where."""
    depth = deepest = 0
    deepest_at = 0
    for m in _pattern(_JSON_TOKEN).finditer(text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth > limit:
                line, col = position(text, m.start())
                return f"nested more than {limit} levels deep at line {line}, column {col}"
            if depth > deepest:
                deepest, deepest_at = depth, m.start()
        elif tok in "]}":
            depth -= 1
    line, col = position(text, deepest_at)
    return f"nested {deepest} levels deep at line {line}, column {col}"


TOML_TOO_DEEP = (
    f"arrays, tables and dotted keys nested more than {TOML_MAX_DEPTH} levels deep; "
    "mse-lint reads no deeper"
)
# the detail of MSE401 ("mse.toml cannot be read by mse-cli: {detail}; ..."): toml 0.10.2 fails
# with a RecursionError a few hundred levels down (after seconds of work on deeper input)
MSE_TOML_TOO_DEEP = (
    f"arrays, tables and dotted keys nested more than {TOML_MAX_DEPTH} levels deep (mse-lint "
    "reads no deeper; mse-cli's parser fails with RecursionError a few hundred levels down)"
)


def loads_json(text: str) -> Any:
    """``json.loads``, with running out of recursion (a document nested thousands deep) turned
    into the ValueError every other broken document raises, saying how deep and where."""
    import json

    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(json_depth_problem(text)) from None


# Tokens that nest one expression in another (a chain of them builds a tree as deep as the
# chain is long): every operator but the separators and closing brackets, and these keywords.
_PY_SEPARATORS = frozenset({",", ";", "=", ")", "]", "}"})
_PY_NESTING_WORDS = frozenset({"if", "else", "lambda", "not", "await", "yield"})
_PY_OPERATOR_CHARS = "+-*/%@&|^~<>.([{=!"


def python_nesting(text: str) -> tuple[int, int, int]:
    """How deep the expressions of Python source nest, from its tokens alone (for a file the
    running interpreter cannot parse): the sum over statements of (depth)², what the time of
    libcst's parser grows with, and the (line, column) where the deepest statement reaches its
    depth. A flat list or call of many items is shallow; ``1 + 1 + ...``, ``a.b.c...``,
    ``f()()...``, nested brackets and ``x if c else ...`` chains are as deep as they are long.
    When the tokenizer itself fails, every operator character of the text counts as one
    statement's depth: a bound, not a measure."""
    import io
    import tokenize

    total = deepest = 0
    where = (1, 1)
    cur = best = 0  # depth of the current segment, deepest segment, at this bracket level
    # (the bracket, the parent's cur with the bracket counted, the parent's best)
    stack: list[tuple[str, int, int]] = []

    def note(depth: int, pos: tuple[int, int]) -> None:
        nonlocal deepest, where
        if depth > deepest:
            deepest, where = depth, (pos[0], pos[1] + 1)

    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind, s = tok.type, tok.string
            if kind == tokenize.OP:
                if s in "([{":
                    stack.append((s, cur + 1, best))
                    cur = best = 0
                    note(len(stack), tok.start)
                elif s in ")]}":
                    if stack:
                        inner = max(best, cur)
                        _, cur, best = stack.pop()
                        cur += inner
                        note(cur, tok.start)
                elif s in _PY_SEPARATORS or (s == ":" and stack and stack[-1][0] != "("):
                    # a ':' separates dict items and slices; elsewhere it belongs to a lambda,
                    # an annotation or a block, and nests nothing apart
                    best, cur = max(best, cur), 0
                else:
                    cur += 1
                    note(cur, tok.start)
            elif kind == tokenize.NAME and s in _PY_NESTING_WORDS:
                cur += 1
                note(cur, tok.start)
            elif kind in (tokenize.NEWLINE, tokenize.ENDMARKER) and not stack:
                depth = max(best, cur)
                total += depth * depth
                cur = best = 0
    except (tokenize.TokenError, SyntaxError):
        depth = sum(text.count(c) for c in _PY_OPERATOR_CHARS)
        return depth * depth, 1, 1
    return total + max(best, cur) ** 2, where[0], where[1]
