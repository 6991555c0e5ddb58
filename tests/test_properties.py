"""Property tests: generated valid programs never crash a check; byte-mutated programs never
crash the engine.

Example counts are modest by default (the "default" profile); set MSE_LINT_HYPOTHESIS=thorough
for many more (``MSE_LINT_HYPOTHESIS=thorough pytest tests/test_properties.py``)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mse_lint.checks import FileContext, ProjectInfo, build_checks
from mse_lint.core.catalog import Catalog, load_catalog
from mse_lint.core.settings import Settings
from mse_lint.pipeline.engine import Engine, FileJob

# generated code is full of `"a"(1)` and the like: CPython warns, and so what
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
    derandomize=True,  # the same examples in CI as on a laptop: a red run reproduces
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
settings.load_profile(os.environ.get("MSE_LINT_HYPOTHESIS", "default"))

CATALOG: Catalog = load_catalog()
EVERY_RULE = Settings(select=tuple(CATALOG.rules))
ROOT = Path(__file__).resolve().parent.parent


def _seeds() -> list[str]:
    """Real code to mutate: every rule's examples (the code the checks care most about) and
    the fixtures."""
    out = []
    for rule in CATALOG.sorted_rules():
        for text in (*rule.bad, *rule.good):
            out.append(text)
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*.py"))[:40]:
        out.append(path.read_text(encoding="utf-8", errors="replace"))
    return [s for s in out if s.strip()]


SEEDS = _seeds()
PROJECT = ProjectInfo(
    local_modules=frozenset({"app", "settings"}),
    secret_keys=frozenset({"API_KEY"}),
    secrets_file="secrets.json",
    cloud=True,
    code_dir="/nonexistent/src",
)


def _every_check_on(source: str, path: str = "app.py") -> None:
    """Every per-file check, prefilter or not, on a source that parses."""
    tree = ast.parse(source)
    ctx = FileContext(
        path, source, tree, CATALOG, (3, 10), PROJECT.local_modules, PROJECT, file=path
    )
    for check in build_checks(CATALOG, EVERY_RULE.enabled(CATALOG), EVERY_RULE):
        for d in check.run(ctx):
            assert d.rule in CATALOG.rules
            assert 1 <= d.span.line <= max(1, len(ctx.lines))
            assert d.span.col >= 1


@given(hypothesmith.from_grammar())
def test_generated_programs_never_crash_a_check(source: str) -> None:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return  # the grammar is a superset of what CPython accepts
    _every_check_on(source)


@given(hypothesmith.from_node())
def test_generated_syntax_trees_never_crash_a_check(source: str) -> None:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    _every_check_on(source)


# Names the catalogue is about, spliced into generated code so that checks get past their
# prefilters and walk resolution paths with odd shapes around real API names.
_API_WORDS = [
    "subprocess.run",
    "os.system",
    "os.fork",
    "multiprocessing.Pool",
    "getattr(os, 'system')",
    "__import__('subprocess')",
    "importlib.import_module('os')",
    "open('secrets.json')",
    "os.environ['SECRETS_PATH']",
    "password",
    "'postgres://u:Pq8#zX2!mK@h/db'",
    "'AKIAIOSFODNN7EXAMPLE'",
]


@st.composite
def _api_programs(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(SEEDS))
    lines = base.splitlines() or [""]
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(lines)))
        word = draw(st.sampled_from(_API_WORDS))
        shape = draw(
            st.sampled_from(
                [
                    "{w}",
                    "x = {w}",
                    "def f(*a, **k):\n    return {w}",
                    "class C:\n    y = {w}",
                    "with {w} as z:\n    pass",
                    "lambda: {w}",
                    "[{w} for _ in ()]",
                    "from os import *\n{w}",
                    "import os as subprocess\n{w}",
                    "if __name__ == '__main__':\n    {w}",
                ]
            )
        )
        lines[at:at] = shape.format(w=word).splitlines()
    return "\n".join(lines) + "\n"


@given(_api_programs())
def test_catalogue_code_recombined_never_crashes_a_check(source: str) -> None:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return
    _every_check_on(source)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)).encode("utf-8"))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=4),
                    st.sampled_from(
                        [b"(", b")", b"\x00", b"\xff", b"\r", b'"""', b"\\", b"\t", b"\xef\xbb\xbf"]
                    ),
                    st.sampled_from([b"# -*- coding: latin-1 -*-\n", b"# coding: nope\n"]),
                )
            )
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(CATALOG, EVERY_RULE, PROJECT.local_modules, PROJECT)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_mutated())
def test_mutated_programs_never_crash_the_engine(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("mut") / "app.py"
    path.write_bytes(data)
    result = engine.check_file(FileJob(str(path), "app.py"))
    assert result.checked or result.notices
    try:
        ast.parse(data)
        parses = b"\x00" not in data
    except (SyntaxError, ValueError):
        parses = False
    rules = {d.rule for d in result.diagnostics}
    if not parses and result.checked:
        # what this Python cannot import is always reported (unless a notice says why not):
        # a syntax error, or (valid in a newer Python: the compat fixtures mutate into such
        # files) syntax newer than the target
        assert rules & {"MSE001", "MSE002", "MSE506"}
    if parses:
        assert not rules & {"MSE001", "MSE002"}
