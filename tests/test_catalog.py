"""The catalogue is the single source: every example is a test, the docs are generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mse_lint.catalog import load_catalog
from mse_lint.config import Settings
from mse_lint.docs import pages
from mse_lint.engine import Engine, FileJob

ROOT = Path(__file__).resolve().parent.parent
CATALOG = load_catalog()


def _examples(kind: str) -> list[tuple[str, int, str]]:
    return [
        (rule.id, i, text)
        for rule in CATALOG.sorted_rules()
        for i, text in enumerate(rule.bad if kind == "bad" else rule.good)
    ]


def _fired(rule_id: str, text: str, tmp_path: Path, as_bytes: bool = False) -> list[str]:
    path = tmp_path / "example.py"
    if as_bytes:
        path.write_bytes(text.encode("latin-1"))
    else:
        path.write_text(text, encoding="utf-8")
    engine = Engine(CATALOG, Settings(select=("MSE",), extend_select=(rule_id,)))
    result = engine.check_file(FileJob(str(path), "example.py"))
    return [d.rule for d in result.diagnostics if d.rule == rule_id]


@pytest.mark.parametrize(("rule_id", "index", "text"), _examples("bad"))
def test_bad_example_fires(rule_id: str, index: int, text: str, tmp_path: Path) -> None:
    rule = CATALOG.get(rule_id)
    assert rule_id in _fired(rule_id, text, tmp_path, rule.bad_bytes), text


@pytest.mark.parametrize(("rule_id", "index", "text"), _examples("good"))
def test_good_example_is_clean(rule_id: str, index: int, text: str, tmp_path: Path) -> None:
    assert rule_id not in _fired(rule_id, text, tmp_path), text


def test_every_rule_has_examples_and_prose() -> None:
    names = set()
    for rule in CATALOG.sorted_rules():
        assert re.fullmatch(r"MSE\d{3}", rule.id)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
        assert rule.name not in names
        names.add(rule.name)
        assert rule.bad and rule.good, rule.id
        for heading in ("**What it flags.**", "**Why it", "**How to fix.**"):
            assert heading in rule.explanation, (rule.id, heading)
        assert not rule.summary.endswith("."), rule.id


def test_docs_are_generated_from_the_catalogue() -> None:
    """Run `python -m mse_lint.docs` after changing rules/*.toml."""
    folder = ROOT / "docs" / "rules"
    wanted = pages(CATALOG)
    present = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.md")}
    assert sorted(present) == sorted(wanted), "docs/rules/ has missing or extra pages"
    for name, text in wanted.items():
        assert present[name] == text, f"docs/rules/{name} is out of date"
