"""Pieces of the mse.toml checks: key positions, the values mse-cli's model accepts, the
did-you-mean, the docker tag and the home/cloud split."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import pytest

from mse_lint.checks.mse_toml_values import app_problem, pydantic_datetime
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Span
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint
from mse_lint.project.model import load_mse_toml
from mse_lint.project.tomlpos import key_positions

BASE = (
    'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\n'
    'tests_cmd = "pytest"\ntests_requirements = []\n'
)
CLOUD = (
    '\n[cloud]\ncode = "mse_src"\ntests = "mse_src"\n'
    'docker = "ghcr.io/cosmian/mse-flask:20230810125234"\nproject = "default"\n'
    'hardware = "4g-eu-001"\n'
)
APP = (
    'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get("/health")\n'
    'def h():\n    return ""\n'
)


def findings(
    catalog: Catalog, tmp_path: Path, toml: str, files: Optional[dict[str, str]] = None
) -> list[tuple[str, int, int, str]]:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mse.toml").write_text(toml, encoding="utf-8")
    for rel, text in {"mse_src/app.py": APP, **(files or {})}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    outcome = lint([root], catalog, Settings(), cwd=root)
    return [(d.rule, d.span.line, d.span.col, d.message) for d in outcome.diagnostics]


# -- positions --------------------------------------------------------------------------------
def test_key_positions_through_strings_comments_arrays_and_inline_tables() -> None:
    text = (
        'a = "x # not a comment"  # comment\n'
        'b = [\n  \'x\', # c\n  """multi\n[not.a.table]\nline""",\n]\n'
        '"dotted.key" = 1\n'
        "[cloud]  # header\n"
        "ssl = { domain_name = 'd', private_key = \"k\" }\n"
        "x.y = 2024-01-01 10:00:00Z\n"
        "[[arr]]\n"
        "z = true\n"
    )
    pos = key_positions(text)
    assert pos[("a",)].key == Span(1, 1, 1, 2)
    assert pos[("a",)].value == Span(1, 5, 1, 24)
    assert pos[("b",)].value == Span(2, 5, 7, 2)
    assert ("not", "a", "table") not in pos
    assert pos[("dotted.key",)].key == Span(8, 1, 8, 13)
    assert pos[("cloud",)].key == Span(9, 1, 9, 8)
    assert pos[("cloud", "ssl", "domain_name")].key == Span(10, 9, 10, 20)
    assert pos[("cloud", "ssl", "private_key")].value_text == '"k"'
    assert pos[("cloud", "x", "y")].value_text == "2024-01-01 10:00:00Z"
    assert pos[("arr", "z")].key == Span(13, 1, 13, 2)


def test_key_positions_never_raise_on_broken_text() -> None:
    for text in ("a = [\n", 'a = "unclosed\n', "[", "= 1", "a = {b = \n", '"""'):
        key_positions(text)


def test_unparsable_mse_toml_keeps_the_position(tmp_path: Path) -> None:
    path = tmp_path / "mse.toml"
    path.write_text('name = "x"\ncode = = 1\n')
    toml = load_mse_toml(path)
    assert toml.error is not None and (toml.error.line, toml.error.col) == (2, 8)
    assert toml.data == {}
    path.write_bytes(b'name = "caf\xe9"\n')
    toml = load_mse_toml(path)
    assert toml.error is not None and (toml.error.line, toml.error.col) == (1, 12)
    assert "not valid UTF-8" in toml.error.message


# -- values as mse-cli's model reads them -------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("app:app", True),
        ("pkg.web.main:application", True),
        ("app", False),
        ("app:app:x", False),
        ("app:create_app()", False),
        ("app:api.app", False),
        ("my-app:app", False),
        (":app", False),
        ("app:class", False),
    ],
)
def test_python_application_format(value: str, ok: bool) -> None:
    assert (app_problem(value) is None) is ok


