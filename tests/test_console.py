"""The console's source excerpt: long lines shown around the finding, control characters made
visible instead of sent to the terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import mse_lint_command

from mse_lint.report.console import _window


def test_short_lines_are_shown_whole() -> None:
    assert _window("x = 1", 0, 1) == ("x = 1", 0, 1)


def test_long_line_window_keeps_the_carets_under_the_construct() -> None:
    line = "a" * 500 + "os.system('x')" + "b" * 500
    shown, start, end = _window(line, 500, 509)
    assert len(shown) == 160 and shown.startswith("…") and shown.endswith("…")
    assert shown[start:end] == "os.system"


def test_window_at_the_end_of_a_long_line() -> None:
    line = "c" * 300 + "eval(x)"
    shown, start, end = _window(line, 300, 307)
    assert shown.startswith("…") and not shown.endswith("…")
    assert shown[start:end] == "eval(x)"


def run(path: Path) -> str:
    proc = subprocess.run(
        [*mse_lint_command(), "--no-cache", "--no-color", path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    return proc.stdout


def test_console_shows_a_window_of_a_long_line(tmp_path: Path) -> None:
    path = tmp_path / "gen.py"
    path.write_text("import os\nx = [" + "1, " * 400 + "os.system('ls')]\n")
    out = run(path)
    excerpt = [line for line in out.splitlines() if line.startswith("    2 | ")]
    assert len(excerpt) == 1 and len(excerpt[0]) == len("    2 | ") + 160
    carets = out.splitlines()[out.splitlines().index(excerpt[0]) + 1]
    assert carets.index("^") == excerpt[0].index("os.system")


def test_console_never_sends_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "esc.py"
    path.write_bytes(b'import os\nx = "\x1b[2J\x07"; os.system("a")\n')
    out = run(path)
    assert "\x1b" not in out and "\x07" not in out
    # shown as escapes, and the marker moved along: it stays under os.system
    assert '    2 | x = "\\x1b[2J\\x07"; os.system("a")\n      |' + " " * 20 + "^" * 9 in out
