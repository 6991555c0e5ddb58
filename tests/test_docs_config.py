"""docs/ against the code: every configuration key documented with its real default, examples
that the tool accepts, links that lead somewhere."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mse_lint.core.settings import (
    KEYS,
    SECRETS_KEYS,
    Settings,
    load_settings,
    settings_from_mapping,
)
from mse_lint.pipeline import baseline

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONFIG_PAGE = (DOCS / "configuration.md").read_text()
PAGES = ["getting-started", "configuration", "suppressions", "baseline", "integrations"]


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def _documented() -> dict[str, str]:
    """``### `key` `` headings of configuration.md and the ``Default: `...` `` under each."""
    sections = re.split(r"^### `([\w.-]+)`\n", CONFIG_PAGE, flags=re.M)
    out = {}
    for key, body in zip(sections[1::2], sections[2::2]):
        m = re.search(r"^Default: `(.*)`$|^Default: (none \(inferred\))$", body, re.M)
        assert m, f"configuration.md: `{key}` has no `Default:` line"
        out[key] = m.group(1) or m.group(2)
    return out


def test_every_key_is_documented_and_nothing_else() -> None:
    expected = set(KEYS) | {f"secrets.{k}" for k in SECRETS_KEYS}
    assert set(_documented()) == expected


@pytest.mark.parametrize("key", sorted(_documented()))
def test_documented_default_is_the_real_one(key: str) -> None:
    value = _documented()[key]
    if value == "none (inferred)":  # no value given: the setting is None and inferred per project
        assert getattr(Settings(), key.replace("-", "_")) is None
        return
    table, _, sub = key.partition(".")
    doc = tomllib.loads(f"[{table}]\n{sub} = {value}\n" if sub else f"{key} = {value}\n")
    assert settings_from_mapping(doc, "docs", Settings()) == Settings()


def test_every_toml_example_is_accepted(tmp_path: Path) -> None:
    blocks = _blocks(CONFIG_PAGE, "toml")
    assert blocks
    for n, block in enumerate(blocks):
        path = tmp_path / f"example{n}.toml"
        path.write_text(block)
        settings = load_settings(tmp_path, explicit=path)
        assert settings != Settings(source=path), block
    # the full example sets every key
    (full,) = [b for b in blocks if "[tool.mse-lint.secrets]" in b]
    doc: dict[str, Any] = tomllib.loads(full)["tool"]["mse-lint"]
    assert set(doc) == set(KEYS)
    assert set(doc["secrets"]) == set(SECRETS_KEYS)


def test_the_baseline_example_is_a_valid_baseline() -> None:
    (example,) = _blocks((DOCS / "baseline.md").read_text(), "json")
    entries = baseline.loads(example, "docs/baseline.md")
    assert {e.rule for e in entries} == {"MSE101", "MSE201"}


def test_precommit_example_names_the_real_hooks() -> None:
    hooks = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks == {"mse-lint", "mse-lint-project"}
    page = (DOCS / "integrations.md").read_text()
    examples = [yaml.safe_load(b) for b in _blocks(page, "yaml") if "repos:" in b]
    assert len(examples) == 1
    (repo,) = examples[0]["repos"]
    assert {h["id"] for h in repo["hooks"]} == hooks


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_lead_to_files(page: str) -> None:
    text = (DOCS / f"{page}.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    for link in local:
        assert (DOCS / link).exists(), f"docs/{page}.md links to missing {link}"


def test_readme_links_every_page() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in PAGES:
        assert f"](docs/{page}.md)" in readme, page
