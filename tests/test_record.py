"""The plain value classes of mse_lint.core.record behave like the dataclasses they replaced."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import pickle
from pathlib import Path
from typing import Any

import pytest

from mse_lint.analysis.pathvalue import MORE_PARTS, PathValue, Places, Rules
from mse_lint.analysis.scope import ModuleIndex, Value
from mse_lint.checks import FileContext, ProjectContext, ProjectInfo
from mse_lint.checks.app_modules import LocalModule
from mse_lint.checks.app_routes import AppObject, Route, RouteGraph
from mse_lint.checks.compat.data import Addition, Feature
from mse_lint.checks.compat.guards import Guard
from mse_lint.checks.distributions import Environment
from mse_lint.checks.mse_toml_values import KeySpec
from mse_lint.checks.paths import Api, Unsupported, _Site
from mse_lint.checks.process import MISSING, ApiEntry, Clause
from mse_lint.checks.runtime import Entry
from mse_lint.checks.secret_files import _FilePattern
from mse_lint.checks.secret_formats import Format
from mse_lint.checks.secret_judges import Entropic, UrlCredential
from mse_lint.checks.secret_pass import _Bound
from mse_lint.checks.secret_settings import Charset
from mse_lint.checks.shipping import _Junk
from mse_lint.core.catalog import Catalog, Rule
from mse_lint.core.diagnostics import Diagnostic, Edit, Fix, Notice, Severity, Span
from mse_lint.core.record import Frozen, FrozenInstanceError, Mutable, Record, field, replace
from mse_lint.core.settings import SecretSettings, Settings
from mse_lint.pipeline.engine import FileJob, FileResult, RunResult
from mse_lint.pipeline.suppressions import Suppression
from mse_lint.project.files import Collected, Group
from mse_lint.project.model import Fate, Manifest, ManifestEntry, MseToml, Project
from mse_lint.project.target import Target
from mse_lint.project.tomlpos import KeyPos, TomlProblem
from mse_lint.report import Report, Where

TREE = ast.parse("app = Flask(__name__)\n")
CALL = TREE.body[0].value  # type: ignore[attr-defined]
MODULE = LocalModule("app", "app.py", "app.py", "x", TREE, ModuleIndex(TREE), {1: None}, {}, {})
OBJ = AppObject(MODULE, CALL, "app", "flask", "/api")
ARG = (0, "file", None, None)
API = Api("open", True, (ARG,), (ARG,), ARG, "r", {"pos": 1}, ARG, True, ("x",), True)
REF = ModuleIndex(TREE).refs[0]
RULE = Rule("MSE101", "n", Severity.ERROR, "process", "s", "m {x}", "f", "e", ("b",), ("g",))
PROJECT = Project(Path("."), None, None, "none")

# one instance of each class, every field set (two instances per class differ in a field)
SAMPLES: list[Record] = [
    Span(1, 2, 3, 4),
    Diagnostic("a.py", Span(1, 1, 1, 2), "MSE101", Severity.ERROR, "msg", "fix", 1, True),
    Notice("m", "a.py", 3),
    Edit("a.py", Span(1, 1, 1, 4), "new"),
    Fix("mend", (Edit("a.py", Span(1, 1, 1, 4), "new"),), True),
    RULE,
    Catalog({"MSE101": RULE}, {"process": {"k": [1]}}, "abc"),
    SecretSettings((("id", "x+"),), ("v",), ("r",)),
    Settings(("MSE1",), ("MSE2",), ("MSE3",), {"MSE1": Severity.INFO}, Severity.ERROR, (3, 9)),
    FileJob("/x/a.py", "a.py"),
    FileResult([], [], [Notice("n")], False),
    RunResult([], [], [], 1, 0, ["d"]),
    Group(PROJECT, [FileJob("a", "b")], True, False),
    Collected([], [Notice("n")], 2),
    ManifestEntry("a.py", Fate.CLEAR, 3, None, None, False),
    Manifest(Path("/c"), ("*.pyc",), (ManifestEntry("a.py", Fate.CLEAR),)),
    TomlProblem(1, 2, "bad"),
    KeyPos(Span(1, 1, 1, 4), Span(1, 7, 1, 9), "'x'"),
    MseToml(Path("mse.toml"), {"name": "x"}, "name = 'x'", None),
    PROJECT,
    Report([], [], [], 1, 0.5, Catalog({})),
    Where("/cwd", "/root", "https://docs/", "cat/", True),
    Target((3, 10), "default", False),
    Suppression(3, 1, ("MSE101",), True, False, {"MSE101"}),
    ProjectInfo(frozenset({"app"}), frozenset({"K"}), "s.json", True, "/c", frozenset({"a.py"})),
    FileContext("a.py", "x = 1\n", __import__("ast").parse("x = 1\n"), Catalog({})),
    ProjectContext(PROJECT, None, Catalog({}), str),
    Value("os.system", "getattr"),
    PathValue("/data", MORE_PARTS, True, "$HOME", None, False, "tempfile"),
    Places({"HOME": "/root"}, {"HOME": ("/root", "HOME")}, "/app"),
    Rules({"a": "b"}, {"m": "n"}, {"c": "/d"}, {"p": "os.path"}, {}, frozenset({"os.environ"}), {}),
    MODULE,
    OBJ,
    Route("/x", frozenset({"GET"}), MODULE, "flask", CALL, "login_required"),
    RouteGraph({("a", 1, 0): []}, {("a", 1, 0): [(OBJ, "/p", "r")]}, {("a", 1, 0)}),
    API,
    Unsupported("os.mkfifo", "no pipes"),
    _Site("write", API, REF, CALL, (PathValue("/x"),), CALL),
    Clause("kw", "shell", 1, True, "x"),
    ApiEntry(
        "os.system",
        "MSE101",
        "call",
        (Clause("x", default=None),),
        False,
        "n",
        "x",
        "t",
        "r",
        ("E",),
        ("f",),
        (3, 9),
    ),
    Entry("signal.signal", "MSE601", "call", "n", "sig", 0, "SIGINT", "e", "r"),
    Charset(
        "hex",
        "0-9a-f",
        __import__("re").compile("[0-9a-f]+"),
        frozenset("0123456789abcdef"),
        20,
        64,
        3.0,
        0.7,
        ("digit",),
    ),
    Entropic(3, 30, 4.5, "base64"),
    UrlCredential("admin", 10, 16),
    Feature("match", (3, 10), "a match statement", Span(1, 1, 1, 6), "an error", 1),
    Addition("datetime.UTC", (3, 11), "attr", "tz"),
    Guard(1, 9, (3, 11), frozenset({"datetime.UTC"})),
    _Bound(CALL, "password", "self.password", ("login",), True),
    KeySpec("1.x", "cloud", "hardware", "str", True, 1, 9, True, True, "docker", "never read"),
    _FilePattern("*.pem", "a key", ("*.pub.pem",), "public", "PRIVATE KEY", "holds a key"),
    Environment("mse-flask:1", True, "`mse-flask`", frozenset({"flask"}), frozenset({"jinja2"})),
    _Junk("venv", "dir", "a virtualenv", "pyvenv.cfg", "setup.py", "venv/"),
    Format("aws", "AWS key", "AKIA[0-9A-Z]{16}", 0, ("AKIA",), None, frozenset({"AKIAEXAMPLE"})),
]

# values holding an ast node or a ModuleIndex: no value equality after a pickle round trip (those
# classes never go to a worker process)
NOT_SENT = (FileContext, LocalModule, AppObject, Route, RouteGraph, _Site, _Bound)


def reference(obj: Record) -> Any:
    """The dataclass the class used to be: same name, fields, defaults and options."""
    cls = type(obj)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    specs = []
    for p in params:
        hidden = p.name in cls._hidden
        if p.default is inspect.Parameter.empty:
            specs.append((p.name, Any, dataclasses.field(repr=not hidden)))
        else:
            specs.append((p.name, Any, dataclasses.field(default=p.default, repr=not hidden)))
    return dataclasses.make_dataclass(
        cls.__name__,
        specs,
        frozen=issubclass(cls, Frozen),
        order=cls is Span,
    )


def as_reference(obj: Record) -> Any:
    return reference(obj)(**{name: getattr(obj, name) for name in obj._fields})


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_behaves_like_its_dataclass(obj: Record) -> None:
    cls = type(obj)
    ref_cls = reference(obj)
    ref = as_reference(obj)
    # the fields are the __init__ parameters, in order (what replace and the cache key use)
    assert obj._fields == tuple(f.name for f in dataclasses.fields(ref_cls))
    assert repr(obj) == repr(ref)
    assert obj == replace(obj)
    assert obj != ref  # another class: never equal, as between two dataclasses
    if issubclass(cls, Frozen):
        assert isinstance(obj, Frozen) and not isinstance(obj, Mutable)
        with pytest.raises(FrozenInstanceError):
            obj.x = 1  # type: ignore[attr-defined]
        with pytest.raises(AttributeError):
            setattr(obj, obj._fields[0], None)
        with pytest.raises(AttributeError):
            delattr(obj, obj._fields[0])
        try:
            expected = hash(ref)
        except TypeError:  # a list field: unhashable, as the dataclass was
            with pytest.raises(TypeError):
                hash(obj)
        else:
            assert hash(obj) == expected
    else:
        with pytest.raises(TypeError):
            hash(obj)
        setattr(obj, obj._fields[-1], getattr(obj, obj._fields[-1]))
    # every field takes part in equality
    for name in obj._fields:
        other = replace(obj, **{name: object()})
        assert other != obj
        assert getattr(other, name) is not getattr(obj, name)
    # pickled for worker processes
    if not isinstance(obj, NOT_SENT):
        copy = pickle.loads(pickle.dumps(obj))
        assert copy == obj and type(copy) is cls


def test_span_orders_like_a_tuple() -> None:
    spans = [Span(2, 1, 2, 3), Span(1, 5, 1, 6), Span(1, 5, 2, 1), Span(1, 1, 9, 9)]
    assert sorted(spans) == [Span(1, 1, 9, 9), Span(1, 5, 1, 6), Span(1, 5, 2, 1), Span(2, 1, 2, 3)]
    assert Span(1, 1, 1, 2) <= Span(1, 1, 1, 2) and Span(1, 1, 1, 3) >= Span(1, 1, 1, 2)
    with pytest.raises(TypeError):
        assert Span(1, 1, 1, 1) < (1, 1, 1, 2)  # type: ignore[operator]


def test_default_factories_give_fresh_objects() -> None:
    assert Settings().severity == {} and Settings().severity is not Settings().severity
    assert Settings().secrets == SecretSettings()
    assert FileResult().diagnostics is not FileResult().diagnostics
    assert Suppression(1, 1, (), False).used == set()
    assert ProjectInfo().unshipped == {} and Catalog({}).families == {}
    module = LocalModule("m", "m.py", "m.py", "", TREE, ModuleIndex(TREE))
    assert (module.refs, module.defs, module.decorated) == ({}, {}, {})
    assert replace(module).refs is module.refs  # as dataclasses.replace: fields not copied
    assert LocalModule("m", "m.py", "m.py", "", TREE, ModuleIndex(TREE)).refs is not module.refs
    assert (
        RouteGraph() == RouteGraph({}, {}, set()) and RouteGraph().routes is not RouteGraph().routes
    )
    assert Clause("x").default is MISSING and PathValue("a") == PathValue("a", "", False, "")
    assert repr(Settings()) == (
        "Settings(select=('MSE',), extend_select=(), ignore=(), severity={}, "
        "fail_on=<Severity.INFO: 1>, target_python=None, exclude=(), jobs=0, cache=True, "
        "secrets=SecretSettings(extra_patterns=(), allowlist=(), allowlist_regex=()), "
        "source=None, max_files=100000, max_depth=100)"
    )


def test_replace_keeps_working_on_dataclasses() -> None:
    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int
        y: int = 0

    assert replace(Point(1, 2), y=5) == Point(1, 5)
    with pytest.raises(TypeError):
        replace(Span(1, 1, 1, 2), nope=1)
    # a field may be called `obj`, like replace's own argument
    assert replace(PathValue("/a"), obj=True) == PathValue("/a", obj=True)


class _Point(Frozen):
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)


class _Box(Mutable):
    items: dict[str, int] = field(default_factory=dict)
    label: str = ""


def test_the_generated_init_takes_fields_in_order_with_their_defaults() -> None:
    Point = _Point

    @dataclasses.dataclass(frozen=True)
    class Twin:
        x: int
        y: int = 0
        tags: list[str] = dataclasses.field(default_factory=list)

    for args, kwargs in [((1,), {}), ((1, 2), {}), ((), {"x": 3, "tags": ["a"]})]:
        ours, theirs = Point(*args, **kwargs), Twin(*args, **kwargs)
        assert (ours.x, ours.y, ours.tags) == (theirs.x, theirs.y, theirs.tags)
    assert Point(1) == Point(1) and Point(1) != Point(1, 2)
    assert Point(1).tags is not Point(1).tags  # a fresh list each time
    assert repr(Point(1, 2)) == "_Point(x=1, y=2, tags=[])"
    with pytest.raises(FrozenInstanceError):
        Point(1).x = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, 2, [], 4)  # type: ignore[call-arg]
    assert pickle.loads(pickle.dumps(Point(5))) == Point(5)


def test_a_mutable_record_assigns_and_is_not_hashable() -> None:
    Box = _Box
    box = Box(label="a")
    box.items["k"] = 1
    box.label = "b"
    assert box == Box({"k": 1}, "b")
    with pytest.raises(TypeError):
        hash(box)


def test_a_mutable_default_and_a_misordered_default_are_refused() -> None:
    with pytest.raises(TypeError, match="mutable default"):

        class Bad(Frozen):
            items: list[str] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="no default"):

        class Misordered(Frozen):  # type: ignore[misc]
            a: int = 0
            b: int
