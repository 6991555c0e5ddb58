"""What ships and what it needs: shipped junk (MSE503), unpinned requirements (MSE505), the
memory budget (MSE507), and `mse-lint manifest`'s sizes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

import pytest
from helpers import mse_lint_command

from mse_lint.checks.distributions import image_name
from mse_lint.checks.shipping import hardware_memory, human_size
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint
from mse_lint.project.requirements import parse, read_dockerfile

BASE = (
    'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n'
    '[cloud]\ncode = "mse_src"\n'
)


def cloud(image: str = "mse-flask", hardware: str = "4g-eu-001") -> str:
    return (
        BASE + f'docker = "ghcr.io/cosmian/{image}:20230810125234"\nproject = "default"\n'
        f'hardware = "{hardware}"\n'
    )


def make(tmp_path: Path, files: dict[str, str], toml: Optional[str] = None) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mse.toml").write_text(toml or BASE)
    for rel, text in {"mse_src/app.py": "app = None\n", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def found(catalog: Catalog, root: Path, rule: str) -> list[Diagnostic]:
    outcome = lint([root], catalog, Settings(), cwd=root)
    return [d for d in outcome.diagnostics if d.rule == rule]


def sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)  # no disk blocks: the manifest reads st_size


# ================================================================================================
# MSE503
# ================================================================================================
def test_shipped_virtualenv_is_one_finding(catalog: Catalog, tmp_path: Path) -> None:
    files = {
        "mse_src/venv/pyvenv.cfg": "home = /usr/bin\n",
        "mse_src/venv/lib/python3.10/site-packages/six.py": "X = 1\n",
        "mse_src/venv/bin/activate": "#",
    }
    root = make(tmp_path, files)
    [d] = found(catalog, root, "MSE503")
    assert (d.path, d.span) == ("mse_src/venv", Span(1, 1, 1, 2))
    size = len("home = /usr/bin\n") + len("X = 1\n") + 1
    assert d.message == (
        f"mse_src/venv/ (3 files, {size} B) is a virtualenv (the enclave's packages come from "
        "the docker image and requirements.txt) and ships to the enclave, where it takes memory "
        "and upload time; if the app does not need it, add the .mseignore line `venv`"
    )


@pytest.mark.parametrize(
    ("rel", "reported", "what", "line"),
    [
        (
            "pkg/__pycache__/m.cpython-310.pyc",
            "pkg/__pycache__/",
            "a bytecode cache",
            "__pycache__",
        ),
        ("old.pyc", "old.pyc", "compiled bytecode", "*.py[co]"),
        ("mylib.egg-info/PKG-INFO", "mylib.egg-info/", "packaging metadata", "*.egg-info"),
        ("dist/app-1.0.tar.gz", "dist/", "build output", "dist"),
        ("tests/test_app.py", "tests/", "a test suite", "tests"),
        ("test_api.py", "test_api.py", "a test module", "test_*.py"),
        ("conftest.py", "conftest.py", "pytest configuration", "conftest.py"),
        (
            "web/node_modules/x/index.js",
            "web/node_modules/",
            "JavaScript dependencies",
            "node_modules",
        ),
        ("CVS/Entries", "CVS/", "version control data", "CVS"),
    ],
)
def test_junk_kinds(
    catalog: Catalog, tmp_path: Path, rel: str, reported: str, what: str, line: str
) -> None:
    root = make(tmp_path, {f"mse_src/{rel}": "x"})
    [d] = found(catalog, root, "MSE503")
    assert d.path == "mse_src/" + reported.rstrip("/")
    assert d.message.startswith(f"mse_src/{reported} (")
    assert f") is {what}" in d.message
    assert d.message.endswith(f"add the .mseignore line `{line}`")


def test_junk_excluded_or_hidden_is_not_reported(catalog: Catalog, tmp_path: Path) -> None:
    files = {
        "mse_src/__pycache__/m.pyc": "x",
        "mse_src/tests/test_app.py": "x",
        "mse_src/.venv/pyvenv.cfg": "x",
        "mse_src/.mseignore": "__pycache__\ntests\n",
    }
    root = make(tmp_path, files)
    assert found(catalog, root, "MSE503") == []


def test_build_package_is_code(catalog: Catalog, tmp_path: Path) -> None:
    """A package named `build` (it has __init__.py) is the app's code, not build output."""
    root = make(tmp_path, {"mse_src/build/__init__.py": "", "mse_src/build/steps.py": "X = 1\n"})
    assert found(catalog, root, "MSE503") == []


