"""Annotated fixture files (semgrep style): the linter reports exactly what the comments say.

Every ``*.py`` under ``tests/fixtures`` is linted in-process. In a comment on a line:

    # expect: MSE101            the line yields exactly these rule IDs (repeat an ID for two
                                findings on one line: ``# expect: MSE101, MSE101``)
    # ok: MSE103                the line yields none of these (documents a near miss)

Both may share one comment (``# expect: MSE106  ok: MSE103``). A line without ``expect`` must
yield no finding at all, of any rule. Annotation comments are never suppression comments.

A comment line ``# mse-lint-test: key=value ...`` sets options for the whole file:
``target-python=3.8`` (default 3.10) and ``path=app/gunicorn.conf.py`` (the path the file is
linted as; default: its path relative to ``tests/fixtures``).
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic
from mse_lint.core.record import replace
from mse_lint.core.settings import ConfigError, Settings, parse_python
from mse_lint.pipeline import suppressions as suppress
from mse_lint.pipeline.engine import Engine, FileJob

FIXTURES = Path(__file__).parent / "fixtures"
FILES = sorted(FIXTURES.rglob("*.py"))

_IDS = r"MSE\d+(?:\s*,\s*MSE\d+)*"
_ANNOTATION = re.compile(rf"\b(expect|ok)\s*:\s*({_IDS})", re.IGNORECASE)
_HEADER = re.compile(r"^#\s*mse-lint-test\s*:(.*)$")
_ENGINES: dict[tuple[int, int], Engine] = {}


@dataclass
class Spec:
    display: str
    target_python: tuple[int, int] = (3, 10)
    expect: dict[int, Counter[str]] = field(default_factory=dict)
    ok: dict[int, set[str]] = field(default_factory=dict)


def _ids(text: str) -> list[str]:
    return [t.strip().upper() for t in text.split(",")]


def parse_spec(path: Path, source: str, catalog: Catalog) -> Spec:
    spec = Spec(display=path.relative_to(FIXTURES).as_posix())
    errors: list[str] = []
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        line = tok.start[0]
        header = _HEADER.match(tok.string)
        if header:
            for option in re.split(r"[\s,]+", header.group(1).strip()):
                key, _, value = option.partition("=")
                if key == "target-python":
                    try:
                        spec.target_python = parse_python(value, f"line {line}")
                    except ConfigError as exc:
                        errors.append(str(exc))
                elif key == "path":
                    spec.display = value
                else:
                    errors.append(f"line {line}: unknown mse-lint-test option {option!r}")
            continue
        for kind, ids in _ANNOTATION.findall(tok.string):
            for rule in _ids(ids):
                if rule not in catalog.rules:
                    errors.append(f"line {line}: {rule} is not a rule of the catalogue")
            if kind.lower() == "expect":
                spec.expect.setdefault(line, Counter()).update(_ids(ids))
            else:
                spec.ok.setdefault(line, set()).update(_ids(ids))
    for line, rules in spec.ok.items():
        both = rules & set(spec.expect.get(line, ()))
        if both:
            errors.append(f"line {line}: {sorted(both)} both expected and ok")
    sups, _ = suppress.parse(source, spec.display)
    for s in sups:
        if s.line in spec.expect or s.line in spec.ok:
            errors.append(f"line {s.line}: an annotation comment must not be a suppression")
    if errors:
        pytest.fail(f"{spec.display}: bad annotations:\n  " + "\n  ".join(errors), pytrace=False)
    return spec


def _engine(catalog: Catalog, target: tuple[int, int]) -> Engine:
    if target not in _ENGINES:
        _ENGINES[target] = Engine(catalog, replace(Settings(), target_python=target))
    return _ENGINES[target]


def _show(d: Diagnostic) -> str:
    return f"{d.rule}@{d.span.col}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_fixture(path: Path, catalog: Catalog) -> None:
    source = path.read_text(encoding="utf-8")
    spec = parse_spec(path, source, catalog)
    result = _engine(catalog, spec.target_python).check_file(FileJob(str(path), spec.display))
    if not result.checked and sys.version_info < spec.target_python:
        pytest.skip(f"Python {sys.version_info[0]}.{sys.version_info[1]} cannot parse it")
    assert result.checked, f"{spec.display} was not checked: {result.notices}"

    actual: dict[int, list[Diagnostic]] = {}
    for d in result.diagnostics:
        actual.setdefault(d.span.line, []).append(d)
    lines = source.splitlines()
    problems: list[str] = []
    mismatches = 0
    for line in sorted(set(actual) | set(spec.expect) | set(spec.ok)):
        found = sorted(actual.get(line, []), key=lambda d: (d.span.col, d.rule))
        got = Counter(d.rule for d in found)
        want = spec.expect.get(line, Counter())
        forbidden = spec.ok.get(line, set()) & set(got)
        if got == want and not forbidden:
            continue
        text = lines[line - 1].strip() if line <= len(lines) else ""
        head = f"line {line}: expected [{', '.join(sorted(want.elements()))}]"
        head += f", got [{', '.join(map(_show, found))}]"
        if forbidden:
            head += f" (marked ok: {', '.join(sorted(forbidden))})"
        mismatches += 1
        problems.append(f"{head}\n      {text}")
        problems.extend(f"      {_show(d)}: {d.message}" for d in found)
    if result.suppressed:
        mismatches += 1
        problems.append(f"suppressed findings: {[_show(d) for d in result.suppressed]}")
    if problems:
        pytest.fail(
            f"{spec.display}: {mismatches} line(s) differ\n  " + "\n  ".join(problems),
            pytrace=False,
        )
