"""Text that a repository controls is matched in linear time, with the same answers as the
slow forms it replaced: .mseignore lines against names (shutil.ignore_patterns' fnmatch), URL
schemes, ``#egg=`` names and plain requirement lines. Each fast form is checked against the
original on generated inputs, and the inputs that made the originals quadratic must run in a
fraction of a second (they took from 8 s to over 300 s)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Optional

from helpers import mse_lint_command
from hypothesis import given, settings
from hypothesis import strategies as st

from mse_lint.project.model import fate_of, matching_pattern
from mse_lint.project.requirements import _PLAIN, URL_SCHEME, egg_name

PATTERN_CHARS = "ab.x*?[]!-"
NAME_CHARS = "ab.x[]!-"


def ignored_by_mse_cli(name: str, patterns: list[str]) -> Optional[str]:
    """The first pattern that ``shutil.ignore_patterns(*patterns)`` drops ``name`` for."""
    for p in patterns:
        if shutil.ignore_patterns(p)("", [name]):
            return p
    return None


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.text(PATTERN_CHARS, min_size=1, max_size=6), max_size=8),
    st.lists(st.text(NAME_CHARS, max_size=6), min_size=1, max_size=8),
)
def test_mseignore_matching_is_fnmatch_filter(patterns: list[str], names: list[str]) -> None:
    pats = tuple(patterns)
    for name in names:
        assert matching_pattern(name, pats) == ignored_by_mse_cli(name, patterns), (name, pats)


def test_mseignore_matching_on_hand_picked_cases() -> None:
    pats = ("*.pyc", "build", "a*b*c", "[!x]*.log", "*]", "[]]x", "x[", "data?", "*.py")
    cases = {
        "mod.pyc": "*.pyc",
        "build": "build",
        "abc": "a*b*c",
        "abxc": "a*b*c",
        "ab": None,
        "y.log": "[!x]*.log",
        "x.log": None,
        "a]": "*]",
        "]x": "[]]x",
        "x[": "x[",
        "data1": "data?",
        "data": None,
        "mod.py": "*.py",
        "Build": None,  # case-sensitive on POSIX
    }
    for name, want in cases.items():
        assert matching_pattern(name, pats) == want == ignored_by_mse_cli(name, list(pats))


@settings(max_examples=300, deadline=None)
@given(st.text("ab1+.-:/#", max_size=24))
def test_url_scheme_search_ends_where_the_original_does(text: str) -> None:
    old = re.search(r"[A-Za-z][A-Za-z0-9+.\-]*://", text)
    new = URL_SCHEME.search(text)
    assert (old is None) == (new is None)
    if old is not None and new is not None:
        assert new.end() == old.end()


@settings(max_examples=300, deadline=None)
@given(st.text("eg=#a-. ", max_size=24))
def test_egg_name_is_the_original_regex(text: str) -> None:
    old = re.search(r"#.*\begg=([A-Za-z0-9_.\-]+)", text)
    assert egg_name(text) == (old.group(1) if old else None)


@settings(max_examples=300, deadline=None)
@given(st.text("ab-. [],<=;@~", max_size=20))
def test_plain_requirement_match_is_the_original(text: str) -> None:
    old = re.match(
        r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*([<>=!~][^;@]*)?$", text
    )
    new = _PLAIN.match(text)
    assert (old is None) == (new is None)
    if old is not None and new is not None:
        assert new.groups() == old.groups()


def _quick(fn: object, *args: object) -> None:
    started = time.monotonic()
    fn(*args)  # type: ignore[operator]
    assert time.monotonic() - started < 0.5, fn


def test_long_inputs_take_linear_time() -> None:
    for text in ("a" * 100_000, "a:" * 50_000, "1" * 50_000 + "a" * 50_000):
        _quick(URL_SCHEME.search, text)
    for text in ("#" * 100_000, "#egg=" * 20_000, "# " + "egg=;" * 25_000):
        _quick(egg_name, text)
    _quick(_PLAIN.match, "a" * 50_000 + " " * 50_000 + "x")


def test_a_33000_line_mseignore_is_compiled_once() -> None:
    patterns = tuple(
        p for i in range(11_000) for p in (f"file_{i}.txt", f"*.ext{i}", f"dir[0-9]{i}?")
    )
    started = time.monotonic()
    for i in range(2_000):
        fate_of(f"pkg/sub{i}/module_{i}.py", patterns)
    assert fate_of("data/file_77.txt", patterns)[1] == "file_77.txt"
    assert fate_of("a/b.ext5000", patterns)[1] == "*.ext5000"
    assert fate_of("dir7123x/y.py", patterns)[1] == "dir[0-9]123?"
    assert time.monotonic() - started < 10  # fnmatch: over 300 s


def _project(tmp_path: Path, requirements: str, mseignore: str) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "mse.toml").write_text(
        'name = "t"\npython_application = "app:app"\n[cloud]\ncode = "src"\n'
    )
    (root / "src" / "app.py").write_text("import flask\napp = flask.Flask(__name__)\n")
    for i in range(30):
        (root / "src" / f"m{i}.py").write_text("x = 1\n")
    (root / "src" / "requirements.txt").write_text(requirements)
    (root / "src" / ".mseignore").write_text(mseignore)
    return root


def test_whole_run_on_a_huge_token_and_a_huge_mseignore(tmp_path: Path) -> None:
    token = "a" * 100_000
    lines = "".join(f"file_{i}.txt\n*.ext{i}\ndir[0-9]{i}?\n" for i in range(11_000))
    root = _project(tmp_path, f"{token}\n{token} ; x\n-i {token}\n", lines)
    started = time.monotonic()
    proc = subprocess.run(
        [*mse_lint_command(), ".", "--format", "json", "-q"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    assert time.monotonic() - started < 20
