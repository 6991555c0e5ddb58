"""Output that is not ours (issue 14): user text (messages, paths, source lines) reaches no
terminal or CI log as control sequences or as a line of its own; file names that are not
UTF-8, a stream that cannot encode a character and a reader that goes away end nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import complete_mse_toml, mse_lint_command

TEXT_FORMATS = ("console", "github", "junit")


def project(root: Path, files: dict[bytes, bytes]) -> Path:
    (root / "mse_src" / "tests").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "mse.toml").write_text(complete_mse_toml())
    (root / "mse_src" / "app.py").write_text("app = None\n")
    for rel, data in files.items():
        with open(os.path.join(os.fsencode(root), rel), "wb") as fh:
            fh.write(data)
    return root


def run(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*mse_lint_command(), *args],
        cwd=root,
        capture_output=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_visible_escapes_what_a_terminal_or_a_log_would_act_on() -> None:
    from mse_lint.core.redact import line_safe, visible

    assert visible("plain `text` \\ é") == "plain `text` \\ é"
    assert visible("a\x1b[2Jb\x07\n::error::x") == "a\\x1b[2Jb\\x07\\n::error::x"
    assert visible("\x9b31m \u202etxt.exe \udcff") == "\\x9b31m \\u202etxt.exe \\xff"
    assert line_safe("::error::x.py") == "./::error::x.py"
    assert line_safe("##vso[task]x.py") == "./##vso[task]x.py"
    assert line_safe("src/app.py") == "src/app.py"


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_escape_sequences_from_code_and_file_names_are_shown_not_sent(
    tmp_path: Path, fmt: str
) -> None:
    """A string literal quoted by a message (MSE413) and a file name holding ESC and OSC 8
    sequences: every text format shows them as escapes."""
    root = project(
        tmp_path / "p",
        {
            b"mse_src/env.py": b'import os\nX = os.getenv("A\x1b]8;;http://evil\x07B", "x")\n',
            b"mse_src/red\x1b[31m.py": b'import os\nos.system("ls")\n',
        },
    )
    proc = run(root, ".", "--no-cache", "--format", fmt)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout + proc.stderr
    assert b"\x1b" not in out and b"\x07" not in out
    assert b"A\\x1b]8;;http://evil\\x07B" in out  # the message's quote of the call
    assert b"red\\x1b[31m.py" in out  # the path


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_user_text_never_starts_a_line(tmp_path: Path, fmt: str) -> None:
    """A file name with a line break then `::error::`, and one starting with `::warning`:
    GitHub's runner would run either line as a workflow command from the log."""
    root = project(
        tmp_path / "p",
        {
            b"mse_src/x\n::error::injected.py": b'import os\nos.system("ls")\n',
            b"mse_src/::warning file=app.py::planted.py": b'import os\nos.system("ls")\n',
        },
    )
    proc = run(root / "mse_src", ".", "--no-cache", "--format", fmt)  # paths start with them
    assert proc.returncode == 1, proc.stderr
    lines = (proc.stdout + proc.stderr).decode().splitlines()
    assert any("injected" in line for line in lines) and any("planted" in line for line in lines)
    for line in lines:
        if fmt == "github":  # our own commands, with the user text inside escaped
            assert line.startswith(("::error file=", "::warning file=", "::notice file=")), line
            assert "::error::injected" not in line and "::warning file%3Dapp" not in line
        else:
            assert not line.lstrip().startswith("::"), line
    if fmt == "console":
        assert "./::warning file=app.py::planted.py" in lines
        assert "x\\n::error::injected.py" in lines


def test_the_manifest_shows_names_that_are_not_ours(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {b"mse_src/::error::x\x1b[2J.py": b"", b"mse_src/\xff.txt": b""},
    )
    proc = run(root, "manifest", ".")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert "\x1b" not in text
    assert not any(line.startswith("::") for line in text.splitlines())
    assert "./::error::x\\x1b[2J.py" in text and "\\xff.txt" in text


# -- file names that are not UTF-8 --------------------------------------------------------------


@pytest.fixture
def undecodable(tmp_path: Path) -> Path:
    return project(tmp_path / "p", {b"mse_src/\xff.py": b'import os\nos.system("ls")\n'})


@pytest.mark.parametrize("fmt", ["sarif", "gitlab", "json", "junit", "github", "console"])
def test_a_file_name_that_is_not_utf8_is_rendered_in_every_format(
    undecodable: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"report.{fmt}"
    proc = run(undecodable, ".", "--no-cache", "--format", fmt, "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    text = out.read_text(encoding="utf-8")
    if fmt in ("sarif", "gitlab", "json"):
        doc = json.loads(text)
        if fmt == "sarif":
            uris = [
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in doc["runs"][0]["results"]
            ]
            assert "mse_src/%FF.py" in uris  # a URI names the byte
        elif fmt == "gitlab":
            assert "mse_src/\\xff.py" in [i["location"]["path"] for i in doc]
        else:
            assert "mse_src/\\xff.py" in [i["path"] for i in doc]
    else:
        assert "mse_src/\\xff.py" in text


def test_a_baseline_records_and_matches_a_file_name_that_is_not_utf8(
    undecodable: Path, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    wrote = run(undecodable, ".", "--no-cache", "--write-baseline", str(baseline))
    assert wrote.returncode == 0, wrote.stderr
    paths = [e["path"] for e in json.loads(baseline.read_text(encoding="utf-8"))["findings"]]
    assert "p/mse_src/\\xff.py" in paths
    again = run(undecodable, ".", "--no-cache", "--baseline", str(baseline))
    assert again.returncode == 0, again.stdout + again.stderr
    assert b"No problems found" in again.stdout


def test_a_stream_that_cannot_encode_degrades(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {
            "mse_src/café.py".encode(): b'import os\nos.system("ls")  # \xc3\xa9t\xc3\xa9\n',
            b"mse_src/\xff.py": b'import os\nos.system("ls")\n',
        },
    )
    proc = run(root, ".", "--no-cache", PYTHONIOENCODING="ascii")
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout.decode("ascii")
    assert "mse_src/caf\\xe9.py" in out and "mse_src/\\xff.py" in out
    assert "# \\xe9t\\xe9" in out
    assert proc.stderr.decode("ascii").startswith("mse-lint: ") or proc.stderr == b""


# -- a reader that goes away ----------------------------------------------------------------------


def _first_line_then_close(args: list[str], cwd: Path) -> tuple[int, bytes]:
    proc = subprocess.Popen(
        [*mse_lint_command(), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read()
    return proc.wait(timeout=120), err


@pytest.fixture
def many_findings(tmp_path: Path) -> Path:
    # far more output than a pipe holds, so that writing goes on after the reader is gone
    body = "import os\n" + 'os.system("ls")\n' * 3000
    return project(tmp_path / "p", {b"mse_src/many.py": body.encode()})


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_closed_pipe_ends_the_check_quietly_with_its_exit_code(
    many_findings: Path, fmt: str
) -> None:
    """`mse-lint . | head -1`: no message, and the exit code still says what the run found
    (1: findings), so that `set -o pipefail` scripts keep failing on findings."""
    code, err = _first_line_then_close([".", "--no-cache", "--format", fmt], many_findings)
    assert (code, err) == (1, b"")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize("command", [["rules"], ["explain", "MSE101"], ["manifest", "."]])
def test_a_closed_pipe_ends_the_other_commands_quietly(
    many_findings: Path, command: list[str]
) -> None:
    code, err = _first_line_then_close(command, many_findings)
    assert (code, err) == (0, b"")
