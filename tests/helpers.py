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
