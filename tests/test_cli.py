"""End to end: the installed console script, run as a user or CI would run it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import mse_lint_command

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "report-service"
SCAFFOLDS = ROOT / "tests" / "fixtures" / "projects"


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full_env.update(env or {})
    return subprocess.run(
        [*mse_lint_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
    )


# a complete mse.toml and the app it names (src/main.py): the tests add the files they need
TOML = (
    'name = "t"\npython_application = "main:app"\nhealthcheck_endpoint = "/health"\n'
    'tests_cmd = "pytest"\ntests_requirements = []\n\n[cloud]\ncode = "src"\ntests = "tests"\n'
    'docker = "ghcr.io/cosmian/mse-flask:20230810125234"\nproject = "default"\n'
    'hardware = "4g-eu-001"\n'
)
MAIN = (
    'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get("/health")\n'
    'def health():\n    return "ok"\n'
)


def project(tmp_path: Path, files: dict[str, str], toml: str | None = None) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "mse.toml").write_text(toml if toml is not None else TOML)
    (root / ".git").mkdir()  # stop config discovery here
    if toml is None:
        files = {"src/main.py": MAIN, **files}
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def expected_lines(folder: Path) -> set[tuple[str, int, str]]:
    """`# expect: MSE...` annotations. In `.mseignore` only whole-line comments exist (a comment
    after a pattern would be part of it), so there the annotation names the next line."""
    out = set()
    files = [*folder.rglob("*.py"), *folder.rglob("requirements.txt"), *folder.rglob(".mseignore")]
    for path in sorted(files):
        for i, line in enumerate(path.read_text().splitlines(), start=1):
            m = re.search(r"#\s*expect:\s*(MSE[0-9]+(?:[, ]+MSE[0-9]+)*)", line)
            if m:
                at = i + 1 if path.name == ".mseignore" else i
                for code in re.split(r"[,\s]+", m.group(1).strip()):
                    out.add((path.name, at, code))
    return out


# -- the acceptance points --------------------------------------------------------------------
def test_example_app_reports_findings_at_the_right_lines() -> None:
    proc = run(str(EXAMPLE), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    found = {(Path(f["path"]).name, f["line"], f["rule"]) for f in json.loads(proc.stdout)}
    shipped = EXAMPLE / "mse_src"
    assert found == expected_lines(shipped)
    rules = {r for _, _, r in found}
    assert {f"MSE10{i}" for i in range(1, 9)} <= rules
    assert {"MSE201", "MSE203", "MSE205", "MSE208"} <= rules
    assert {"MSE301", "MSE304", "MSE413"} <= rules


def test_example_host_tests_are_not_checked() -> None:
    proc = run(str(EXAMPLE), "--format", "json")
    assert all("tests/" not in f["path"] for f in json.loads(proc.stdout))


@pytest.mark.parametrize("name", ["scaffold_cloud", "scaffold_home"])
def test_scaffold_apps_are_clean(name: str) -> None:
    """The scaffolded app has no finding. The scaffold's own `.mseignore` has exactly three:
    `.vscode/`, `.idea/` and `*.egg-info/` never match anything in mse-cli (MSE501)."""
    proc = run(str(SCAFFOLDS / name), "--format", "json", cwd=ROOT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = [(f["path"], f["line"], f["rule"]) for f in json.loads(proc.stdout)]
    ignore = f"tests/fixtures/projects/{name}/mse_src/.mseignore"
    assert found == [(ignore, 9, "MSE501"), (ignore, 10, "MSE501"), (ignore, 11, "MSE501")]
    text = (SCAFFOLDS / name / "mse_src" / ".mseignore").read_text().splitlines()
    assert [text[n - 1] for _, n, _ in found] == [".vscode/", ".idea/", "*.egg-info/"]
    proc = run(str(SCAFFOLDS / name), "--ignore", "MSE501")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found: 1 file checked" in proc.stdout


def test_syntax_error_is_a_finding_and_other_files_are_still_checked(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "src/app.py": "import os\n\ndef f():\n    os.system('x')\n",
            "src/broken.py": "def f(:\n    pass\n",
        },
    )
    proc = run(str(root), "--format", "json")
    assert proc.returncode == 1
    found = {(Path(f["path"]).name, f["rule"], f["line"]) for f in json.loads(proc.stdout)}
    assert found == {("app.py", "MSE103", 4), ("broken.py", "MSE001", 1)}


def test_shadowing_alias_and_getattr(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "src/app.py": (
                "import os\n"
                "from os import system as s\n"
                "def a():\n"
                "    system = print\n"
                "    system('x')\n"
                "def b():\n"
                "    s('x')\n"
                "def c():\n"
                "    getattr(os, 'system')('x')\n"
            )
        },
    )
    proc = run(str(root), "--format", "json")
    found = {(f["rule"], f["line"]) for f in json.loads(proc.stdout)}
    assert found == {("MSE103", 7), ("MSE106", 9)}


# -- exit codes and errors --------------------------------------------------------------------
def test_missing_path_exits_2(tmp_path: Path) -> None:
    proc = run(str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_clean_project_exits_0(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": "import subprocess\nx = subprocess.PIPE\n"})
    proc = run(str(root))
    assert proc.returncode == 0
    assert "No problems found" in proc.stdout


def test_invalid_mse_toml_is_a_finding_and_the_run_goes_on(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"src/main.py": MAIN, "src/app.py": "import os\nos.fork()\n"},
        toml='name = "t"\npython_application = [\n  "main:app",\n\n[cloud]\ncode = "src"\n',
    )
    proc = run(str(root), cwd=root)
    assert proc.returncode == 1
    out = proc.stdout
    # tomllib's position: `[cloud]` opens an array inside the unclosed one, `cloud` is no value
    assert "mse.toml\n  5:2  error   MSE401 config-parse-error: mse.toml cannot be read" in out
    assert "    5 | [cloud]\n      |  ^\n" in out
    assert "2:1  error   MSE102" in out  # the Python files were still checked
    assert "mse.toml is not valid TOML" in proc.stderr  # the notice: no usable code dir
    assert "Traceback" not in proc.stderr
    manifest = run("manifest", str(root))
    assert manifest.returncode == 2 and "mse.toml is not valid TOML" in manifest.stderr


def test_code_dir_that_does_not_exist_is_mse407(tmp_path: Path) -> None:
    root = project(tmp_path, {}, toml=TOML.replace('code = "src"', 'code = "missing"'))
    proc = run(str(root), "--format", "json", cwd=root)
    assert proc.returncode == 1
    found = [(f["rule"], f["path"], f["line"], f["column"]) for f in json.loads(proc.stdout)]
    assert found == [("MSE407", "mse.toml", 8, 1)]
    assert "[cloud] code = 'missing'" in proc.stderr and "does not exist" in proc.stderr
    manifest = run("manifest", str(root))
    assert manifest.returncode == 2
    assert "[cloud] code = 'missing'" in manifest.stderr and "does not exist" in manifest.stderr


def test_mse_toml_findings_in_the_console(tmp_path: Path) -> None:
    toml = TOML.replace('tests_cmd = "pytest"', 'tests_cmd = "pytest -v"').replace(
        'healthcheck_endpoint = "/health"', 'heathcheck_endpoint = "/health"'
    )
    root = project(tmp_path, {"src/main.py": MAIN}, toml=toml)
    proc = run(str(root), cwd=root)
    assert proc.returncode == 1
    out = proc.stdout
    assert out.startswith("mse.toml\n")
    assert (
        "  3:1  warning MSE403 config-unknown-key: `heathcheck_endpoint` is not a key mse-cli "
        "reads: it is silently ignored; did you mean `healthcheck_endpoint`?\n"
        '    3 | heathcheck_endpoint = "/health"\n'
        "      | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    ) in out
    assert "4:1  error   MSE410 tests-cmd-has-arguments" in out
    assert "1:1  error   MSE402 config-schema: mse.toml lacks the required key" in out
    assert "Found 3 problems (2 errors, 1 warning) in 1 file; 1 file checked in" in out
    # an mse.toml finding is suppressed by a comment on its line, as in any file
    (root / "mse.toml").write_text(
        toml.replace('"pytest -v"', '"pytest -v"  # mse-lint: ignore[MSE410]')
    )
    proc = run(str(root), "--format", "json", cwd=root)
    assert sorted(f["rule"] for f in json.loads(proc.stdout)) == ["MSE402", "MSE403"]


def test_unknown_config_key_exits_2_with_file_and_line(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": ""})
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.mse-lint]\nselec = ["MSE1"]\n'
    )
    proc = run(str(root))
    assert proc.returncode == 2
    assert "pyproject.toml:5" in proc.stderr and "unknown key `selec`" in proc.stderr


def test_bad_config_value_exits_2(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": ""})
    (root / "mse-lint.toml").write_text('fail-on = "sometimes"\n')
    proc = run(str(root))
    assert proc.returncode == 2
    assert "mse-lint.toml:1" in proc.stderr and "fail-on" in proc.stderr


def test_bad_cli_values_exit_2(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": ""})
    for args in (
        ["--select", "XYZ"],
        ["--select", "MSE999"],
        ["--fail-on", "bad"],
        ["--format", "xml"],
        ["--severity", "MSE101"],
        ["--target-python", "2.7"],
    ):
        proc = run(str(root), *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr


# -- configuration and selection --------------------------------------------------------------
SUBPROCESS_AND_PLATFORM = (
    "import subprocess, platform\n"
    "def f():\n"
    "    subprocess.run(['ls'])\n"
    "    return platform.architecture()\n"
)


def _rules(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(f["rule"] for f in json.loads(proc.stdout))


def test_select_ignore_by_prefix(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": SUBPROCESS_AND_PLATFORM})
    assert _rules(run(str(root), "--format", "json")) == ["MSE101", "MSE109"]
    assert _rules(run(str(root), "--format", "json", "--select", "MSE101")) == ["MSE101"]
    assert _rules(run(str(root), "--format", "json", "--ignore", "MSE10")) == []
    assert _rules(run(str(root), "--format", "json", "--ignore", "MSE1", "--select", "MSE109")) == [
        "MSE109"
    ]


def test_fail_on_and_severity_override(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": "import platform\nplatform.architecture()\n"})
    assert run(str(root)).returncode == 1
    assert run(str(root), "--fail-on", "error").returncode == 0
    proc = run(str(root), "--fail-on", "error", "--severity", "MSE109=error", "--format", "json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)[0]["severity"] == "error"


def test_config_file_is_found_upward_and_cli_overrides_it(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": SUBPROCESS_AND_PLATFORM})
    (root / "pyproject.toml").write_text('[tool.mse-lint]\nignore = ["MSE109"]\n')
    assert _rules(run(str(root / "src"), "--format", "json")) == ["MSE101"]
    assert _rules(run(str(root), "--format", "json", "--ignore", "MSE101")) == ["MSE109"]
    assert _rules(run(str(root), "--format", "json", "--isolated")) == ["MSE101", "MSE109"]


# -- suppressions -----------------------------------------------------------------------------
def test_suppression_forms(tmp_path: Path) -> None:
    code = (
        "import os, subprocess\n"
        "def f():\n"
        "    os.system('a')  # mse-lint: ignore[MSE103] -- documented reason\n"
        "    # mse-lint: ignore[MSE103]\n"
        "    os.system('b')\n"
        "    subprocess.run(  # mse-lint: ignore[MSE1]\n"
        "        ['x'],\n"
        "        check=subprocess.run,\n"
        "    )\n"
        "    os.system('c')  # noqa: MSE103\n"
        "    os.system('d')  # mse-lint: ignore[MSE101]\n"
        "    os.system('e')  # mse-lint: ignore\n"
        "    os.system('f')  # noqa\n"
    )
    root = project(tmp_path, {"src/app.py": code})
    proc = run(str(root), "--format", "json")
    assert sorted(f["line"] for f in json.loads(proc.stdout)) == [11, 12, 13]
    assert "bare `# mse-lint: ignore` refused" in proc.stderr
    assert "app.py:12" in proc.stderr


def test_file_level_suppression_and_unused_suppression(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "src/a.py": "# mse-lint: ignore-file[MSE1]\nimport os\nos.system('x')\n",
            "src/b.py": "import json\njson.dumps({})  # mse-lint: ignore[MSE101]\n",
        },
    )
    assert run(str(root)).returncode == 0
    proc = run(str(root), "--format", "json", "--extend-select", "MSE003")
    found = [(Path(f["path"]).name, f["rule"], f["line"]) for f in json.loads(proc.stdout)]
    assert found == [("b.py", "MSE003", 2)]


# -- which files are checked ------------------------------------------------------------------
def test_named_files_are_checked_only_if_they_ship(tmp_path: Path) -> None:
    bad = "import os\nos.system('x')\n"
    root = project(
        tmp_path,
        {
            "src/app.py": bad,
            "src/scratch.py": bad,
            "src/.hidden/tool.py": bad,
            "tests/test_x.py": bad,
            "src/.mseignore": "scratch.py\n",
        },
    )
    files = ["src/app.py", "src/scratch.py", "src/.hidden/tool.py", "tests/test_x.py"]
    proc = run(*files, "--format", "json", cwd=root)
    assert [f["path"] for f in json.loads(proc.stdout)] == ["src/app.py"]
    assert "3 named files not checked: not shipped to the enclave" in proc.stderr


def test_no_mse_toml_lints_given_paths_and_says_so_once(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.py").write_text("import os\nos.fork()\n")
    (tmp_path / "b.py").write_text("import os\nos.fork()\n")
    proc = run("a", "b.py", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1
    assert len(json.loads(proc.stdout)) == 2
    assert proc.stderr.count("no mse.toml found") == 1
    assert proc.stderr.count("mse.toml and app checks (MSE401-MSE410, MSE412) are skipped") == 1


def test_folder_outside_code_dir_is_checked_with_a_notice(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": "", "tools/deploy.py": "import os\nos.fork()\n"})
    proc = run(str(root / "tools"), "--format", "json")
    assert proc.returncode == 1
    assert "outside the code dir" in proc.stderr


# -- output -----------------------------------------------------------------------------------
def test_console_output_is_plain_with_source_and_marker(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": "import subprocess as sp\nsp.run(['ls'])\n"})
    proc = run(str(root), cwd=root)
    out = proc.stdout
    assert "\x1b[" not in out
    assert "src/app.py\n" in out
    assert "2:1  error   MSE101 subprocess-call: `subprocess.run` starts a child process" in out
    assert "    2 | sp.run(['ls'])\n      | ^^^^^^\n" in out
    assert "fix: " in out
    assert "Found 1 problem (1 error) in 1 file; 2 files checked in" in out
    assert "MSE101 subprocess-call" in out.split("Found", 1)[1]


def test_color_can_be_forced_and_no_color_wins(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": "import os\nos.fork()\n"})
    assert "\x1b[" in run(str(root), "--color").stdout
    assert "\x1b[" not in run(str(root), env={"NO_COLOR": "1"}).stdout


def test_quiet_prints_findings_only(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": "import os\nos.fork()\n", "src/x.py": ""})
    proc = run(str(root), "--quiet")
    assert "MSE102" in proc.stdout and "Found" not in proc.stdout
    clean = run(str(root / "src" / "x.py"), "--quiet")
    assert clean.returncode == 0 and clean.stdout == ""


def test_json_output_shape_and_output_file(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": "import os\n\nos.fork()\n"})
    out = tmp_path / "report.json"
    proc = run(str(root), "--format", "json", "--output", str(out))
    assert proc.returncode == 1 and proc.stdout == ""
    (item,) = json.loads(out.read_text())
    assert item == {
        "rule": "MSE102",
        "name": "os-process-call",
        "severity": "error",
        "path": item["path"],
        "line": 3,
        "column": 1,
        "end_line": 3,
        "end_column": 8,
        "message": item["message"],
        "fix": item["fix"],
    }
    assert item["path"].endswith("src/app.py")


def test_rules_and_explain() -> None:
    proc = run("rules")
    assert proc.returncode == 0
    for i in range(1, 10):
        assert f"MSE10{i}" in proc.stdout
    assert re.search(r"MSE003\s+unused-suppression\s+warning \(off\)", proc.stdout)
    explained = run("explain", "MSE101")
    assert explained.returncode == 0
    assert "# MSE101 subprocess-call" in explained.stdout
    assert "## Flagged" in explained.stdout and "## Not flagged" in explained.stdout
    assert run("explain", "os-system").returncode == 0
    missing = run("explain", "MSE999")
    assert missing.returncode == 2 and "no rule" in missing.stderr


def test_python_dash_m_and_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mse_lint", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith("mse-lint ")
    assert run("--help").returncode == 0


def test_naming_mse_toml_checks_it(tmp_path: Path) -> None:
    """pre-commit passes a changed mse.toml: its own findings, and only those."""
    toml = TOML.replace('tests_cmd = "pytest"', 'tests_cmd = "pytest -v"')
    root = project(tmp_path, {"src/main.py": MAIN, "src/app.py": "import os\nos.fork()\n"}, toml)
    proc = run("mse.toml", "--format", "json", cwd=root)
    assert proc.returncode == 1, proc.stderr
    found = [(f["rule"], f["path"], f["line"]) for f in json.loads(proc.stdout)]
    assert found == [("MSE410", "mse.toml", 4)]
    assert "not checked" not in proc.stderr
