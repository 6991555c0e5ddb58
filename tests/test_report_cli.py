"""The report options end to end: every format to a file or stdout, lazy reporter imports,
rule links on a terminal only, and the progress bar (terminal, console format, long runs only)."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

from helpers import mse_lint_command
from report_helpers import DOCS, FIXTURE, fixture_report

from mse_lint.core.catalog import Catalog
from mse_lint.core.links import REPOSITORY_URL, docs_base, rule_url
from mse_lint.report import console
from mse_lint.report.progress import ProgressBar

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = FIXTURE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "MSE_LINT_DOCS_URL")}
    return subprocess.run(
        [*mse_lint_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def test_every_format_to_a_file(tmp_path: Path) -> None:
    for fmt in ("json", "sarif", "github", "gitlab", "junit", "console"):
        out = tmp_path / f"report.{fmt}"
        proc = run(".", "--format", fmt, "--output", str(out), "-q")
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout == ""
        text = out.read_text(encoding="utf-8")
        if fmt in ("json", "sarif", "gitlab"):
            json.loads(text)
        elif fmt == "junit":
            ET.fromstring(text.encode("utf-8"))
        elif fmt == "github":
            assert all(
                line.startswith(("::error ", "::notice ", "::warning "))
                for line in text.splitlines()
            )
        else:
            assert "\x1b" not in text and "app.py" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(  # no temporary file left
        f"report.{f}" for f in ("json", "sarif", "github", "gitlab", "junit", "console")
    )


def test_dash_is_stdout(tmp_path: Path) -> None:
    out = tmp_path / "r.sarif"
    run(".", "--format", "sarif", "--output", str(out))
    assert run(".", "--format", "sarif", "--output", "-").stdout == out.read_text(encoding="utf-8")


def test_unknown_format_lists_the_choices() -> None:
    proc = run(".", "--format", "xml")
    assert proc.returncode == 2
    assert "choose console, json, sarif, github, gitlab, junit" in proc.stderr
    proc = run(".", "--format", "sarif", "--sarif-root", "no/such/dir")
    assert proc.returncode == 2
    assert "--sarif-root no/such/dir: no such folder" in proc.stderr


def test_only_the_reporter_in_use_is_imported(tmp_path: Path) -> None:
    # one interpreter, one run per format: each run may add only its own reporter module
    script = (
        "import sys, json\n"
        "from mse_lint.cli import app as cli\n"
        "seen = {}\n"
        "for fmt in sys.argv[2:]:\n"
        "    before = set(sys.modules)\n"
        "    try:\n"
        "        cli.app(['check', '.', '--format', fmt, '-q', '-o', sys.argv[1]],"
        " standalone_mode=False)\n"
        "    except BaseException:\n"
        "        pass\n"
        "    seen[fmt] = sorted(set(sys.modules) - before)\n"
        "print(json.dumps(seen))\n"
    )
    formats = ["json", "github", "gitlab", "sarif", "junit", "console"]
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "o"), *formats],
        cwd=FIXTURE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    seen = json.loads(proc.stdout.splitlines()[-1])
    for fmt in formats:
        new = set(seen[fmt])
        reporters = {m for m in new if m.startswith("mse_lint.report.")}
        assert reporters - {"mse_lint.report.source", "mse_lint.report.rule_docs"} == {
            f"mse_lint.report.{fmt}"
        }, fmt
        assert "rich.progress" not in new
        assert ("xml.etree.ElementTree" in new) == (fmt == "junit")
    assert "rich.console" not in {m for f in formats[:-1] for m in seen[f]}


# -- links ------------------------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rule_ids_link_to_their_page_on_a_terminal_only(catalog: Catalog) -> None:
    report = fixture_report(catalog)
    cwd = os.getcwd()
    os.chdir(FIXTURE)
    try:
        tty = _Terminal()
        console.render(report, tty, quiet=False, color=True, docs=DOCS)
        piped = io.StringIO()
        console.render(report, piped, quiet=False, color=True, docs=DOCS)
        plain = io.StringIO()
        console.render(report, plain, quiet=False, color=False, docs=DOCS)
    finally:
        os.chdir(cwd)
    # OSC 8: ESC ] 8 ; params ; URL ST, the ID, then ESC ] 8 ; ; ST to close the link
    shown = re.sub(r"\x1b\[[0-9;]*m", "", tty.getvalue())
    assert re.search(rf"\x1b\]8;[^;]*;{re.escape(DOCS)}/MSE101\.md\x1b\\MSE101\x1b\]8;;", shown)
    assert f";{DOCS}/MSE206.md\x1b\\MSE206" in shown
    assert "\x1b]8" not in piped.getvalue() and "\x1b[" in piped.getvalue()
    assert "\x1b" not in plain.getvalue()


def test_cli_never_links_when_piped() -> None:
    proc = run(".", "--color")
    assert "\x1b[" in proc.stdout and "\x1b]8" not in proc.stdout


def test_docs_urls() -> None:
    assert rule_url("https://x.example/rules/", "MSE101") == "https://x.example/rules/MSE101.md"
    assert docs_base({"MSE_LINT_DOCS_URL": "https://x.example/r/"}) == "https://x.example/r"
    base = docs_base({})
    assert base.startswith(f"{REPOSITORY_URL}/blob/v") and base.endswith("/docs/rules")
    # the page the default URL names exists in the repository
    assert (ROOT / "docs" / "rules" / "MSE101.md").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'Repository = "{REPOSITORY_URL}"' in pyproject


# -- progress ---------------------------------------------------------------------------------
def test_progress_bar_starts_only_for_long_runs() -> None:
    short = ProgressBar(_Terminal(), min_files=10)
    short(0, 9)
    short(9, 9)
    assert not short.shown
    stream = _Terminal()
    bar = ProgressBar(stream, min_files=10)
    bar(0, 10)
    assert bar.shown
    for i in range(1, 11):
        bar(i, 10)
    bar.close()
    assert "10/10" in stream.getvalue() or "checking" in stream.getvalue()


def _many_files(tmp_path: Path, n: int) -> Path:
    """The clean scaffold app plus ``n`` more modules in its code dir."""
    root = tmp_path / "big"
    shutil.copytree(FIXTURE.parent / "scaffold_cloud", root)
    (root / ".git").mkdir()
    for i in range(n):
        (root / "mse_src" / f"m{i:03}.py").write_text(f"X{i} = {i}\n")
    return root


def _run_with_tty_stderr(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """stderr on a pseudo-terminal (as in an interactive shell), stdout piped."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    proc = subprocess.run(
        [*mse_lint_command(), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=slave,
        timeout=120,
        env=env,
    )
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, proc.stdout.decode(), b"".join(chunks).decode("utf-8", "replace")


def test_progress_shown_on_a_terminal_for_many_files_and_never_otherwise(tmp_path: Path) -> None:
    root = _many_files(tmp_path, 320)
    # the scaffold's own .mseignore has three lines that never match (MSE501): not the point here
    rc, out, err = _run_with_tty_stderr([".", "--ignore", "MSE501"], root)
    assert rc == 0, err
    assert "checking" in err and "321" in err
    assert "No problems found: 321 files checked" in out
    # stderr not a terminal: no bar (nor in machine formats: see _check in cli.py)
    piped = run(".", "--ignore", "MSE501", cwd=root)
    assert piped.returncode == 0 and "checking" not in piped.stderr
