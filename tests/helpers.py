"""Shared by the end-to-end tests: how to run the installed console script."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def mse_lint_command() -> list[str]:
    """The ``mse-lint`` of the installation under test: the script next to this interpreter
    (a venv not on PATH, as in CI), else the one on PATH, else ``python -m mse_lint``."""
    beside = Path(sys.executable).parent / "mse-lint"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("mse-lint")
    if found:
        return [found]
    return [sys.executable, "-m", "mse_lint"]


def complete_mse_toml(
    code: str = "mse_src",
    docker: str = "ghcr.io/cosmian/mse-flask:20230810125234",
    healthcheck: str = "/",
) -> str:
    """A valid 1.x mse.toml for MSE cloud (the tests dir it names is ``tests``): fixture
    projects that test something else stay clean of the mse.toml rules."""
    return (
        f'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "{healthcheck}"\n'
        'tests_cmd = "pytest"\ntests_requirements = ["pytest==7.2.0"]\n'
        f'[cloud]\ncode = "{code}"\ntests = "tests"\ndocker = "{docker}"\n'
        'project = "default"\nhardware = "4g-eu-001"\n'
    )
