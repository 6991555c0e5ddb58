"""Every stdlib addition in rules/compat.toml appeared exactly in the version it claims: absent
in the Python before, present in its own. Checked on real interpreters (pyenv's, when this
machine has them; set MSE_LINT_PYTHONS to a colon-separated list of interpreters otherwise)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest

from mse_lint.core.catalog import load_catalog

CATALOG = load_catalog()
ENTRIES: list[dict[str, Any]] = list(CATALOG.data("compat")["additions"]["api"])
VERSIONS = [(3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13), (3, 14)]

# Runs inside the interpreter under test: one bool per entry, "does this Python have it".
PROBE = r"""
import importlib, inspect, json, sys
def resolve(name):
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(name)
out = []
for e in json.load(sys.stdin):
    try:
        if e.get("probe"):
            exec(e["probe"], {})
            ok = True
        elif e.get("kind") == "module":
            importlib.import_module(e["name"])
            ok = True
        elif e.get("kind") == "param":
            ok = e["param"] in inspect.signature(resolve(e["name"])).parameters
        else:
            resolve(e["name"])
            ok = True
    except Exception:
        ok = False
    out.append(ok)
print(json.dumps(out))
"""


@functools.cache
def interpreters() -> dict[tuple[int, int], str]:
    found: dict[tuple[int, int], str] = {}
    listed = os.environ.get("MSE_LINT_PYTHONS")
    candidates = listed.split(":") if listed else []
    root = Path.home() / ".pyenv" / "versions"
    if not listed and root.is_dir():
        candidates = [str(p / "bin" / "python") for p in sorted(root.iterdir())]
    for exe in candidates:
        try:
            out = subprocess.run(
                [exe, "-c", "import sys; print(*sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.split()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if len(out) == 2:
            found.setdefault((int(out[0]), int(out[1])), exe)
    return found


@functools.cache
def presence(version: tuple[int, int]) -> Optional[tuple[bool, ...]]:
    exe = interpreters().get(version)
    if exe is None:
        return None
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    run = subprocess.run(
        [exe, "-I", "-c", PROBE],
        input=json.dumps(ENTRIES),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd="/",
    )
    assert run.returncode == 0, run.stderr
    return tuple(json.loads(run.stdout))


def _label(e: dict[str, Any]) -> str:
    return e["name"] + (f"({e['param']}=)" if e.get("param") else "")


def test_catalogue_is_large_and_well_formed() -> None:
    assert len(ENTRIES) >= 60
    seen = set()
    for e in ENTRIES:
        assert e.get("kind", "attr") in ("attr", "module", "param"), e
        assert (e.get("kind") == "param") == ("param" in e), e
        assert tuple(int(p) for p in e["python"].split(".")) in VERSIONS[1:], e
        assert _label(e) not in seen, f"{_label(e)} listed twice"
        seen.add(_label(e))
    per_version = {v: sum(e["python"] == f"{v[0]}.{v[1]}" for e in ENTRIES) for v in VERSIONS[1:]}
    assert all(n >= 4 for n in per_version.values()), per_version


@pytest.mark.parametrize("version", VERSIONS[1:], ids=lambda v: f"{v[0]}.{v[1]}")
def test_each_addition_is_new_in_its_version(version: tuple[int, int]) -> None:
    before = VERSIONS[VERSIONS.index(version) - 1]
    mine = [i for i, e in enumerate(ENTRIES) if e["python"] == f"{version[0]}.{version[1]}"]
    has_now, had_before = presence(version), presence(before)
    if has_now is None and had_before is None:
        pytest.skip(f"no Python {before[0]}.{before[1]} or {version[0]}.{version[1]} here")
    wrong = []
    for i in mine:
        if has_now is not None and not has_now[i]:
            wrong.append(f"{_label(ENTRIES[i])}: missing in {version[0]}.{version[1]}")
        if had_before is not None and had_before[i]:
            wrong.append(f"{_label(ENTRIES[i])}: already in {before[0]}.{before[1]}")
    assert not wrong, "\n".join(wrong)


def test_entries_exist_in_every_later_python() -> None:
    """Nothing listed was removed again in a later version this machine has."""
    wrong = []
    for version in VERSIONS:
        has = presence(version)
        if has is None:
            continue
        for e, ok in zip(ENTRIES, has):
            need = tuple(int(p) for p in e["python"].split("."))
            if need <= version and not ok:
                wrong.append(f"{_label(e)}: missing in {version[0]}.{version[1]}")
    if not interpreters():
        pytest.skip("no interpreters to check against")
    assert not wrong, "\n".join(wrong)
