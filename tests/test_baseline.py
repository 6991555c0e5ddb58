"""Baseline: --write-baseline records today's findings, --baseline reports only new ones."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import mse_lint_command

from mse_lint.core.diagnostics import Diagnostic, Severity, Span
from mse_lint.pipeline import baseline as bl

APP = (
    "import os\n"
    "import subprocess\n"
    "\n"
    "\n"
    "def convert(path):\n"
    "    subprocess.run(['convert', path])\n"
    "    os.system('sync')\n"
)
SECRET = "ghp_EXAMPLEjEQRcFZGoiDJvmxrL40UFs1lJgRqg"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The baseline mechanism is under test, not the rules: only the process and secrets
    families run, so that findings of other families on the tiny project do not count."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run(
        [*mse_lint_command(), *args, "--select", "MSE1,MSE2"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def project(tmp_path: Path, app: str = APP) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()  # stops config discovery here
    (root / "mse.toml").write_text(
        'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n'
        '[cloud]\ncode = "src"\n'
    )
    (root / "src" / "app.py").write_text(app)
    return root


def findings(proc: subprocess.CompletedProcess[str]) -> list[tuple[str, int]]:
    return [(f["rule"], f["line"]) for f in json.loads(proc.stdout)]


def h(line: str) -> str:
    """The line hash, computed independently: SHA-256 of the line without whitespace."""
    return hashlib.sha256("".join(line.split()).encode()).hexdigest()[:16]


# -- writing ---------------------------------------------------------------------------------------
def test_write_baseline_exact_bytes_exit_0_and_count(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = run(".", "--write-baseline", ".mse-lint-baseline.json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "mse-lint: recorded 2 findings in .mse-lint-baseline.json" in proc.stderr
    text = (root / ".mse-lint-baseline.json").read_text()
    assert text == (
        "{\n"
        '  "tool": "mse-lint",\n'
        '  "version": 1,\n'
        '  "findings": [\n'
        '    {"rule": "MSE101", "path": "src/app.py", "line_hash": "'
        + h("subprocess.run(['convert', path])")
        + '", "occurrence": 0},\n'
        '    {"rule": "MSE103", "path": "src/app.py", "line_hash": "'
        + h("os.system('sync')")
        + '", "occurrence": 0}\n'
        "  ]\n"
        "}\n"
    )
    # deterministic: a second run gives the same bytes, and no temp file is left behind
    run(".", "--write-baseline", ".mse-lint-baseline.json", cwd=root)
    assert (root / ".mse-lint-baseline.json").read_text() == text
    assert sorted(p.name for p in root.iterdir()) == [
        ".git",
        ".mse-lint-baseline.json",
        "mse.toml",
        "src",
    ]


def test_write_baseline_with_no_findings(tmp_path: Path) -> None:
    root = project(tmp_path, "x = 1\n")
    proc = run(".", "--write-baseline", "b.json", cwd=root)
    assert proc.returncode == 0
    assert "recorded 0 findings in b.json" in proc.stderr
    assert json.loads((root / "b.json").read_text()) == {
        "tool": "mse-lint",
        "version": 1,
        "findings": [],
    }


def test_secrets_are_recorded_only_as_hashes(tmp_path: Path) -> None:
    root = project(tmp_path, f'GITHUB = "{SECRET}"\nDB_PASSWORD = "s3cr3t-Passw0rd!"\n')
    assert run(".", "--write-baseline", "b.json", cwd=root).returncode == 0
    text = (root / "b.json").read_text()
    rules = {e["rule"] for e in json.loads(text)["findings"]}
    assert {"MSE201", "MSE202"} <= rules
    for secret in (SECRET, "s3cr3t-Passw0rd!"):
        # not the value, nor any 6-character piece of it
        assert not any(secret[i : i + 6] in text for i in range(len(secret) - 5))


# -- reading ---------------------------------------------------------------------------------------
def test_baselined_findings_are_hidden_and_do_not_fail(tmp_path: Path) -> None:
    root = project(tmp_path)
    run(".", "--write-baseline", "b.json", cwd=root)
    proc = run(".", "--baseline", "b.json", cwd=root)
    assert proc.returncode == 0, proc.stdout
    assert "No problems found: 1 file checked" in proc.stdout
    assert "mse-lint: 2 findings recorded in the baseline b.json not shown" in proc.stderr
    quiet = run(".", "--baseline", "b.json", "-q", cwd=root)
    assert quiet.stderr == ""


def test_lines_added_above_do_not_resurrect_findings(tmp_path: Path) -> None:
    root = project(tmp_path)
    run(".", "--write-baseline", "b.json", cwd=root)
    app = root / "src" / "app.py"
    # new lines above, re-indentation and trailing blanks: same findings
    moved = APP.replace("    ", "        ").replace("path])", "path])   ")
    app.write_text('"""Image tools."""\n\n\n' + moved)
    proc = run(".", "--baseline", "b.json", "--format", "json", cwd=root)
    assert (proc.returncode, findings(proc)) == (0, [])


def test_new_findings_are_reported_and_fail(tmp_path: Path) -> None:
    root = project(tmp_path)
    run(".", "--write-baseline", "b.json", cwd=root)
    app = root / "src" / "app.py"
    # a second copy of a baselined line is new (occurrence 1), as is a changed line
    app.write_text(APP + "    os.system('sync')\n    os.system('reboot')\n")
    proc = run(".", "--baseline", "b.json", "--format", "json", cwd=root)
    assert proc.returncode == 1
    assert findings(proc) == [("MSE103", 8), ("MSE103", 9)]
    assert "2 findings recorded in the baseline b.json not shown" in proc.stderr


def test_duplicate_lines_match_by_occurrence_in_source_order(tmp_path: Path) -> None:
    root = project(tmp_path, "import os\nos.system('a')\nos.system('a')\n")
    run(".", "--write-baseline", "b.json", cwd=root)
    entries = json.loads((root / "b.json").read_text())["findings"]
    assert [e["occurrence"] for e in entries] == [0, 1]
    # one copy removed: nothing new; three copies: the third is new
    (root / "src" / "app.py").write_text("import os\nos.system('a')\n")
    assert findings(run(".", "--baseline", "b.json", "--format", "json", cwd=root)) == []
    (root / "src" / "app.py").write_text("import os\n" + "os.system('a')\n" * 3)
    proc = run(".", "--baseline", "b.json", "--format", "json", cwd=root)
    assert findings(proc) == [("MSE103", 4)]


def test_baseline_paths_are_relative_to_the_baseline_file(tmp_path: Path) -> None:
    root = project(tmp_path)
    run(".", "--write-baseline", "b.json", cwd=root)
    proc = run(".", "--baseline", "../b.json", "--format", "json", cwd=root / "src")
    assert (proc.returncode, findings(proc)) == (0, [])
    outside = run(str(root), "--baseline", str(root / "b.json"), "-q", cwd=tmp_path)
    assert outside.returncode == 0


def test_fail_on_counts_only_new_findings(tmp_path: Path) -> None:
    root = project(tmp_path)
    run(".", "--write-baseline", "b.json", cwd=root)
    # a new warning (MSE109) next to the baselined errors
    lib = "import ctypes.util\nLIBC = ctypes.CDLL(ctypes.util.find_library('c'))\n"
    (root / "src" / "app.py").write_text(APP + lib)
    every = run(".", "--baseline", "b.json", "--format", "json", cwd=root)
    assert (every.returncode, findings(every)) == (1, [("MSE109", 9)])
    errors_only = run(".", "--baseline", "b.json", "--fail-on", "error", cwd=root)
    assert errors_only.returncode == 0
    assert run(".", "--fail-on", "error", cwd=root).returncode == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "b.json: not a mse-lint baseline (invalid JSON"),
        ("[]", "b.json: not a mse-lint baseline (expected a JSON object"),
        ('{"tool": "ruff", "findings": []}', "not a mse-lint baseline"),
        (
            '{"tool": "mse-lint", "version": 9, "findings": []}',
            "baseline format version 9 is not supported",
        ),
        ('{"tool": "mse-lint", "version": 1, "findings": {}}', '"findings" must be a list'),
        (
            '{"tool": "mse-lint", "version": 1, "findings": [{"rule": "MSE101"}]}',
            "b.json: findings[0]: expected an object with exactly rule, path, line_hash",
        ),
        (
            '{"tool": "mse-lint", "version": 1, "findings": [{"rule": "X", "path": "a.py", '
            '"line_hash": "0123456789abcdef", "occurrence": 0}]}',
            "findings[0]: rule 'X' is not a rule ID",
        ),
        (
            '{"tool": "mse-lint", "version": 1, "findings": [{"rule": "MSE101", "path": "a.py", '
            '"line_hash": "0123456789abcdef", "occurrence": -1}]}',
            "occurrence must be a whole number >= 0",
        ),
    ],
)
def test_bad_baseline_is_exit_2_with_a_clear_message(
    tmp_path: Path, content: str, message: str
) -> None:
    root = project(tmp_path)
    (root / "b.json").write_text(content)
    proc = run(".", "--baseline", "b.json", cwd=root)
    assert proc.returncode == 2
    assert proc.stderr.startswith("mse-lint: error: ")
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_missing_undecodable_or_folder_baseline_is_exit_2(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "latin.json").write_bytes(b'{"tool": "\xe9"}')
    (root / "folder").mkdir()
    for name, message in (
        ("nope.json", "nope.json: baseline file not found (create it with --write-baseline"),
        ("latin.json", "latin.json: not a mse-lint baseline (not UTF-8 text)"),
        ("folder", "folder: is a folder, not a baseline file"),
    ):
        proc = run(".", "--baseline", name, cwd=root)
        assert (proc.returncode, message in proc.stderr) == (2, True), proc.stderr


def test_baseline_and_write_baseline_together_is_a_usage_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = run(".", "--baseline", "b.json", "--write-baseline", "b.json", cwd=root)
    assert proc.returncode == 2
    assert "--baseline and --write-baseline exclude each other" in proc.stderr


def test_unwritable_baseline_is_exit_2(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = run(".", "--write-baseline", "no/such/dir/b.json", cwd=root)
    assert proc.returncode == 2
    assert "no/such/dir/b.json: cannot write the baseline" in proc.stderr


# -- pure functions --------------------------------------------------------------------------------
def diag(path: str, line: int, rule: str = "MSE101", col: int = 1) -> Diagnostic:
    return Diagnostic(path, Span(line, col, line, col + 3), rule, Severity.ERROR, "m")


def test_entries_are_independent_of_input_order() -> None:
    lines = {1: "run(x)", 2: "other()", 3: "  run(x)", 4: "run(x)"}
    ds = [diag("a.py", 1), diag("a.py", 3), diag("a.py", 4), diag("a.py", 2), diag("b.py", 1)]

    def source(path: str, n: int) -> str:
        return lines[n]

    ref = dict(zip(ds, bl.entries(ds, source, lambda p: p)))
    assert [ref[d].occurrence for d in ds] == [0, 1, 2, 0, 0]
    for seed in range(5):
        shuffled = ds[:]
        random.Random(seed).shuffle(shuffled)
        assert dict(zip(shuffled, bl.entries(shuffled, source, lambda p: p))) == ref


def test_line_hash_ignores_indentation_and_blank_runs() -> None:
    assert bl.line_hash("  a  =\tb ") == bl.line_hash("a = b") != bl.line_hash("a = c")


def test_dumps_loads_round_trip_sorted_and_deduplicated() -> None:
    e1 = bl.Entry("MSE201", "z.py", "0" * 16, 0)
    e2 = bl.Entry("MSE101", "a.py", "f" * 16, 1)
    text = bl.dumps([e1, e2, e1])
    assert text.index("MSE101") < text.index("MSE201")
    assert text.count("MSE201") == 1
    assert bl.loads(text, "x") == frozenset({e1, e2})
    assert bl.dumps([e2, e1]) == text


def test_write_baseline_still_prints_notices(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.py").write_text("import os\nos.system('x')\n")
    proc = run(".", "--write-baseline", "b.json", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        "mse-lint: no mse.toml found in . or above: "
        "checking every Python file there as if it ships; "
        "the mse.toml and app checks (MSE401-MSE410, MSE412) are skipped",
        "mse-lint: recorded 1 finding in b.json",
    ]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_two_branches_rewriting_the_baseline_merge_cleanly(tmp_path: Path) -> None:
    """One branch fixes a finding in one file, another adds one in another file: git merges
    the two rewritten baselines without conflict into what a fresh run records."""
    root = project(tmp_path, "import os\nos.system('a')\nos.system('b')\n")
    for name in ("m", "z"):
        (root / "src" / f"{name}.py").write_text("import os\nos.system('a')\nos.system('b')\n")
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = t\n\temail = t@example.invalid\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1")
    shutil.rmtree(root / ".git")

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-c", "init.defaultBranch=main", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        )

    def commit_baseline(message: str) -> None:
        assert run(".", "--write-baseline", "b.json", cwd=root).returncode == 0
        git("add", "-A")
        assert git("commit", "-q", "-m", message).returncode == 0

    git("init", "-q")
    commit_baseline("base")
    git("checkout", "-q", "-b", "fix")
    (root / "src" / "app.py").write_text("import os\nos.system('b')\n")
    commit_baseline("fix one in app.py")
    git("checkout", "-q", "main")
    (root / "src" / "z.py").write_text(
        "import os\nos.system('a')\nos.system('b')\nos.system('c')\n"
    )
    commit_baseline("add one in z.py")
    merged = git("merge", "-q", "--no-edit", "fix")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    text = (root / "b.json").read_text()
    assert run(".", "--write-baseline", "b.json", cwd=root).returncode == 0
    assert (root / "b.json").read_text() == text
    assert len(json.loads(text)["findings"]) == 6
