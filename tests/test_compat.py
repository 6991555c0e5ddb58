"""MSE506 on whole projects: the target Python inferred from the docker image (mse.toml or the
Dockerfile), overrides, what the user is told, and files only a newer Python can parse.
Constructs and APIs have annotated fixtures in tests/fixtures/compat/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest
from helpers import mse_lint_command

from mse_lint.checks import ProjectContext
from mse_lint.checks.compat.data import CompatData
from mse_lint.checks.compat.text import fstring_issues
from mse_lint.checks.compat.unparsable import cst_features
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Span
from mse_lint.core.record import replace
from mse_lint.core.settings import Settings, load_settings
from mse_lint.pipeline.engine import Engine, FileJob
from mse_lint.pipeline.runner import lint
from mse_lint.project.model import discover
from mse_lint.project.target import (
    dockerfile_image,
    effective_target,
    python_for_image,
    split_image,
)

OLD = "ghcr.io/cosmian/mse-flask:20230228091325"
NEW = "ghcr.io/cosmian/mse-flask:20230810125234"
MATCH_APP = (
    "def status(code):\n"
    "    match code:\n"
    "        case 200:\n"
    '            return "ok"\n'
    "    return None\n"
)


# Only the rule under test: the tiny projects below are not complete MSE apps (other families
# would rightly report their mse.toml and app)
COMPAT = Settings(select=("MSE506",))


def make(
    tmp_path: Path,
    app: str,
    docker: Optional[str] = NEW,
    dockerfile: Optional[str] = None,
    extra: str = "",
) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mse_src").mkdir()
    toml = 'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n' + extra
    toml += '[cloud]\ncode = "mse_src"\n'
    if docker is not None:
        toml += f'docker = "{docker}"\nproject = "default"\nhardware = "4g-eu-001"\n'
    (root / "mse.toml").write_text(toml)
    (root / "mse_src" / "app.py").write_text(app)
    if dockerfile is not None:
        (root / "Dockerfile").write_text(dockerfile)
    return root


def mse506(catalog: Catalog, root: Path, settings: Optional[Settings] = None) -> list[Any]:
    outcome = lint([root], catalog, settings or COMPAT, cwd=root)
    return [(d.path, d.span.line, d.span.col, d.message) for d in outcome.diagnostics]


def _target_notices(outcome: Any) -> list[str]:
    """Notices about the target (a Python older than the code adds its own about parsing)."""
    return [n.render() for n in outcome.notices if "target Python" in n.message]


# -- the target --------------------------------------------------------------------------------
def test_image_names_and_tags() -> None:
    assert split_image(NEW) == ("ghcr.io/cosmian/mse-flask", "20230810125234")
    assert split_image("localhost:5000/mse-base") == ("localhost:5000/mse-base", None)
    assert split_image("mse-base:20230601000000@sha256:ab") == ("mse-base", "20230601000000")


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("ghcr.io/cosmian/mse-flask:20230228091325", (3, 8)),
        ("ghcr.io/cosmian/mse-base:20230710124434", (3, 8)),  # the last 3.8 tag, inclusive
        ("ghcr.io/cosmian/mse-base:20230720095554", (3, 10)),  # the first 3.10 tag
        ("ghcr.io/cosmian/mse-ds:20231005000000", (3, 10)),
        ("ghcr.io/cosmian/mse-base:20230715000000", None),  # between the two: unknown
        ("ghcr.io/cosmian/mse-flask:latest", None),
        ("ghcr.io/acme/webapp:20220101000000", None),  # not a Cosmian mse-* image
    ],
)
def test_python_for_image(catalog: Catalog, image: str, version: Optional[tuple[int, int]]) -> None:
    found = python_for_image(image, catalog.data("compat")["target"])
    assert (found[0] if found else None) == version


def test_dockerfile_final_stage(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.12 AS build\nRUN true\n"
        "from --platform=linux/amd64 ghcr.io/cosmian/mse-base:20230601000000 as app\n"
        "FROM app\nCOPY . /app\n"
    )
    assert dockerfile_image(tmp_path) == "ghcr.io/cosmian/mse-base:20230601000000"
    (tmp_path / "Dockerfile").write_text("ARG BASE\nFROM $BASE\n")
    assert dockerfile_image(tmp_path) is None
    assert dockerfile_image(tmp_path / "nowhere") is None


def test_target_given_beats_the_image(tmp_path: Path, catalog: Catalog) -> None:
    project = discover(make(tmp_path, "x = 1\n", docker=OLD))
    inferred = effective_target(Settings(), project, OLD, catalog)
    assert (inferred.version, inferred.inferred) == ((3, 8), True)
    assert "mse-flask images tagged up to 20230710124434 run Python 3.8" in inferred.reason
    given = effective_target(Settings(target_python=(3, 12)), project, OLD, catalog)
    assert (given.version, given.inferred) == ((3, 12), False)
    none = effective_target(Settings(), project, None, catalog)
    assert (none.version, none.reason) == ((3, 10), "no docker image named: assuming 3.10")


# -- done-when of the issue ----------------------------------------------------------------------
def test_match_with_a_3_8_image_is_mse506(tmp_path: Path, catalog: Catalog) -> None:
    root = make(tmp_path, MATCH_APP, docker=OLD)
    outcome = lint([root], catalog, COMPAT, cwd=root)
    assert [(d.rule, d.path, d.span) for d in outcome.diagnostics] == [
        ("MSE506", "mse_src/app.py", Span(2, 5, 2, 15))
    ]
    assert outcome.diagnostics[0].message == (
        "The `match` statement needs Python 3.10, but the enclave runs Python 3.8: a "
        "SyntaxError when the module is imported, so the app never starts"
    )
    assert [n.render() for n in outcome.notices if n.path == "."] == [
        f".: target Python 3.8, inferred from the docker image in mse.toml, {OLD} (mse-flask "
        "images tagged up to 20230710124434 run Python 3.8); --target-python overrides"
    ]
    assert outcome.debug == [
        f".: target Python 3.8: inferred from the docker image in mse.toml, {OLD} (mse-flask "
        "images tagged up to 20230710124434 run Python 3.8)"
    ]


def test_match_with_a_2023_08_image_is_fine(tmp_path: Path, catalog: Catalog) -> None:
    root = make(tmp_path, MATCH_APP, docker=NEW)
    outcome = lint([root], catalog, COMPAT, cwd=root)
    assert outcome.diagnostics == []
    assert _target_notices(outcome) == []  # the usual 3.10 is not worth a line
    assert outcome.debug == [
        f".: target Python 3.10: inferred from the docker image in mse.toml, {NEW} (mse-flask "
        "images tagged 20230720095554 and later run Python 3.10)"
    ]


def test_tomllib_is_mse506_for_3_10(tmp_path: Path, catalog: Catalog) -> None:
    root = make(tmp_path, "import tomllib\n\nCONFIG = tomllib.loads('a = 1')\n")
    assert mse506(catalog, root) == [
        (
            "mse_src/app.py",
            1,
            1,
            "`import tomllib` needs Python 3.11, but the enclave runs Python 3.10: an "
            "ImportError when this runs",
        )
    ]
    assert mse506(catalog, root, replace(COMPAT, target_python=(3, 11))) == []


def test_legacy_0x_docker_key(tmp_path: Path, catalog: Catalog) -> None:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(MATCH_APP)
    (root / "mse.toml").write_text(
        'name = "t"\nproject = "p"\nresource = "4g-eu-001"\n[code]\nlocation = "src"\n'
        f'python_application = "app:app"\nhealthcheck_endpoint = "/"\ndocker = "{OLD}"\n'
    )
    assert [r[:3] for r in mse506(catalog, root) if "match" in r[3]] == [("src/app.py", 2, 5)]


def test_mse_home_reads_the_dockerfile(tmp_path: Path, catalog: Catalog) -> None:
    old_home = "FROM ghcr.io/cosmian/mse-base:20230601000000\nRUN pip install flask\n"
    root = make(tmp_path, MATCH_APP, docker="", dockerfile=old_home)
    outcome = lint([root], catalog, COMPAT, cwd=root)
    assert [(d.rule, d.span.line) for d in outcome.diagnostics] == [("MSE506", 2)]
    assert "the FROM line of the project Dockerfile" in outcome.notices[0].message
    new_home = "FROM ghcr.io/cosmian/mse-base:20230720095554\n"
    root2 = make(tmp_path / "b", MATCH_APP, docker="", dockerfile=new_home)
    assert lint([root2], catalog, COMPAT, cwd=root2).diagnostics == []


def test_config_target_python_overrides_the_image(tmp_path: Path, catalog: Catalog) -> None:
    root = make(tmp_path, MATCH_APP, docker=OLD)
    (root / "mse-lint.toml").write_text('target-python = "3.10"\n')
    settings = replace(load_settings(root), select=("MSE506",))
    outcome = lint([root], catalog, settings, cwd=root)
    assert outcome.diagnostics == [] and _target_notices(outcome) == []
    assert outcome.debug == [
        ".: target Python 3.10: given by --target-python or the target-python setting"
    ]


def test_project_checks_get_the_inferred_target(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int]] = []

    class Recorder:
        codes = frozenset({"MSE506"})

        def run(self, ctx: ProjectContext) -> list[Any]:
            seen.append(ctx.target_python)
            return []

    monkeypatch.setattr("mse_lint.pipeline.engine.build_project_checks", lambda *a: [Recorder()])
    lint([make(tmp_path, "x = 1\n", docker=OLD)], catalog, Settings(), cwd=tmp_path)
    assert seen == [(3, 8)]


def test_cli_prints_the_target_with_debug(tmp_path: Path) -> None:
    root = make(tmp_path, MATCH_APP, docker=OLD)
    run = subprocess.run(
        [*mse_lint_command(), "--no-color", "--debug", "--select", "MSE506", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "MSE506" in run.stdout
    want = (
        f"mse-lint: debug: .: target Python 3.8: inferred from the docker image in mse.toml, {OLD}"
    )
    assert want in run.stderr
    quiet = subprocess.run(
        [*mse_lint_command(), "--no-color", "--target-python", "3.10", "--select", "MSE506", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quiet.returncode == 0
    if sys.version_info >= (3, 10):
        assert quiet.stderr == ""
    else:  # this Python cannot parse `match`; the 3.10 target can: the file is not checked
        assert "uses syntax of Python 3.10 that this Python (3.9) cannot parse" in quiet.stderr


# -- files the running interpreter cannot parse --------------------------------------------------
def _check(tmp_path: Path, catalog: Catalog, text: str, target: tuple[int, int]) -> Any:
    path = tmp_path / "m.py"
    path.write_text(text)
    return Engine(catalog, Settings(target_python=target)).check_file(FileJob(str(path), "m.py"))


def test_a_genuine_error_before_newer_syntax_stays_mse001(tmp_path: Path, catalog: Catalog) -> None:
    text = "def broken(:\n    pass\n\ntype Alias = int\n"
    result = _check(tmp_path, catalog, text, (3, 10))
    assert [(d.rule, d.span.line) for d in result.diagnostics] == [("MSE001", 1)]


def test_garbage_is_mse001(tmp_path: Path, catalog: Catalog) -> None:
    result = _check(tmp_path, catalog, "x = = 1\n", (3, 8))
    assert [d.rule for d in result.diagnostics] == ["MSE001"]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="this Python parses PEP 695 itself")
def test_unparsable_newer_syntax_is_mse506_with_a_notice(tmp_path: Path, catalog: Catalog) -> None:
    text = "import subprocess\n\ntype Alias = int\nsubprocess.run(['ls'])\n"
    result = _check(tmp_path, catalog, text, (3, 10))
    assert [(d.rule, d.span) for d in result.diagnostics] == [("MSE506", Span(3, 1, 3, 17))]
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert [n.message for n in result.notices] == [
        f"this Python ({here}) cannot parse the file, so only MSE506 checked it; fix those "
        "findings (or run mse-lint on a newer Python) for the other rules"
    ]
    # the target parses it: not a finding, but the user learns the file was not checked
    result = _check(tmp_path, catalog, text, (3, 12))
    assert result.diagnostics == [] and not result.checked
    assert "uses syntax of Python 3.12 that this Python" in result.notices[0].message


@pytest.mark.skipif(sys.version_info < (3, 12), reason="needs a Python that parses PEP 695")
def test_newer_interpreter_reports_at_the_construct(tmp_path: Path, catalog: Catalog) -> None:
    text = "import subprocess\n\ntype Alias = int\nsubprocess.run(['ls'])\n"
    result = _check(tmp_path, catalog, text, (3, 10))
    found = sorted((d.span.line, d.rule) for d in result.diagnostics)
    assert found == [(3, "MSE506"), (4, "MSE101")]


# -- the pieces, independent of the running interpreter -----------------------------------------
@pytest.mark.parametrize(
    ("source", "issues"),
    [
        ('f"{a}"', []),
        ("f\"{d['k']}\"", []),
        ('f"""{d["k"]}"""', []),
        ('f"{x!r:>{width}}"', []),
        ('f"{a!=b}"', []),
        ("f\"{ {'a': 1}['a'] }\"", []),
        ("f\"{'#'}\"", []),
        ('f"{d["k"]}"', ["quotes"]),
        ('f"{"\\n".join(x)}"', ["quotes", "backslash"]),
        ("f'{\"\\n\".join(x)}'", ["backslash"]),
        ('f"{a # note\n}"', ["comment", "newline"]),
        ('f"{a +\n b}"', ["newline"]),
        ('f"""{a +\n b}"""', []),
        ('"plain" f"{x}" rb"raw"', []),
        ('f"{f"{x}"}"', ["quotes"]),
        ('t"{d["k"]}"', ["quotes"]),
        ('f"\\{x}"', []),
        ('f"{{literal}} {x:{"w"}}"', ["quotes"]),
    ],
)
def test_fstring_issues(source: str, issues: list[str]) -> None:
    assert fstring_issues(source) == issues


def test_libcst_finds_every_construct(catalog: Catalog) -> None:
    text = (
        "match x:\n    case 1:\n        pass\n"  # 1
        "try:\n    pass\nexcept* E:\n    pass\n"  # 6
        "type A = int\n"  # 8
        "def f[T = int](): pass\n"  # 9
        "class C[T]: pass\n"  # 10
        "with (a as b, c):\n    pass\n"  # 11
        "@x[0]\ndef g(): pass\n"  # 13
        "y = z[*ts]\n"  # 15
        'v = t"{w}"\n'  # 16
        'u = f"{d["k"]}"\n'  # 17
        "try:\n    pass\nexcept A, B:\n    pass\n"  # 20
    )
    found = cst_features(text, CompatData(catalog))
    assert found is not None
    assert [(f.key, f.span.line) for f in found] == [
        ("match", 1),
        ("except-star", 6),
        ("type-alias", 8),
        ("type-params", 9),
        ("type-param-default", 9),
        ("type-params", 10),
        ("paren-with", 11),
        ("decorator", 13),
        ("star-subscript", 15),
        ("tstring", 16),
        ("fstring-quotes", 17),
        ("except-bare-tuple", 20),
    ]
    assert cst_features("def broken(:\n", CompatData(catalog)) is None


# -- no false positives on real code written for the target ------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("version", [(3, 8), (3, 10)], ids=["3.8", "3.10"])
def test_a_stdlib_is_clean_for_its_own_version(
    version: tuple[int, int], catalog: Catalog, tmp_path: Path
) -> None:
    """Python's own library, at the version it was written for: syntax, additions, run-time
    types and guards (it is full of `sys.version_info` and `try: import` fallbacks)."""
    lib = Path.home() / ".pyenv" / "versions"
    found = sorted(lib.glob(f"{version[0]}.{version[1]}.*/lib/python{version[0]}.{version[1]}"))
    if not found:
        pytest.skip(f"no Python {version[0]}.{version[1]} library here")
    names = ["asyncio", "concurrent", "email", "json", "importlib", "logging", "http"]
    names += ["typing.py", "dataclasses.py", "functools.py", "pathlib.py", "enum.py", "ast.py"]
    files = [
        p
        for n in names
        for p in ([found[-1] / n] if n.endswith(".py") else sorted((found[-1] / n).rglob("*.py")))
    ]
    engine = Engine(catalog, Settings(select=("MSE506",), target_python=version))
    report = engine.check_files([FileJob(str(p), p.name) for p in files], workers=1)
    assert report.files_checked == len(files) > 80
    assert [(d.path, d.span.line, d.message) for d in report.diagnostics] == []


def test_the_inferred_target_reaches_worker_processes(tmp_path: Path, catalog: Catalog) -> None:
    root = make(tmp_path, MATCH_APP, docker=OLD)
    for i in range(60):  # enough files for the process pool
        (root / "mse_src" / f"m{i}.py").write_text(MATCH_APP if i % 2 else "x = 1\n")
    outcome = lint([root], catalog, replace(COMPAT, jobs=2), cwd=root)
    assert len([d for d in outcome.diagnostics if d.rule == "MSE506"]) == 31


def test_suppression_on_the_first_line_of_the_statement(tmp_path: Path, catalog: Catalog) -> None:
    text = (
        "import datetime as dt\n\n"
        "NOW = dt.datetime.now(  # mse-lint: ignore[MSE506] -- the image is pinned to 3.11\n"
        "    dt.UTC\n)\n"
        "LATER = dt.datetime.now(\n    dt.UTC\n)\n"
    )
    result = _check(tmp_path, catalog, text, (3, 10))
    assert [(d.rule, d.span) for d in result.diagnostics] == [("MSE506", Span(7, 5, 7, 11))]
    assert [(d.rule, d.span.line) for d in result.suppressed] == [("MSE506", 4)]


def test_syntax_gate_is_linear_on_comment_banners(tmp_path: Path) -> None:
    """Comment banners after a colon once made the `*` gate backtrack exponentially (three
    lines of eight `#` took 0.8 s, four 100 s; the stdlib's idlelib/configdialog.py never
    finished): the whole check must be quick."""
    path = tmp_path / "banner.py"
    path.write_text("def f():\n" + ("    " + "#" * 8 + "\n") * 30 + "    pass\n")
    code = (
        "import sys\n"
        "from mse_lint.core.catalog import load_catalog\n"
        "from mse_lint.core.settings import Settings\n"
        "from mse_lint.pipeline.engine import Engine, FileJob\n"
        "r = Engine(load_catalog(), Settings()).check_file(FileJob(sys.argv[1], 'b.py'))\n"
        "assert r.checked\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
