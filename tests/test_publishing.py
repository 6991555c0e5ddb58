"""What a package needs before anyone else installs it: a licence that matches the metadata, a
changelog in the Keep a Changelog form whose newest version is the package's, and `--version`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from helpers import mse_lint_command

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the oldest supported Pythons
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_licence_file_is_the_licence_the_metadata_names() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert PROJECT["license"] == {"text": "Apache-2.0"}
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_changelog_follows_keep_a_changelog_and_names_the_package_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert releases and releases[0][0] == "Unreleased"
    kinds = set(re.findall(r"^### (\w+)$", text, re.M))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    dated = [version for version, date in releases[1:] if date]
    # the newest released version is the package's version, or the package is not released yet
    assert not dated or dated[0] == PROJECT["version"]
    if not dated:
        assert PROJECT["version"] in text


def test_version_prints_the_package_version() -> None:
    proc = subprocess.run(
        [*mse_lint_command(), "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    assert proc.stdout == f"mse-lint {PROJECT['version']}\n"
