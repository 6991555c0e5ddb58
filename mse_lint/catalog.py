"""The rule catalogue: ``rules/*.toml`` loaded into typed Rule objects and per-family data."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .diagnostics import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib


class CatalogError(Exception):
    """The shipped catalogue is broken: a bug in mse-lint, not in the user's project."""


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    family: str
    summary: str
    message: str
    fix: str
    explanation: str
    bad: tuple[str, ...]
    good: tuple[str, ...]
    enabled: bool = True
    bad_bytes: bool = False
    security_severity: Optional[str] = None
    # How often a finding is right (SARIF's `precision`): "very-high", "high", "medium", "low"
    precision: str = "high"

    def format(self, **values: object) -> str:
        try:
            return self.message.format(**values)
        except (KeyError, IndexError) as exc:  # a catalogue bug; never lose the finding
            return f"{self.message} ({exc})"


@dataclass(frozen=True)
class Catalog:
    rules: Mapping[str, Rule]
    families: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def get(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def data(self, family: str) -> Mapping[str, Any]:
        return self.families.get(family, {})

    def sorted_rules(self) -> list[Rule]:
        return [self.rules[k] for k in sorted(self.rules)]


def rules_dir() -> Path:
    """The catalogue folder: inside the installed package, or beside it in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise CatalogError(f"the rule catalogue was not found beside {here}")


_REQUIRED = ("id", "name", "severity", "summary", "message", "fix", "explanation", "bad", "good")


def _rule(raw: Mapping[str, Any], family: str, source: Path) -> Rule:
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise CatalogError(f"{source}: rule {raw.get('id', '?')} lacks {', '.join(missing)}")
    return Rule(
        id=raw["id"],
        name=raw["name"],
        severity=Severity.parse(raw["severity"]),
        family=family,
        summary=raw["summary"],
        message=raw["message"],
        fix=raw["fix"],
        explanation=raw["explanation"].strip(),
        bad=tuple(raw["bad"]),
        good=tuple(raw["good"]),
        enabled=bool(raw.get("enabled", True)),
        bad_bytes=bool(raw.get("bad_bytes", False)),
        security_severity=_security_severity(raw, source),
        precision=_precision(raw, source),
    )


def _security_severity(raw: Mapping[str, Any], source: Path) -> Optional[str]:
    """GitHub's scale: a number from 0.0 to 10.0, written as a string."""
    value = raw.get("security_severity")
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not isinstance(value, str) or not 0.0 <= number <= 10.0:
        raise CatalogError(
            f"{source}: rule {raw.get('id', '?')}: security_severity {value!r} must be a "
            'string holding a number from 0.0 to 10.0, e.g. "7.0"'
        )
    return value


_PRECISIONS = ("very-high", "high", "medium", "low")


def _precision(raw: Mapping[str, Any], source: Path) -> str:
    value = raw.get("precision", "high")
    if value not in _PRECISIONS:
        raise CatalogError(
            f"{source}: rule {raw.get('id', '?')}: precision {value!r} is not one of "
            + ", ".join(_PRECISIONS)
        )
    return str(value)


def load_catalog(directory: Optional[Path] = None) -> Catalog:
    directory = directory or rules_dir()
    rules: dict[str, Rule] = {}
    families: dict[str, Mapping[str, Any]] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            with path.open("rb") as fh:
                doc = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CatalogError(f"{path}: {exc}") from exc
        family = doc.get("family", path.stem)
        for raw in doc.get("rules", []):
            rule = _rule(raw, family, path)
            if rule.id in rules:
                raise CatalogError(f"{path}: rule {rule.id} is defined twice")
            rules[rule.id] = rule
        data = dict(families.get(family, {}))
        for key, value in doc.items():
            if key in ("rules", "family", "title"):
                continue
            if key in data and isinstance(data[key], list) and isinstance(value, list):
                data[key] = [*data[key], *value]
            elif key in data:
                raise CatalogError(f"{path}: `{key}` of family {family} is defined twice")
            else:
                data[key] = value
        families[family] = data
    if not rules:
        raise CatalogError(f"no rules found in {directory}")
    return Catalog(rules, families)
