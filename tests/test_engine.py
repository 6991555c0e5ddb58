"""The engine on odd files: encodings, deep trees, unreadable files, parallel runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mse_lint.core.catalog import load_catalog
from mse_lint.core.diagnostics import Span
from mse_lint.core.settings import Settings
from mse_lint.pipeline.engine import Engine, FileJob, FileResult

CATALOG = load_catalog()


def check(tmp_path: Path, data: bytes | str, settings: Settings | None = None) -> FileResult:
    path = tmp_path / "m.py"
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return Engine(CATALOG, settings or Settings()).check_file(FileJob(str(path), "m.py"))


def found(result: FileResult) -> list[tuple[str, int, int]]:
    return [(d.rule, d.span.line, d.span.col) for d in result.diagnostics]


def test_columns_count_characters_not_bytes(tmp_path: Path) -> None:
    result = check(tmp_path, "import os\ndef f():\n    é = 'ü'; os.system(é)\n")
    (d,) = result.diagnostics
    assert d.span == Span(3, 14, 3, 23)


def test_bom_crlf_and_cr_line_endings(tmp_path: Path) -> None:
    assert found(check(tmp_path, b"\xef\xbb\xbfimport os\r\nos.fork()\r\n")) == [("MSE102", 2, 1)]
    assert found(check(tmp_path, b"import os\ros.fork()\r")) == [("MSE102", 2, 1)]


def test_declared_latin1_is_decoded(tmp_path: Path) -> None:
    data = "# -*- coding: latin-1 -*-\nimport os\nNAME = 'café'; os.fork()\n".encode("latin-1")
    assert found(check(tmp_path, data)) == [("MSE102", 3, 16)]


def test_invalid_utf8_is_mse002_with_position(tmp_path: Path) -> None:
    result = check(tmp_path, b"x = 1\ny = '\xff'\n")
    (d,) = result.diagnostics
    assert (d.rule, d.span.line, d.span.col) == ("MSE002", 2, 6)
    assert "byte 0xff is not valid utf-8" in d.message


def test_unknown_declared_encoding_is_mse002(tmp_path: Path) -> None:
    result = check(tmp_path, b"# coding: klingon\nx = 1\n")
    assert [d.rule for d in result.diagnostics] == ["MSE002"]
    assert "unknown encoding 'klingon'" in result.diagnostics[0].message


def test_nul_bytes_are_mse001(tmp_path: Path) -> None:
    result = check(tmp_path, b"x = 1\x00\n")
    assert [d.rule for d in result.diagnostics] == ["MSE001"]


def test_empty_file_is_clean(tmp_path: Path) -> None:
    result = check(tmp_path, b"")
    assert result.diagnostics == [] and result.checked


def test_syntax_error_position(tmp_path: Path) -> None:
    result = check(tmp_path, "import os\n\nx = (1,\ny = 2\n")
    (d,) = result.diagnostics
    assert d.rule == "MSE001" and d.span.line == 3
    assert "the enclave's import of it raises SyntaxError" in d.message


def test_deep_expressions_do_not_crash(tmp_path: Path) -> None:
    # pydoc_data/topics.py-like trees: long implicit concatenations and very long sums
    concat = "X = (\n" + "".join(f"    'part{i}'\n" for i in range(3000)) + ")\n"
    total = "Y = " + " + ".join("1" for _ in range(5000)) + "\n"
    call = "import os\nos.system('x' + " + " + ".join("'a'" for _ in range(2000)) + ")\n"
    result = check(tmp_path, concat + total + call)
    assert found(result) == [("MSE103", 3005, 1)]


def test_deeply_nested_calls_are_checked(tmp_path: Path) -> None:
    depth = 180
    src = "import subprocess\nx = " + "f(" * depth + "subprocess.run" + ")" * depth + "\n"
    assert [d.rule for d in check(tmp_path, src).diagnostics] == ["MSE101"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_file_is_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    path.chmod(0)
    result = Engine(CATALOG, Settings()).check_file(FileJob(str(path), "m.py"))
    assert not result.checked and "cannot read" in result.notices[0].message


def test_vanished_file_is_a_notice(tmp_path: Path) -> None:
    result = Engine(CATALOG, Settings()).check_file(FileJob(str(tmp_path / "gone.py"), "gone.py"))
    assert not result.checked
    assert result.notices[0].message.startswith("cannot read: No such file")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="this Python parses PEP 695 itself")
def test_newer_syntax_than_this_interpreter_is_a_notice_not_mse001(tmp_path: Path) -> None:
    result = check(tmp_path, "type Point = tuple[int, int]\n", Settings(target_python=(3, 12)))
    assert result.diagnostics == []
    assert "cannot parse" in result.notices[0].message


def test_parallel_and_serial_runs_agree(tmp_path: Path) -> None:
    jobs = []
    for i in range(60):
        p = tmp_path / f"m{i}.py"
        body = "import os\n" + ("os.fork()\n" if i % 3 == 0 else "x = 1\n")
        if i % 7 == 0:
            body += "def broken(:\n"
        p.write_text(body)
        jobs.append(FileJob(str(p), p.name))
    engine = Engine(CATALOG, Settings())
    serial = engine.check_files(jobs, workers=1)
    parallel = engine.check_files(jobs, workers=2)
    assert serial.diagnostics == parallel.diagnostics
    # 20 files fork, 9 do not parse; 3 of those 9 would fork too but a broken file has no AST
    assert len(serial.diagnostics) == 20 + 9 - 3
    assert serial.files_checked == parallel.files_checked == 60


def test_checking_a_file_leaves_no_reference_cycles() -> None:
    """Workers run with the cyclic collector nearly off (engine._GC_THRESHOLD): a check that
    left a cycle behind (a scope and its bindings, a closure calling itself) kept each file's
    tree alive until a full collection, which made a Django run a fifth slower and grew its
    memory to 200 MiB. Every fixture file, checked with every rule, must free itself by
    reference counting alone."""
    import ast
    import gc

    root = Path(__file__).parent.parent
    files = sorted((root / "tests" / "fixtures").rglob("*.py")) + sorted(
        (root / "examples").rglob("*.py")
    )
    assert len(files) > 50
    engine = Engine(CATALOG, Settings())
    engine.check_file(FileJob(str(files[0]), "warm-up.py"))  # families imported, caches made
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for path in files:
            engine.check_file(FileJob(str(path), path.name))
        gc.collect()
        # (ast.literal_eval's recursive helpers are small cycles of the standard library's own)
        left = sorted(
            {
                type(o).__module__ + "." + type(o).__qualname__
                for o in gc.garbage
                if isinstance(o, ast.AST) or type(o).__module__.startswith("mse_lint")
            }
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    assert left == [], left


def test_parser_warnings_about_the_users_code_are_not_printed(tmp_path: Path) -> None:
    """An invalid escape sequence makes the parser warn (DeprecationWarning, SyntaxWarning from
    3.12, printed to stderr by default): that is not mse-lint's output."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = check(tmp_path, 'import re\nPATTERN = re.compile("\\d+")\n')
    assert found(result) == []
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # no family reads these files: only MSE001 does, through the symbol table
        ("x = 1\n", []),
        ("def f(a, a):\n    pass\n", []),  # the compiler's error, not the parser's: as before
        ("nonlocal x\n", []),
        ("x = (1,\n", [("MSE001", 1, 5)]),
        ("x = 1\ndef f(:\n    pass\n", [("MSE001", 2, 7)]),
    ],
)
def test_files_no_family_reads_are_still_checked_for_syntax(
    tmp_path: Path, source: str, expected: list[tuple[str, int, int]]
) -> None:
    assert found(check(tmp_path, source)) == expected
    # the same verdict as for a file some family reads (here the environment family)
    wanted = f"import os\nHOME = os.environ.get('HOME')\n{source}"
    shifted = [(rule, line + 2, col) for rule, line, col in expected]
    assert found(check(tmp_path, wanted)) == shifted


def test_syntax_nodes_is_ast_walk_without_contexts_and_operators() -> None:
    """FileContext.nodes: the same nodes in the same order as ast.walk, less Load/Store/Del and
    operator nodes (parents before children is what the families rely on)."""
    import ast

    from mse_lint.analysis.astwalk import syntax_nodes

    leaves = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)
    root = Path(__file__).parent.parent
    files = sorted((root / "mse_lint").rglob("*.py")) + sorted(
        (root / "tests" / "fixtures").rglob("*.py")
    )
    checked = 0
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue  # fixtures of newer syntax
        expected = [n for n in ast.walk(tree) if not isinstance(n, leaves)]
        assert syntax_nodes(tree) == expected, path
        checked += 1
    assert checked > 100
    source = "global g\nd = {**a, 'k': 1}\ndef f(*, a, b=1): pass\nmatch x:\n case C(y=1): pass\n"
    tree = ast.parse(source)
    assert syntax_nodes(tree) == [n for n in ast.walk(tree) if not isinstance(n, leaves)]
