"""action.yml: its structure, and its scripts run by bash the way a GitHub runner runs them."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import mse_lint_command

ROOT = Path(__file__).resolve().parent.parent
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# what a runner defines for every step of a composite action
RUNNER_VARIABLES = {"RUNNER_TEMP", "GITHUB_ACTION_PATH", "GITHUB_OUTPUT"}


def _step(step_id: str) -> dict[str, Any]:
    return next(s for s in STEPS if s.get("id") == step_id)


# -- structure ---------------------------------------------------------------------------------
def test_metadata_and_inputs() -> None:
    assert ACTION["name"] == "mse-lint"
    assert ACTION["description"]
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {"path", "args", "sarif-file", "version"}
    for name, spec in ACTION["inputs"].items():
        assert spec["description"], name
        assert spec["required"] is False, name
        assert isinstance(spec["default"], str), name
    assert ACTION["inputs"]["path"]["default"] == "."
    assert ACTION["inputs"]["version"]["default"] == ""


def test_no_expression_inside_any_script() -> None:
    scripts = [s for s in STEPS if "run" in s]
    assert len(scripts) == len(STEPS) == 2
    for step in scripts:
        assert step["shell"] == "bash", step["name"]
        assert "${{" not in step["run"], step["name"]


def test_every_input_reaches_the_scripts_through_env_only() -> None:
    used = set()
    for step in STEPS:
        for value in step.get("env", {}).values():
            for expr in EXPRESSION.findall(str(value)):
                if expr.startswith("inputs."):
                    used.add(expr.removeprefix("inputs."))
        # nothing but env may carry an expression into a step
        others = {k: v for k, v in step.items() if k not in ("env", "run")}
        assert not EXPRESSION.search(str(others)), step["name"]
    assert used == set(ACTION["inputs"])


def test_scripts_use_only_variables_they_are_given() -> None:
    for step in STEPS:
        given = set(step.get("env", {})) | RUNNER_VARIABLES
        used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", step["run"]))
        assert used <= given, (step["name"], used - given)


def test_outputs_come_from_existing_steps() -> None:
    ids = {s.get("id") for s in STEPS}
    for name, spec in ACTION["outputs"].items():
        (expr,) = EXPRESSION.findall(spec["value"])
        m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        assert m and m.group(1) in ids, name
        assert f"{m.group(2)}=" in _step(m.group(1))["run"], name


# -- the scripts, run as a runner runs them ------------------------------------------------------
def _evaluate(value: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("inputs."):
            return inputs.get(expr[7:], ACTION["inputs"][expr[7:]]["default"])
        step, _, output = expr.removeprefix("steps.").partition(".outputs.")
        return steps[step][output]

    return EXPRESSION.sub(one, value)


def _outputs(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines)


def _run_step(
    step_id: str,
    tmp_path: Path,
    inputs: dict[str, str],
    steps: dict[str, dict[str, str]] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    step = _step(step_id)
    out = tmp_path / f"{step_id}-output"
    out.unlink(missing_ok=True)
    full = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full.update(env or {})
    full.update(RUNNER_TEMP=str(tmp_path), GITHUB_ACTION_PATH=str(ROOT), GITHUB_OUTPUT=str(out))
    for key, value in step.get("env", {}).items():
        full[key] = _evaluate(str(value), inputs, steps or {})
    script = tmp_path / f"{step_id}.sh"
    script.write_text(step["run"])
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, _outputs(out)


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_lint(tmp_path: Path) -> Path:
    """Records each call's arguments, one per line, and exits with $FAKE_RC."""
    return _executable(
        tmp_path / "fake-mse-lint",
        '#!/bin/bash\n{ printf "%s\\n" "$@"; echo ---; } >> "$FAKE_LOG"\nexit "${FAKE_RC:-0}"\n',
    )


def _calls(log: Path) -> list[list[str]]:
    return [c.strip("\n").split("\n") for c in log.read_text().split("---\n") if c.strip()]


def test_run_step_splits_args_without_shell_evaluation(tmp_path: Path, fake_lint: Path) -> None:
    log = tmp_path / "log"
    inputs = {
        "path": "my app",
        "args": "--fail-on  error --ignore MSE1* $(touch pwned) `touch pwned2`",
        "sarif-file": "out dir/mse.sarif",
    }
    proc, outputs = _run_step(
        "run",
        tmp_path,
        inputs,
        {"install": {"exe": str(fake_lint)}},
        {"FAKE_LOG": str(log), "FAKE_RC": "1"},
    )
    assert proc.returncode == 1, proc.stderr
    user = ["--fail-on", "error", "--ignore", "MSE1*", "$(touch", "pwned)", "`touch", "pwned2`"]
    assert _calls(log) == [
        ["check", *user, "--format", "sarif", "--output", "out dir/mse.sarif", "--", "my app"],
        ["check", *user, "--", "my app"],
    ]
    assert not list(tmp_path.glob("pwned*"))
    assert outputs == {"sarif-file": "out dir/mse.sarif", "exit-code": "1"}