def test_expiration_date_reading() -> None:
    utc = dt.timezone.utc
    aware = dt.datetime(2030, 1, 1, tzinfo=utc)
    assert pydantic_datetime(aware) == aware
    assert pydantic_datetime("2030-01-01T00:00:00Z") == aware
    assert pydantic_datetime("2030-01-01 00:00:00+00:00") == aware
    assert pydantic_datetime(1893456000) == aware  # Unix time
    naive = pydantic_datetime(dt.datetime(2030, 1, 1))
    assert naive is not None and naive.tzinfo is not None  # local time, as mse-cli does
    for bad in ("2030-01-01", "next year", dt.date(2030, 1, 1), dt.time(10, 0), True, ""):
        assert pydantic_datetime(bad) is None, bad


@pytest.mark.parametrize(
    ("docker", "fragment"),
    [
        ("ghcr.io/cosmian/mse-flask", "has no tag"),
        ("localhost:5000/cosmian/mse-flask", "has no tag"),
        ("ghcr.io/cosmian/mse-flask:latest", "tagged `latest`"),
        ("ghcr.io/cosmian/mse-flask:2023-08-10", "not a build date"),
        ("ghcr.io/cosmian/mse-flask:20231310125234", "not a build date"),
        ("ghcr.io/cosmian/mse-flask:20230810125234", None),
        ("ghcr.io/cosmian/mse-flask@sha256:" + "a" * 64, None),
        ("registry.example/team/app:1.4.2", None),
    ],
)
def test_docker_values(
    catalog: Catalog, tmp_path: Path, docker: str, fragment: Optional[str]
) -> None:
    toml = BASE + CLOUD.replace("ghcr.io/cosmian/mse-flask:20230810125234", docker)
    found = [m for rule, _, _, m in findings(catalog, tmp_path, toml) if rule == "MSE409"]
    if fragment is None:
        assert found == []
    else:
        assert len(found) == 1 and fragment in found[0]


# -- home or cloud ----------------------------------------------------------------------------
def test_home_project_is_not_checked_for_cloud_keys(catalog: Catalog, tmp_path: Path) -> None:
    home = BASE + '\n[cloud]\ncode = "mse_src"\ntests = "mse_src"\ndocker = ""\nproject = ""\n'
    home += 'hardware = ""\nexpiration_date = 2001-01-01T00:00:00Z\n'
    assert findings(catalog, tmp_path, home) == []


def test_half_filled_cloud_table_is_for_cloud(catalog: Catalog, tmp_path: Path) -> None:
    toml = BASE + CLOUD.replace('project = "default"', 'project = ""')
    assert [(r, ln, c) for r, ln, c, _ in findings(catalog, tmp_path, toml)] == [("MSE402", 11, 1)]


def test_numbers_are_strings_for_pydantic(catalog: Catalog, tmp_path: Path) -> None:
    toml = BASE.replace('name = "t"', "name = 42") + CLOUD
    assert findings(catalog, tmp_path, toml) == []


# -- MSE401 parity with toml 0.10.2 -----------------------------------------------------------
@pytest.mark.parametrize(
    ("requirements", "fires"),
    [
        ('["pytest", 7]', True),
        ("[1, 2.5]", True),
        ('[["a"], [1]]', False),  # arrays of arrays are one type for toml 0.10.2
        ('["pytest", "requests"]', False),
    ],
)
def test_mixed_arrays(catalog: Catalog, tmp_path: Path, requirements: str, fires: bool) -> None:
    toml = BASE.replace("tests_requirements = []", f"tests_requirements = {requirements}")
    rules = [(r, ln, c) for r, ln, c, _ in findings(catalog, tmp_path, toml + CLOUD)]
    assert (("MSE401", 5, 22) in rules) is fires