def test_large_file(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, {})
    sparse(root / "mse_src" / "model" / "weights.bin", 150 * 1024 * 1024)
    sparse(root / "mse_src" / "model" / "small.bin", 99 * 1024 * 1024)
    [d] = found(catalog, root, "MSE503")
    assert d.path == "mse_src/model/weights.bin"
    assert d.message == (
        "mse_src/model/weights.bin (150.0 MiB) is larger than 100.0 MiB and ships to the enclave, "
        "where it takes memory and upload time; if the app does not need it, add the .mseignore "
        "line `weights.bin`"
    )


# ================================================================================================
# MSE505
# ================================================================================================
def test_unpinned_requirements(catalog: Catalog, tmp_path: Path) -> None:
    text = (
        "flask==2.2.5\n"
        "requests>=2.31  # we need the new API\n"
        "numpy\n"
        "pandas==2.*\n"
        "PyYAML===6.0.1\n"
        "boto3==1.28.57 --hash=sha256:0123\n"
        "oldlib==1.0; python_version < '3.0'\n"
        "newlib; python_version >= '3.8'\n"
        "-e .\n"
        "tool @ git+https://github.com/org/tool.git@main\n"
        "pinned @ git+https://github.com/org/tool.git@0123456789abcdef0123456789abcdef01234567\n"
        "wheel @ https://files.example/wheel-1.0-py3-none-any.whl\n"
        "-r more.txt\n"
    )
    files = {"mse_src/requirements.txt": text, "mse_src/more.txt": "\n  click ~= 8.1\n"}
    root = make(tmp_path, files)
    got = [(d.path, d.span, d.message.split("`")[1]) for d in found(catalog, root, "MSE505")]
    assert got == [
        ("mse_src/more.txt", Span(2, 3, 2, 15), "click ~= 8.1"),
        ("mse_src/requirements.txt", Span(2, 1, 2, 15), "requests>=2.31"),
        ("mse_src/requirements.txt", Span(3, 1, 3, 6), "numpy"),
        ("mse_src/requirements.txt", Span(4, 1, 4, 12), "pandas==2.*"),
        ("mse_src/requirements.txt", Span(8, 1, 8, 32), "newlib; python_version >= '3.8'"),
        (
            "mse_src/requirements.txt",
            Span(10, 1, 10, 48),
            "tool @ git+https://github.com/org/tool.git@main",
        ),
    ]
    d = found(catalog, root, "MSE505")[1]
    assert d.severity.name == "INFO"
    assert d.message == (
        "requirement `requests>=2.31` is not pinned with `==`: pip installs whatever version is "
        "newest when the enclave starts, so two starts of the same code can run different libraries"
    )


