"""What the scope index records while it is built: reference chains in evaluation order,
attribute stores, imports, and the bindings ``global``/``nonlocal`` redirect wherever they
stand in a function body."""

from __future__ import annotations

import ast
import sys
import textwrap

import pytest

from mse_lint.analysis.scope import ModuleIndex


def index(src: str) -> ModuleIndex:
    return ModuleIndex(ast.parse(textwrap.dedent(src)))


def refs(ix: ModuleIndex) -> list[tuple[str, tuple[str, ...], bool]]:
    """(root, attrs, is a callee) of each recorded chain, in order."""
    assert [r.order for r in ix.refs] == sorted(r.order for r in ix.refs)
    return [(ast.unparse(r.root), r.attrs, r.call is not None) for r in ix.refs]


def values(ix: ModuleIndex, name: str) -> list[str]:
    return [v.qname for v in ix.lookup(ix.module, name, None)]


def test_chains_in_evaluation_order() -> None:
    ix = index("x = a.b(c, k=d.e).f.g + {**m, key: v}[i:j] - (lambda q: q)(w)")
    assert refs(ix) == [
        # the longest chain first, then the call at its root, then the arguments
        ("a.b(c, k=d.e)", ("f", "g"), False),
        ("a", ("b",), True),
        ("c", (), False),
        ("d", ("e",), False),
        # a dict's keys come before its values (the ** entry has no key)
        ("key", (), False),
        ("m", (), False),
        ("v", (), False),
        ("i", (), False),
        ("j", (), False),
        ("w", (), False),
        ("q", (), False),  # the lambda's body runs last, in its own scope
    ]


def test_records_keep_their_fields() -> None:
    ix = index("import os\nos.system(cmd)\n")
    callee, arg = ix.refs
    assert callee.attrs == ("system",) and callee.call is not None and callee.path == ()
    assert arg.call is None and arg.path == () and arg.in_main is False
    assert isinstance(callee.stmt, ast.Expr) and callee.stmt is arg.stmt
    assert [site.modules for site in ix.imports] == [("os",)]
    assert [v.qname for v, _ in ix.chain_values(callee)] == ["os.system", "os"]


def test_type_tests_and_annotations_are_not_recorded() -> None:
    ix = index(
        """
        def f(a: T1 = d) -> T2:
            v: T3 = isinstance(a, (T4, T5)) and issubclass(b, T6)
            return v
        """
    )
    assert refs(ix) == [
        ("d", (), False),
        ("isinstance", (), True),
        ("a", (), False),
        ("issubclass", (), True),
        ("b", (), False),
        ("v", (), False),
    ]


def test_attribute_stores_and_augmented_names() -> None:
    ix = index("obj.attr.x = value\nn += 1\ndel gone\n")
    (store,) = ix.stores
    assert ast.unparse(store.target) == "obj.attr.x" and ast.unparse(store.value) == "value"
    assert refs(ix) == [("value", (), False), ("obj", ("attr",), False), ("n", (), False)]
    assert values(ix, "gone") == []  # del binds the name (to nothing known)


@pytest.mark.parametrize(
    "where",
    [
        ["if c:", "    pass", "else:", "    global run"],
        ["for _ in c:", "    pass", "else:", "    global run"],
        ["while c:", "    global run"],
        ["with c:", "    global run"],
        ["try:", "    pass", "except E:", "    global run"],
        ["try:", "    pass", "finally:", "    global run"],
    ],
)
def test_a_late_global_statement_applies_to_the_whole_body(where: list[str]) -> None:
    head = ["from os import system as run", "def f():", "    from subprocess import run"]
    src = "\n".join(head + ["    " + line for line in where]) + "\n"
    # the function's import rebinds the module's name: without the global statement it would not
    assert values(index(src), "run") == ["subprocess.run"]
    assert values(index(src.replace("global run", "pass")), "run") == ["os.system"]


@pytest.mark.skipif(sys.version_info < (3, 10), reason="match needs Python 3.10")
def test_a_global_statement_in_a_match_case_applies_too() -> None:
    ix = index(
        """
        from os import system as run
        def f(x):
            from subprocess import run
            match x:
                case 1:
                    global run
        """
    )
    assert values(ix, "run") == ["subprocess.run"]


def test_a_global_statement_in_a_nested_function_stays_there() -> None:
    ix = index(
        """
        from os import system as run
        def f():
            from subprocess import run
            def g():
                global run
        """
    )
    assert values(ix, "run") == ["os.system"]


def test_nonlocal_and_walrus_bind_in_the_enclosing_function() -> None:
    ix = index(
        """
        def outer():
            run = None
            def inner():
                if c:
                    pass
                else:
                    nonlocal run
                from os import system as run
            any((found := y) for y in z)
            return run, found
        """
    )
    func = next(s for s in ix._scopes if s.kind == "function")
    assert [v.qname for v in ix.lookup(func, "run", None)] == ["os.system"]
    assert "found" in func.bindings and "y" not in func.bindings