def test_run_step_without_sarif_or_args(tmp_path: Path, fake_lint: Path) -> None:
    log = tmp_path / "log"
    proc, outputs = _run_step(
        "run",
        tmp_path,
        {"sarif-file": ""},
        {"install": {"exe": str(fake_lint)}},
        {"FAKE_LOG": str(log)},
    )
    assert proc.returncode == 0, proc.stderr
    assert _calls(log) == [["check", "--", "."]]
    assert outputs == {"sarif-file": "", "exit-code": "0"}


def test_run_step_stops_when_the_sarif_run_errors(tmp_path: Path, fake_lint: Path) -> None:
    log = tmp_path / "log"
    proc, outputs = _run_step(
        "run",
        tmp_path,
        {},
        {"install": {"exe": str(fake_lint)}},
        {"FAKE_LOG": str(log), "FAKE_RC": "2"},
    )
    assert proc.returncode == 2
    assert len(_calls(log)) == 1
    assert outputs == {"exit-code": "2"}


@pytest.mark.parametrize(
    ("project", "code"),
    [("examples/report-service", 1), ("tests/fixtures/projects/scaffold_cloud", 0)],
)
def test_run_step_with_the_real_mse_lint(tmp_path: Path, project: str, code: int) -> None:
    exe = mse_lint_command()
    if len(exe) != 1:
        pytest.fail("the action needs the mse-lint console script")
    proc, outputs = _run_step(
        "run",
        tmp_path,
        # the scaffold's three never-matching .mseignore lines (MSE501) are by design
        {"path": str(ROOT / project), "sarif-file": "", "args": "--no-color --ignore MSE501"},
        {"install": {"exe": exe[0]}},
    )
    assert (proc.returncode, outputs["exit-code"]) == (code, str(code)), proc.stderr
    if code:
        assert "MSE101 subprocess-call" in proc.stdout
    else:
        assert "No problems found" in proc.stdout


@pytest.fixture
def fake_python(tmp_path: Path) -> dict[str, str]:
    """A ``python3`` on PATH whose venvs get a ``python`` that records pip's arguments."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    inner = '#!/bin/bash\nprintf "%s\\n" "$@" > "$FAKE_LOG"\n'
    _executable(
        bin_dir / "python3",
        '#!/bin/bash\n[ "$1 $2" = "-m venv" ] || exit 9\nmkdir -p "$3/bin"\n'
        f'cat > "$3/bin/python" <<\'EOF\'\n{inner}EOF\nchmod +x "$3/bin/python"\n',
    )
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_LOG": str(tmp_path / "pip-args"),
    }


@pytest.mark.parametrize(
    ("version", "spec"), [("", str(ROOT)), ("local", str(ROOT)), ("0.1.0", "mse-lint==0.1.0")]
)
def test_install_step(tmp_path: Path, fake_python: dict[str, str], version: str, spec: str) -> None:
    proc, outputs = _run_step("install", tmp_path, {"version": version}, env=fake_python)
    assert proc.returncode == 0, proc.stderr
    pip = (tmp_path / "pip-args").read_text().splitlines()
    assert pip == ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec]
    assert outputs == {"exe": f"{tmp_path}/mse-lint-venv/bin/mse-lint"}


@pytest.mark.parametrize("version", ["1.0; touch pwned", "--index-url=http://x", "latest"])
def test_install_step_refuses_what_is_not_a_version(
    tmp_path: Path, fake_python: dict[str, str], version: str
) -> None:
    proc, outputs = _run_step("install", tmp_path, {"version": version}, env=fake_python)
    assert proc.returncode == 2
    assert "::error title=mse-lint::the version input must be a version number" in proc.stdout
    assert not (tmp_path / "pip-args").exists()
    assert not list(tmp_path.glob("pwned*"))
    assert outputs == {}


def test_bash_is_available() -> None:
    assert shutil.which("bash"), "the action's scripts are bash"


# -- the documented workflow ------------------------------------------------------------------
def test_documented_workflow_uploads_sarif_with_the_action_inputs() -> None:
    page = (ROOT / "docs" / "integrations.md").read_text()
    blocks = re.findall(r"^```yaml\n(.*?)^```", page, re.S | re.M)
    (workflow,) = [yaml.safe_load(b) for b in blocks if "upload-sarif" in b]
    assert workflow["permissions"]["security-events"] == "write"
    (job,) = workflow["jobs"].values()
    lint = next(s for s in job["steps"] if "mse-lint@" in s.get("uses", ""))
    upload = next(s for s in job["steps"] if "upload-sarif" in s.get("uses", ""))
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert set(lint["with"]) <= set(ACTION["inputs"])
    assert upload["if"].startswith("always()")
    assert upload["with"]["sarif_file"] == lint["with"]["sarif-file"]
    assert job["steps"].index(lint) < job["steps"].index(upload)
