"""The catalogue is the single source: every example is a test, the docs are generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mse_lint.core.catalog import load_catalog
from mse_lint.core.settings import Settings
from mse_lint.pipeline.engine import Engine, FileJob
from mse_lint.pipeline.runner import lint
from mse_lint.report.rule_docs import pages

ROOT = Path(__file__).resolve().parent.parent
CATALOG = load_catalog()


def _examples(kind: str) -> list[tuple[str, int, str]]:
    return [
        (rule.id, i, text)
        for rule in CATALOG.sorted_rules()
        for i, text in enumerate(rule.bad if kind == "bad" else rule.good)
    ]


DEFAULT_TOML = 'name = "example"\npython_application = "app:app"\n[cloud]\ncode = "mse_src"\n'


def build_project(text: str, root: Path) -> None:
    """Lay out a `# file: PATH` / `# symlink: LINK -> TARGET` example under ``root``."""
    (root / ".git").mkdir(parents=True)
    current: list[str] = []
    name = None

    def flush() -> None:
        if name is not None:
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(current), encoding="utf-8")

    for line in text.splitlines(keepends=True):
        m = re.match(r"# (file|symlink): (.+?)\s*$", line)
        if m and m.group(1) == "file":
            flush()
            name, current = m.group(2), []
        elif m:
            flush()
            name, current = None, []
            link, _, target = m.group(2).partition(" -> ")
            (root / link).parent.mkdir(parents=True, exist_ok=True)
            (root / link).symlink_to(target)
        else:
            current.append(line)
    flush()
    if not (root / "mse.toml").exists():
        (root / "mse.toml").write_text(DEFAULT_TOML)


def _fired(
    rule_id: str, text: str, tmp_path: Path, as_bytes: bool = False, repeat: int = 1
) -> list[str]:
    settings = Settings(select=("MSE",), extend_select=(rule_id,))
    if text.startswith("# file: "):
        root = tmp_path / "project"
        build_project(text, root)
        outcome = lint([root], CATALOG, settings, cwd=tmp_path)
        return [d.rule for d in outcome.diagnostics if d.rule == rule_id]
    path = tmp_path / "example.py"
    text *= repeat
    if as_bytes:
        path.write_bytes(text.encode("latin-1"))
    else:
        path.write_text(text, encoding="utf-8")
    engine = Engine(CATALOG, settings)
    result = engine.check_file(FileJob(str(path), "example.py"))
    return [d.rule for d in result.diagnostics if d.rule == rule_id]


@pytest.mark.parametrize(("rule_id", "index", "text"), _examples("bad"))
def test_bad_example_fires(rule_id: str, index: int, text: str, tmp_path: Path) -> None:
    rule = CATALOG.get(rule_id)
    assert rule_id in _fired(rule_id, text, tmp_path, rule.bad_bytes, rule.bad_repeat), text


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


def test_the_compiled_catalogue_is_fresh() -> None:
    """Run `python -m mse_lint.report.rule_docs` after changing rules/*.toml: rules/catalog.json
    is what every run reads, and it is used only while it matches the TOML (a stale copy would make
    each run parse the TOML again)."""
    import json

    from mse_lint.core import catalog as catalog_mod

    stored = json.loads((ROOT / "rules" / catalog_mod.COMPILED).read_text(encoding="utf-8"))
    sources = [(p, p.read_bytes()) for p in sorted((ROOT / "rules").glob("*.toml"))]
    assert stored["fingerprint"] == catalog_mod._fingerprint(sources), "rules/catalog.json is stale"
    assert stored["docs"] == [[p.name, d] for p, d in catalog_mod._parse(sources)]


def test_docs_are_generated_from_the_catalogue() -> None:
    """Run `python -m mse_lint.report.rule_docs` after changing rules/*.toml."""
    folder = ROOT / "docs" / "rules"
    wanted = pages(CATALOG)
    present = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.md")}
    assert sorted(present) == sorted(wanted), "docs/rules/ has missing or extra pages"
    for name, text in wanted.items():
        assert present[name] == text, f"docs/rules/{name} is out of date"