def test_no_mse_toml_runs_no_config_check(catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    outcome = lint([tmp_path], catalog, Settings(), cwd=tmp_path)
    assert outcome.diagnostics == []
    notices = [n.message for n in outcome.notices]
    assert sum("MSE401-MSE410, MSE412) are skipped" in n for n in notices) == 1


# -- route resolution: the clean fixture projects are clean because their routes were found --
FIXTURES = Path(__file__).parent / "fixtures" / "config"


@pytest.mark.parametrize(
    ("name", "routes"),
    [
        ("fastapi_health", "/health, /items/{item_id}"),
        ("flask_blueprint_prefix", "/api/health"),
        ("flask_blueprint_nested", "/v1/api/health/"),
        ("fastapi_router", "/api/v1/health"),
        ("starlette_routes", "/health, /items/{name}"),
        ("app_factory_result", "/health"),
    ],
)
def test_routes_are_resolved(catalog: Catalog, tmp_path: Path, name: str, routes: str) -> None:
    import re
    import shutil

    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    (root / ".git").mkdir()
    toml = root / "mse.toml"
    toml.write_text(
        re.sub(
            r'healthcheck_endpoint = "[^"]*"', 'healthcheck_endpoint = "/nope"', toml.read_text()
        )
    )
    outcome = lint([root], catalog, Settings(), cwd=root)
    (found,) = [d for d in outcome.diagnostics if d.rule == "MSE406"]
    assert (found.path, found.span.line, found.span.col) == ("mse.toml", 3, 1)
    assert f"(its routes: {routes})" in found.message


def test_stdlib_shadowing_follows_the_target_python(catalog: Catalog, tmp_path: Path) -> None:
    from mse_lint.core.record import replace

    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mse.toml").write_text(BASE + CLOUD)
    (root / "mse_src").mkdir()
    (root / "mse_src" / "app.py").write_text(APP)
    (root / "mse_src" / "graphlib.py").write_text("EDGES = {}\n")  # stdlib since 3.9
    (root / "mse_src" / "tomllib.py").write_text("X = 1\n")  # stdlib since 3.11
    for target, shadowed in (
        ((3, 8), []),
        ((3, 10), ["graphlib"]),
        ((3, 11), ["graphlib", "tomllib"]),
    ):
        settings = replace(Settings(), target_python=target)
        outcome = lint([root], catalog, settings, cwd=root)
        found = [d.path for d in outcome.diagnostics if d.rule == "MSE412"]
        assert found == [f"mse_src/{n}.py" for n in shadowed], target


@pytest.mark.parametrize(
    ("framework", "route", "endpoint", "fires"),
    [
        ("flask", "/health", "/health", False),
        ("flask", "/health/", "/health", False),  # werkzeug redirects to the rule with a slash
        ("flask", "/health", "/health/", True),  # ... but answers 404 the other way round
        ("fastapi", "/health", "/health/", False),  # redirect_slashes, both ways
        ("fastapi", "/health/", "/health", False),
        ("fastapi", "/healthz", "/health", True),
    ],
)
def test_trailing_slashes(
    catalog: Catalog, tmp_path: Path, framework: str, route: str, endpoint: str, fires: bool
) -> None:
    head = {
        "flask": "from flask import Flask\napp = Flask(__name__)\n",
        "fastapi": "from fastapi import FastAPI\napp = FastAPI()\n",
    }[framework]
    app = head + f'@app.get("{route}")\ndef h():\n    return ""\n'
    toml = BASE.replace('"/health"', f'"{endpoint}"') + CLOUD
    found = [r for r, *_ in findings(catalog, tmp_path, toml, {"mse_src/app.py": app})]
    assert ("MSE406" in found) is fires


@pytest.mark.parametrize(
    "cloud",
    [
        'code = "' + "x" * 300 + '"\n',  # longer than a file name may be
        'code = "mse\\u0000src"\n',  # a NUL byte in a path
        'code = "mse_src"\nexpiration_date = nan\n',
        'code = "mse_src"\nexpiration_date = inf\n',
        'code = "mse_src"\nssl = "x"\n',
        'code = "mse_src"\nsecrets = ["a"]\n',
    ],
)
def test_hostile_values_are_findings_not_crashes(
    catalog: Catalog, tmp_path: Path, cloud: str
) -> None:
    toml = BASE.replace('"app:app"', '"' + "a" * 300 + ':app"') + "[cloud]\n" + cloud
    found = findings(catalog, tmp_path, toml)
    assert found and all(rule.startswith("MSE4") for rule, *_ in found)


# -- legacy files (0.x and pre-0.9) -------------------------------------------------------------
LEGACY_KEY = (
    "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
    "\\n-----END PRIVATE KEY-----\\n"
)


@pytest.mark.parametrize(
    ("head", "hardware"),
    [
        ('version = "1.0.0"\nplan = "free"\n', "plan"),  # pre-0.9
        ('resource = "free"\n', "resource"),  # 0.9-0.11
        ('hardware = "free"\n', "hardware"),  # 0.12: whatever the value, 1.x names are not judged
    ],
)
def test_legacy_schemas_are_checked_alike(
    catalog: Catalog, tmp_path: Path, head: str, hardware: str
) -> None:
    toml = (
        f'name = "t"\nproject = "default"\n{head}'
        '[code]\nlocation = "mse_src"\npython_application = "app:app"\n'
        'healthcheck_endpoint = "/health"\ndocker = "ghcr.io/cosmian/mse-flask"\n'
        'secrets = "secrets.json"\n'
        f'[ssl]\ndomain_name = "d.example.com"\nprivate_key = "{LEGACY_KEY}"\n'
        'certificate = "cert.pem"\n'
    )
    got = findings(catalog, tmp_path, toml)
    rules = sorted(r for r, *_ in got)
    # the schema, the missing secrets and certificate files, the untagged image; the inline key
    # is no path, and no hardware name is judged against 1.x
    assert rules == ["MSE404", "MSE407", "MSE407", "MSE409"], got
    messages = " ".join(m for *_, m in got)
    assert "secrets.json does not exist" in messages
    assert "cert.pem does not exist" in messages
    assert "has no tag" in messages
    assert "MIIE" not in messages and "BEGIN PRIVATE" not in messages
    [legacy] = [m for r, *_, m in got if r == "MSE404"]
    assert (
        "`[ssl] private_key = <a PEM block>` -> `[cloud.ssl] private_key = <its file's path>`"
        in (legacy)
    )
    if hardware != "hardware":
        assert f'`{hardware} = "free"` -> `[cloud] hardware = "4g-eu-001"`' in legacy


def test_legacy_inline_key_reaches_no_output_format(tmp_path: Path) -> None:
    import subprocess

    from helpers import mse_lint_command

    root = tmp_path / "proj"
    (root / "mse_src").mkdir(parents=True)
    (root / "mse_src" / "app.py").write_text(APP)
    (root / "mse.toml").write_text(
        'name = "t"\nversion = "1.0.0"\nproject = "default"\nplan = "free"\n'
        '[code]\nlocation = "mse_src"\npython_application = "app:app"\n'
        'healthcheck_endpoint = "/health"\ndocker = "ghcr.io/cosmian/mse-flask:20230124182826"\n'
        f'[ssl]\ndomain_name = "d.example.com"\nprivate_key = "{LEGACY_KEY}"\n'
        f'certificate = "{LEGACY_KEY.replace("PRIVATE KEY", "CERTIFICATE")}"\n'
    )
    for fmt in ("console", "json", "sarif", "github", "gitlab", "junit"):
        done = subprocess.run(
            [*mse_lint_command(), "--no-cache", "--format", fmt, "."],
            cwd=root,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1, (fmt, done.stderr)  # findings
        assert "MSE404" in done.stdout, fmt
        assert "MIIE" not in done.stdout + done.stderr, fmt


# -- MSE406: mse-cli takes any status but 503 as ready -------------------------------------------
READY = (
    "which mse-cli takes as ready (it waits only while the status is 503): the app is reported "
    "healthy without ever being probed"
)


def _health(
    catalog: Catalog, tmp_path: Path, endpoint: str, files: dict[str, str]
) -> list[tuple[str, str, int, int, str, str]]:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    toml = BASE.replace('"/health"', f'"{endpoint}"') + CLOUD.replace("mse-flask", "mse-fastapi")
    (root / "mse.toml").write_text(toml, encoding="utf-8")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    outcome = lint([root], catalog, Settings(select=("MSE406",)), cwd=root)
    return [
        (d.path, d.severity.label, d.span.line, d.span.col, d.message, d.fix or "")
        for d in outcome.diagnostics
    ]


def test_healthcheck_findings_are_warnings_that_say_what_mse_cli_does(
    catalog: Catalog, tmp_path: Path
) -> None:
    fastapi = "from fastapi import FastAPI\n\napp = FastAPI()\n\n"
    cases = {
        "missing": (fastapi + '@app.get("/")\ndef index():\n    return {}\n', "/health"),
        "post": (fastapi + '@app.post("/health")\ndef health():\n    return {}\n', "/health"),
        "params": (fastapi + '@app.get("/{page}")\ndef page(page: str):\n    return {}\n', "/x"),
    }
    got = {
        name: _health(catalog, tmp_path / name, endpoint, {"mse_src/app.py": app})
        for name, (app, endpoint) in cases.items()
    }
    assert [(p, s, ln, c, m) for p, s, ln, c, m, _ in got["missing"]] == [
        (
            "mse.toml",
            "warning",
            3,
            1,
            "no route of `app` in app.py serves GET /health (its routes: /): the platform's "
            f"healthcheck gets 404, {READY}",
        )
    ]
    assert [(p, s, ln, c, m) for p, s, ln, c, m, _ in got["post"]] == [
        (
            "mse_src/app.py",
            "warning",
            5,
            2,
            "the route /health serves POST only: the platform's healthcheck is a GET and gets 405 "
            f"Method Not Allowed, {READY}",
        )
    ]
    assert [(p, s, ln, c, m) for p, s, ln, c, m, _ in got["params"]] == [
        (
            "mse_src/app.py",
            "warning",
            5,
            2,
            "GET /x only matches the route '/{page}', which takes path parameters: the "
            "healthcheck runs that view with parameters read from /x, and mse-cli takes any "
            "status but 503 as ready, so whatever the view answers the app is reported healthy; "
            "a fixed route that needs none makes a real check",
        )
    ]


ROUTER = (
    "from fastapi import APIRouter\n\n"
    'router = APIRouter(prefix="/v1")\n'
    "inner = APIRouter()\n\n\n"
    '@inner.get("/health")\ndef health():\n    return {}\n\n\n'
    'router.include_router(inner, prefix="/status")\n'
)
MAIN = (
    "from fastapi import FastAPI\n\nfrom routes import router\n\n"
    "app = FastAPI()\n"
    'app.include_router(router, prefix="/api")\n'
)


@pytest.mark.parametrize(
    ("endpoint", "fires"),
    [
        ("/api/v1/status/health", False),  # include prefix + router prefix + nested + path
        ("/api/v1/status/health/", False),  # FastAPI redirects the slash
        ("/v1/status/health", True),  # the include's prefix is part of the path
        ("/api/status/health", True),  # so is the router's own prefix
        ("/api/v1/health", True),  # and the nested include's
        ("/health", True),
    ],
)
def test_include_router_prefixes_make_the_full_path(
    catalog: Catalog, tmp_path: Path, endpoint: str, fires: bool
) -> None:
    found = _health(
        catalog, tmp_path, endpoint, {"mse_src/app.py": MAIN, "mse_src/routes.py": ROUTER}
    )
    if not fires:
        assert found == []
        return
    [(path, severity, line, _, message, _)] = found
    assert (path, severity, line) == ("mse.toml", "warning", 3)
    assert f"serves GET {endpoint} (its routes: /api/v1/status/health): " in message


def test_include_router_computed_prefix_is_not_guessed(catalog: Catalog, tmp_path: Path) -> None:
    # a prefix that is not a literal makes the route list incomplete: MSE406 stays silent
    # rather than guess
    main = MAIN.replace('prefix="/api"', "prefix=PREFIX").replace(
        "app = FastAPI()\n", 'app = FastAPI()\nPREFIX = "/" + "api"\n'
    )
    files = {"mse_src/app.py": main, "mse_src/routes.py": ROUTER}
    assert _health(catalog, tmp_path, "/health", files) == []
