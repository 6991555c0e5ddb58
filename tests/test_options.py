"""The option definitions (mse_lint.cli.options) against what is built from them: the settings
keys they stand for, the README's option table, and the registry of output formats that
``--format`` offers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mse_lint.cli import options as cli_options
from mse_lint.cli.command import effective_settings
from mse_lint.cli.options import FILE_ONLY_KEYS, OPTIONS, CheckOptions, check_options, option
from mse_lint.core.record import replace
from mse_lint.core.settings import KEYS, Settings
from mse_lint.report import FORMATS

ROOT = Path(__file__).resolve().parent.parent

# For every option tied to a settings key: its value on the command line, and the same setting
# written in mse-lint.toml. Both must give the same settings, and not the defaults.
SAME_SETTING: dict[str, tuple[dict[str, Any], str]] = {
    "select": ({"select": ["MSE1, MSE201"]}, 'select = ["MSE1", "MSE201"]'),
    "extend-select": ({"extend_select": ["MSE003"]}, 'extend-select = ["MSE003"]'),
    "ignore": ({"ignore": ["MSE109", "MSE2"]}, 'ignore = "MSE109,MSE2"'),
    "severity": ({"severity": ["mse109=error"]}, 'severity = { MSE109 = "error" }'),
    "fail-on": ({"fail_on": "warning"}, 'fail-on = "warning"'),
    "target-python": ({"target_python": "3.8"}, 'target-python = "3.8"'),
    "jobs": ({"jobs": 3}, "jobs = 3"),
    "cache": ({"no_cache": True}, "cache = false"),
}


def test_every_settings_key_is_an_option_or_file_only() -> None:
    """A key that settings read is either set by exactly one option or listed as file-only; an
    option's key is one settings read."""
    keyed = [opt.key for opt in OPTIONS.values() if opt.key]
    assert len(keyed) == len(set(keyed))
    assert set(keyed) | FILE_ONLY_KEYS == KEYS
    assert not set(keyed) & FILE_ONLY_KEYS


def test_the_samples_cover_every_keyed_option() -> None:
    assert set(SAME_SETTING) == {opt.key for opt in OPTIONS.values() if opt.key}


@pytest.mark.parametrize("key", sorted(SAME_SETTING))
def test_an_option_and_its_settings_key_are_the_same_setting(key: str, tmp_path: Path) -> None:
    given, toml = SAME_SETTING[key]
    (tmp_path / "mse-lint.toml").write_text(toml + "\n")
    from_file = effective_settings(check_options({"paths": [tmp_path]}))
    from_cli = effective_settings(check_options({"paths": [tmp_path], "isolated": True, **given}))
    assert replace(from_file, source=None) == from_cli
    assert from_cli != Settings()


def test_the_command_line_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "mse-lint.toml").write_text('fail-on = "error"\nseverity = { MSE101 = "info" }\n')
    settings = effective_settings(
        check_options({"paths": [tmp_path], "fail_on": "warning", "severity": ["MSE102=info"]})
    )
    assert settings.fail_on.label == "warning"
    assert set(settings.severity) == {"MSE101", "MSE102"}  # --severity adds to the file's table


def test_the_record_holds_the_paths_and_one_field_per_option() -> None:
    assert CheckOptions._fields == ("paths", *OPTIONS)
    assert all(opt.dest == name for name, opt in OPTIONS.items())
    assert CheckOptions().paths == (Path("."),)
    assert check_options({"paths": None, "select": ["MSE1"]}).select == ("MSE1",)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        option("--x", kind="list", help="x")


def test_the_readme_table_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert cli_options.readme_with_table(readme) == readme, (
        "README.md's option table is stale: run `python -m mse_lint.cli.options`"
    )
    for opt in OPTIONS.values():
        assert f"| `{opt.flags[0]}" in readme, opt.flags[0]


def test_every_format_has_a_section_in_the_docs() -> None:
    page = (ROOT / "docs" / "output.md").read_text(encoding="utf-8")
    sections = [line[3:].strip() for line in page.splitlines() if line.startswith("## ")]
    assert sections == list(FORMATS)


# A format registered in the table at start-up, before the command line is built: --format
# offers it (help and choices) and the check reaches its module, through typer and through the
# fast path alike.
_REGISTER = """
import sys
from mse_lint import report
report.FORMATS["tally"] = report.Format("tally", "tally_format")
from mse_lint.cli.{module} import main
sys.argv[0] = "mse-lint"
main()
"""

_TALLY = """
def render(report):
    return f"tally: {len(report.diagnostics)} findings, {report.files_checked} files\\n"
"""


@pytest.mark.parametrize("module", ["app", "fastpath"])
def test_a_registered_format_is_offered_and_reaches_its_module(tmp_path: Path, module: str) -> None:
    (tmp_path / "tally_format.py").write_text(_TALLY)
    (tmp_path / "app.py").write_text("import os\nos.fork()\n")
    code = _REGISTER.format(module=module)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )

    shown = run("check", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "gitlab, junit or tally." in " ".join(shown.stdout.split())
    checked = run("app.py", "--isolated", "--format", "tally")
    assert (checked.returncode, checked.stdout) == (1, "tally: 1 findings, 1 files\n"), checked
    refused = run("app.py", "--isolated", "--format", "tallies")
    assert refused.returncode == 2
    assert "choose console, json, sarif, github, gitlab, junit, tally" in refused.stderr