def test_only_the_top_level_requirements_are_installed(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/sub/requirements.txt": "numpy\n", "requirements.txt": "pandas\n"}
    root = make(tmp_path, files)
    assert found(catalog, root, "MSE505") == []


def test_requirement_credentials_stay_out_of_the_message(catalog: Catalog, tmp_path: Path) -> None:
    text = "git+https://EXAMPLEtoken0a1b2c3d4e5f6a7b8@github.com/org/repo.git#egg=repo\n"
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    [d] = found(catalog, root, "MSE505")
    assert "EXAMPLE" not in d.message
    assert "`git+https://github.com/org/repo.git#egg=repo`" in d.message


def test_requirement_parsing() -> None:
    assert parse("Flask_Cors==3.0.10").name == "flask-cors"  # type: ignore[union-attr]
    assert parse("git+https://h/x.git#egg=My_Pkg").name == "my-pkg"  # type: ignore[union-attr]
    assert parse("./libs/mylib-1.0.tar.gz").pinned  # type: ignore[union-attr]
    assert not parse("pandas==1.*").pinned  # type: ignore[union-attr]


# ================================================================================================
# MSE507
# ================================================================================================
def test_hardware_names() -> None:
    assert hardware_memory("4g-eu-001") == 4 << 30
    assert hardware_memory("512m-eu-001") == 512 << 20
    assert hardware_memory("8G-us-002") == 8 << 30
    assert hardware_memory("large") is None
    assert hardware_memory("") is None


def test_heavy_image_on_small_hardware(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, {}, toml=cloud("mse-nlp", "512m-eu-001"))
    [d] = found(catalog, root, "MSE507")
    assert d.path == "mse.toml"
    assert d.span == Span(8, 12, 8, 25)  # "512m-eu-001" with its quotes
    assert d.message == (
        "the code dir (11 B) and the libraries (~1010.0 MiB: torch ~750.0 MiB, pandas ~70.0 MiB, "
        "transformers ~40.0 MiB, numpy ~40.0 MiB, 1 more) take about 1010.0 MiB of the 512.0 MiB "
        "of `512m-eu-001` (197%, over 50%) before the app allocates anything"
    )


def test_heavy_image_on_large_hardware(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, {}, toml=cloud("mse-nlp", "4g-eu-001"))
    assert found(catalog, root, "MSE507") == []


def test_shipped_weights_count(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, {"mse_src/.mseignore": "*.ckpt\n"}, toml=cloud("mse-flask", "4g-eu-001"))
    sparse(root / "mse_src" / "weights.bin", 2 << 30)
    sparse(root / "mse_src" / "old.ckpt", 8 << 30)  # excluded: does not count
    [d] = found(catalog, root, "MSE507")
    assert d.message.startswith("the code dir (2.0 GiB) and the libraries (~100.0 MiB)")
    assert "of the 4.0 GiB of `4g-eu-001` (52%, over 50%)" in d.message


def test_requirements_count_too(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/requirements.txt": "torch==2.1.0\n"}
    root = make(tmp_path, files, toml=cloud("mse-flask", "1g-eu-001"))
    [d] = found(catalog, root, "MSE507")
    assert "torch ~750.0 MiB" in d.message
    assert "(83%, over 50%)" in d.message


def test_legacy_schema_resource(catalog: Catalog, tmp_path: Path) -> None:
    toml = (
        'name = "t"\nproject = "default"\nresource = "512m-eu-001"\n'
        '[code]\nlocation = "mse_src"\npython_application = "app:app"\n'
        'docker = "ghcr.io/cosmian/mse-nlp:20230710124434"\n'
    )
    root = make(tmp_path, {}, toml=toml)
    [d] = found(catalog, root, "MSE507")
    assert d.span == Span(3, 12, 3, 25)
    assert "of `512m-eu-001` (197%, over 50%)" in d.message


def test_no_hardware_no_budget(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, {})
    assert found(catalog, root, "MSE507") == []


# ================================================================================================
# helpers and the manifest command
# ================================================================================================
def test_image_names() -> None:
    assert image_name("ghcr.io/cosmian/mse-flask:20230810125234") == "mse-flask"
    assert image_name("mse-ds") == "mse-ds"
    assert image_name("ghcr.io/cosmian/mse-nlp@sha256:abc") == "mse-nlp"
    assert human_size(1536) == "1.5 KiB"


def test_dockerfile(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(
        "FROM python:3.10 AS build\nRUN pip install wheel\n"
        "FROM ghcr.io/cosmian/mse-base:20230720095554\n"
        "RUN pip install --no-cache-dir flask==2.2.5 \\\n    'cryptography>=41' -r req.txt && \\\n"
        "    python3 -m pip install -U PyYAML\n"
    )
    d = read_dockerfile(path)
    assert d is not None
    assert d.image == "ghcr.io/cosmian/mse-base:20230720095554"
    assert d.installs == ("flask==2.2.5", "cryptography>=41", "PyYAML")


def test_manifest_command_shows_sizes_and_total(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {"mse_src/data.csv": "x" * 2048, "mse_src/requirements.txt": "flask==2.2.5\n"},
    )
    proc = subprocess.run(
        [*mse_lint_command(), "manifest", str(root)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.splitlines()
    assert any(r.split() == ["data.csv", "2.0", "KiB", "encrypted"] for r in rows), proc.stdout
    assert any(r.split() == ["requirements.txt", "13", "B", "clear", "text"] for r in rows)
    assert "ships: 3 files, 2.0 KiB" in proc.stdout


def test_odd_inputs_never_crash(catalog: Catalog, tmp_path: Path) -> None:
    files = {
        "mse_src/requirements.txt": "\\\n-r\n-e\n--hash\n@@@\nname @ \nflask==\n-r missing.txt\n",
        "Dockerfile": "FROM\nRUN pip install\nRUN 'unclosed\n",
        "sub/.mseignore/x": "",
    }
    root = make(tmp_path, files, toml=cloud("mse-flask", "0g-eu-001"))
    (root / "mse_src" / "requirements.txt").write_bytes(b"\xff\xfe\x00bad\n" + b"numpy\n")
    (root / "mse_src" / "app.py").write_text("import numpy\nimport yaml\n")
    outcome = lint([root], catalog, Settings(), cwd=root)
    rules = sorted({d.rule for d in outcome.diagnostics if d.rule.startswith("MSE5")})
    assert rules == ["MSE504", "MSE505"]  # a folder named .mseignore is no .mseignore
