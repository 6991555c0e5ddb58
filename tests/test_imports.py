"""MSE504: third-party imports that nothing installs in the enclave."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint

BASE = (
    'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n'
    '[cloud]\ncode = "mse_src"\ntests = "tests"\n'
)
FLASK = "`mse-flask` (flask 2.2.2, flask-cors 3.0.10, flask-sqlalchemy 3.0.2)"
NONE = "requirements.txt (none ships at the top of the code dir)"


def cloud(image: str) -> str:
    return (
        BASE + f'docker = "ghcr.io/cosmian/{image}:20230810125234"\nproject = "default"\n'
        'hardware = "4g-eu-001"\n'
    )


HOME = BASE + 'docker = ""\nproject = ""\nhardware = ""\n'


def make(tmp_path: Path, files: dict[str, str], toml: Optional[str] = None) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mse.toml").write_text(toml if toml is not None else cloud("mse-flask"))
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def found(catalog: Catalog, root: Path, paths: Optional[list[Path]] = None) -> list[Diagnostic]:
    outcome = lint(paths or [root], catalog, Settings(), cwd=root)
    return [d for d in outcome.diagnostics if d.rule == "MSE504"]


def lines(catalog: Catalog, root: Path) -> list[tuple[str, int]]:
    return [(d.path, d.span.line) for d in found(catalog, root)]


APP = "import pandas as pd\nfrom flask import Flask\n\napp = Flask(__name__)\n"


def test_pandas_on_flask_image(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, {"mse_src/app.py": APP})
    [d] = found(catalog, root)
    assert (d.path, d.span) == ("mse_src/app.py", Span(1, 1, 1, 20))
    assert d.severity.name == "WARNING"
    assert d.message == (
        f"`pandas` comes from the distribution `pandas`, which is neither in {NONE} nor in the "
        f"docker image {FLASK}; importing it raises ModuleNotFoundError in the enclave"
    )


def test_pandas_and_flask_on_ds_image(catalog: Catalog, tmp_path: Path) -> None:
    # the ds image installs Flask and its two extensions with pandas (its Dockerfile)
    app = "from flask_cors import CORS\nfrom flask_sqlalchemy import SQLAlchemy\n" + APP
    root = make(tmp_path, {"mse_src/app.py": app}, toml=cloud("mse-ds"))
    assert found(catalog, root) == []


def test_pandas_in_requirements(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/app.py": APP, "mse_src/requirements.txt": "pandas==1.5.3\n"}
    assert lines(catalog, make(tmp_path, files)) == []


@pytest.mark.parametrize(
    ("module", "dist"),
    [
        ("yaml", "PyYAML"),
        ("sklearn.linear_model", "scikit-learn"),
        ("cv2", "opencv-python"),
        ("PIL.Image", "Pillow"),
        ("bs4", "beautifulsoup4"),
        ("jwt", "PyJWT"),
        ("dateutil.parser", "python-dateutil"),
        ("dotenv", "python-dotenv"),
        ("google.protobuf.json_format", "protobuf"),
        ("Crypto.Cipher", "pycryptodome"),
    ],
)
def test_import_names_map_to_distributions(
    catalog: Catalog, tmp_path: Path, module: str, dist: str
) -> None:
    files = {"mse_src/app.py": f"import {module}\n"}
    [d] = found(catalog, make(tmp_path, files))
    assert d.message.startswith(f"`{module}` comes from the distribution `{dist}`, ")
    # the distribution, written any way pip accepts, satisfies the import
    spelled = dist.upper().replace("-", "_")
    (tmp_path / "proj" / "mse_src" / "requirements.txt").write_text(f"{spelled}==1.0\n")
    assert found(catalog, tmp_path / "proj") == []


def test_alternative_distributions(catalog: Catalog, tmp_path: Path) -> None:
    files = {
        "mse_src/app.py": "import cv2\nimport psycopg2\n",
        "mse_src/requirements.txt": "opencv-python-headless==4.8.0.76\npsycopg2-binary==2.9.9\n",
    }
    assert lines(catalog, make(tmp_path, files)) == []


def test_from_import_of_a_namespace_module(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/app.py": "from google.cloud import storage\n"}
    root = make(tmp_path, files)
    [d] = found(catalog, root)
    assert "distribution `google-cloud-storage`" in d.message
    (root / "mse_src" / "requirements.txt").write_text("google-cloud-storage==2.10.0\n")
    assert found(catalog, root) == []


def test_what_comes_with_the_image_and_requirements(catalog: Catalog, tmp_path: Path) -> None:
    app = (
        "import click\nimport jinja2\nimport werkzeug\nimport sqlalchemy\nimport cryptography\n"
        "import hypercorn\nimport requests\nimport urllib3\nimport pkg_resources\n"
    )
    files = {"mse_src/app.py": app, "mse_src/requirements.txt": "requests==2.31.0\n"}
    assert lines(catalog, make(tmp_path, files)) == []


def test_stdlib_local_and_relative_imports(catalog: Catalog, tmp_path: Path) -> None:
    files = {
        "mse_src/app.py": (
            "import os, json, tomllib, distutils\nimport helpers\nfrom models import User\n"
            "from pkg.sub import thing\nfrom . import x\n"
        ),
        "mse_src/helpers.py": "",
        "mse_src/models/__init__.py": "User = 1\n",
        "mse_src/pkg/__init__.py": "",
        "mse_src/pkg/sub.py": "import neighbour\nfrom .neighbour import y\nthing = 1\n",
        "mse_src/pkg/neighbour.py": "y = 1\n",
    }
    assert lines(catalog, make(tmp_path, files)) == []


def test_guarded_imports_are_not_reported(catalog: Catalog, tmp_path: Path) -> None:
    app = (
        "import contextlib\nfrom typing import TYPE_CHECKING\n"
        "try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
        "try:\n    import orjson\nexcept (ValueError, ModuleNotFoundError):\n    orjson = None\n"
        "with contextlib.suppress(ImportError):\n    import simdjson\n"
        "if TYPE_CHECKING:\n    import pandas\n"
        "def main():\n    import uvicorn\n"
        "if __name__ == '__main__':\n    import uvicorn\n    uvicorn.run('app:app')\n"
        "try:\n    import msgpack\nexcept ValueError:\n    pass\n"
        "try:\n    import toml\nexcept ImportError:\n    import tomli as toml\n"
    )
    root = make(tmp_path, {"mse_src/app.py": app})
    got = [(d.span.line, d.message.split("`")[1]) for d in found(catalog, root)]
    # `def main()` may be called: its import counts; an ImportError handler's fallback too
    assert got == [(16, "uvicorn"), (21, "msgpack"), (27, "tomli")]


def test_requirements_that_do_not_install(catalog: Catalog, tmp_path: Path) -> None:
    files = {
        "mse_src/app.py": "import yaml\nimport numpy\nimport scipy\n",
        "mse_src/requirements.txt": (
            "PyYAML==6.0.1 ; python_version < '3.0'\n-r more.txt\n-r ../host.txt\n"
        ),
        "host.txt": "scipy==1.11.0\n",  # outside the code dir: not in the enclave
        "mse_src/more.txt": "numpy==1.26.0\n",
        "mse_src/sub/requirements.txt": "scipy==1.11.0\n",  # never installed
    }
    root = make(tmp_path, files)
    assert lines(catalog, root) == [("mse_src/app.py", 1), ("mse_src/app.py", 3)]


def test_excluded_requirements_are_not_installed(catalog: Catalog, tmp_path: Path) -> None:
    files = {
        "mse_src/app.py": "import yaml\n",
        "mse_src/requirements.txt": "PyYAML==6.0.1\n",
        "mse_src/.mseignore": "requirements.txt\n",
    }
    [d] = found(catalog, make(tmp_path, files))
    assert f"neither in {NONE} nor" in d.message


def test_unknown_image_is_not_judged(catalog: Catalog, tmp_path: Path) -> None:
    toml = cloud("mse-flask").replace("ghcr.io/cosmian/mse-flask", "registry.example/our-image")
    assert lines(catalog, make(tmp_path, {"mse_src/app.py": APP}, toml=toml)) == []


def test_home_image_from_the_dockerfile(catalog: Catalog, tmp_path: Path) -> None:
    app = "import cryptography.fernet\nfrom flask import Flask\nimport yaml\n"
    files = {
        "mse_src/app.py": app,
        "Dockerfile": "FROM ghcr.io/cosmian/mse-base:20230720095554\n"
        "RUN pip install flask==2.2.5 cryptography\n",
    }
    [d] = found(catalog, make(tmp_path, files, toml=HOME))
    assert d.span.line == 3
    assert d.message == (
        f"`yaml` comes from the distribution `PyYAML`, which is neither in {NONE} nor in the "
        "docker image `mse-base` (the MSE runtime only) plus its Dockerfile's `pip install` of "
        "flask==2.2.5, cryptography; importing it raises ModuleNotFoundError in the enclave"
    )


def test_host_side_files_are_not_checked(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/app.py": "app = None\n", "tests/test_app.py": "import pytest\nimport yaml\n"}
    root = make(tmp_path, files)
    assert found(catalog, root, [root / "tests"]) == []


def test_excluded_files_are_not_checked(catalog: Catalog, tmp_path: Path) -> None:
    files = {
        "mse_src/app.py": "app = None\n",
        "mse_src/scripts/seed.py": "import faker\n",
        "mse_src/.mseignore": "scripts\n",
    }
    assert lines(catalog, make(tmp_path, files)) == []


def test_one_finding_per_statement_and_distribution(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/app.py": "from pandas import DataFrame, Series\nimport yaml, ujson\n"}
    got = [(d.span.line, d.message.split("`")[3]) for d in found(catalog, make(tmp_path, files))]
    assert sorted(got) == [(1, "pandas"), (2, "PyYAML"), (2, "ujson")]


def test_without_a_project_nothing_is_reported(catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.py").write_text("import pandas\n")
    assert found(catalog, tmp_path) == []


def test_dynamic_imports_with_literal_names(catalog: Catalog, tmp_path: Path) -> None:
    app = (
        "import importlib\nimport importlib as il\n\n"
        "yaml = importlib.import_module('yaml')\n"
        "def load():\n    return il.import_module('bs4').BeautifulSoup\n"
        "np = __import__('numpy')\n"
        "def import_module(name):\n    return name\n"
        "def local():\n    return import_module('pandas')\n"
        "plugin = importlib.import_module('.plugins', __package__)\n"
        "json = importlib.import_module('json')\n"
        "try:\n    fast = importlib.import_module('orjson')\nexcept ImportError:\n    fast = None\n"
    )
    root = make(tmp_path, {"mse_src/app.py": app})
    got = [(d.span.line, d.span.col, d.message.split("`")[1]) for d in found(catalog, root)]
    assert got == [(4, 8, "yaml"), (6, 12, "bs4"), (7, 6, "numpy")]


@pytest.mark.parametrize(("python", "line"), [((3, 10), 3), ((3, 11), 5)])
def test_version_branches(
    catalog: Catalog, tmp_path: Path, python: tuple[int, int], line: int
) -> None:
    app = (
        "import sys\nif sys.version_info < (3, 11):\n    import tomli as tomllib\n"
        "else:\n    import uvloop_extra\n"
        "if sys.version_info[:2] >= (3, 10):\n    pass\nelse:\n    import typing_backport_x\n"
    )
    root = make(tmp_path, {"mse_src/app.py": app})
    outcome = lint([root], catalog, Settings(target_python=python), cwd=root)
    assert [d.span.line for d in outcome.diagnostics if d.rule == "MSE504"] == [line]
