"""The labelled credential cases of benchmarks/secrets_cases.toml, scored as
benchmarks/secrets_recall.py scores them, for mse-lint alone (the benchmark also runs
detect-secrets; this test does not need it): every credential mse-lint catalogues is found, by
the right format, and no look-alike is reported."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helpers import mse_lint_command

from mse_lint.core.catalog import load_catalog

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "secrets_recall.py"
FORMATS: list[dict[str, Any]] = list(load_catalog().data("secrets")["formats"])


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("secrets_recall", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("secrets_recall", module)
    spec.loader.exec_module(module)
    return module


RECALL = _script()
CASES: list[dict[str, Any]] = RECALL.load_cases()


def test_cases_are_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(set(ids)) == len(ids)
    for case in CASES:
        assert case["label"] in ("secret", "none"), case["id"]
        assert isinstance(case["catalogued"], bool), case["id"]
        ast.parse(case["source"])  # a case that does not parse would test nothing
    assert sum(c["label"] == "none" for c in CASES) >= 20


def test_every_catalogued_format_has_a_case_of_its_own() -> None:
    """One credential per format of rules/secrets.toml, new ones included, none of them a
    catalogue example (those are the catalogue tests' business)."""
    by_format = {c["format"]: c for c in CASES if c.get("format")}
    assert set(by_format) == {f["id"] for f in FORMATS}
    for fmt in FORMATS:
        case = by_format[fmt["id"]]
        assert case["label"] == "secret" and case["catalogued"]
        assert re.search(fmt["regex"], case["source"]), fmt["id"]
        assert not any(example in case["source"] for example in fmt["examples"]), fmt["id"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[str], dict[str, Any]]:
    folder = tmp_path_factory.mktemp("cases")
    names = RECALL.write_cases(CASES, folder)
    found = RECALL.mse_lint_findings(folder, mse_lint_command())
    return RECALL.Score(CASES, names, found), names, found


def test_recall_is_total_on_what_mse_lint_catalogues(scored: Any) -> None:
    score, _names, _found = scored
    assert score.missed_catalogued == []
    assert score.recall_catalogued == 1.0


def test_no_false_alarm_on_look_alikes(scored: Any) -> None:
    score, _names, _found = scored
    assert score.false_alarms == []


def test_each_format_is_found_under_its_own_name(scored: Any) -> None:
    _score, names, found = scored
    format_names = {f["id"]: f["name"] for f in FORMATS}
    assert RECALL.wrong_formats(CASES, names, found, format_names) == []


def test_constructs_are_found_by_their_rule(scored: Any) -> None:
    _score, names, found = scored
    for case, name in zip(CASES, names):
        if case.get("rule"):
            assert any(m.startswith(case["rule"] + " ") for m in found.get(name, ())), case["id"]
