"""The rule catalogue: ``rules/*.toml`` loaded into typed Rule objects and per-family data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional

from mse_lint.core.diagnostics import Severity
from mse_lint.core.record import Frozen
from mse_lint.core.record import set_field as _set
from mse_lint.core.toml import toml_parser


class CatalogError(Exception):
    """The shipped catalogue is broken: a bug in mse-lint, not in the user's project."""


class Rule(Frozen):
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
    # each bad example is written this many times into one file (a rule about size)
    bad_repeat: int = 1

    def __init__(
        self,
        id: str,
        name: str,
        severity: Severity,
        family: str,
        summary: str,
        message: str,
        fix: str,
        explanation: str,
        bad: tuple[str, ...],
        good: tuple[str, ...],
        enabled: bool = True,
        bad_bytes: bool = False,
        security_severity: Optional[str] = None,
        precision: str = "high",
        bad_repeat: int = 1,
    ) -> None:
        _set(self, "id", id)
        _set(self, "name", name)
        _set(self, "severity", severity)
        _set(self, "family", family)
        _set(self, "summary", summary)
        _set(self, "message", message)
        _set(self, "fix", fix)
        _set(self, "explanation", explanation)
        _set(self, "bad", bad)
        _set(self, "good", good)
        _set(self, "enabled", enabled)
        _set(self, "bad_bytes", bad_bytes)
        _set(self, "bad_repeat", bad_repeat)
        _set(self, "security_severity", security_severity)
        _set(self, "precision", precision)

    def format(self, **values: object) -> str:
        try:
            return self.message.format(**values)
        except (KeyError, IndexError) as exc:  # a catalogue bug; never lose the finding
            return f"{self.message} ({exc})"


class Catalog(Frozen):
    rules: Mapping[str, Rule]
    families: Mapping[str, Mapping[str, Any]]
    # a hash of the catalogue files' content ("" for a catalogue built in memory)
    fingerprint: str

    def __init__(
        self,
        rules: Mapping[str, Rule],
        families: Optional[Mapping[str, Mapping[str, Any]]] = None,
        fingerprint: str = "",
    ) -> None:
        _set(self, "rules", rules)
        _set(self, "families", {} if families is None else families)
        _set(self, "fingerprint", fingerprint)

    def get(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def data(self, family: str) -> Mapping[str, Any]:
        return self.families.get(family, {})

    def sorted_rules(self) -> list[Rule]:
        return [self.rules[k] for k in sorted(self.rules)]


def rules_dir() -> Path:
    """The catalogue folder: inside the installed package, or beside it in a source checkout."""
    here = Path(__file__).resolve().parent.parent  # the mse_lint package
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
        bad_repeat=int(raw.get("bad_repeat", 1)),
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


# The parsed catalogue, shipped beside the TOML it comes from
# (``python -m mse_lint.report.rule_docs`` writes it; a test fails when it is stale). Reading
# it is a json.loads, where parsing the TOML costs about 80 ms: a run on a fresh machine (every
# CI job) would pay that each time.
COMPILED = "catalog.json"


def load_catalog(directory: Optional[Path] = None) -> Catalog:
    """The catalogue in ``directory`` (default: the shipped one): from its compiled copy when
    that was made from exactly these TOML files (their digest is its fingerprint), else parsed
    from the TOML."""
    directory = directory or rules_dir()
    sources: list[tuple[Path, bytes]] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            sources.append((path, path.read_bytes()))
        except OSError as exc:
            raise CatalogError(f"{path}: {exc}") from exc
    if not sources:
        raise CatalogError(f"no rules found in {directory}")
    fingerprint = _fingerprint(sources)
    compiled = _read_compiled(directory / COMPILED, directory, fingerprint)
    if compiled is not None:
        try:
            return _build(compiled, fingerprint)
        except (CatalogError, KeyError, TypeError, ValueError, AttributeError):
            pass  # a damaged copy: the TOML decides
    return _build(_parse(sources), fingerprint)


def _fingerprint(sources: list[tuple[Path, bytes]]) -> str:
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    for path, data in sources:
        digest.update(path.name.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def _parse(sources: list[tuple[Path, bytes]]) -> list[tuple[Path, dict[str, Any]]]:
    tomllib = toml_parser()  # on demand (mse_lint.core.toml)

    docs: list[tuple[Path, dict[str, Any]]] = []
    for path, data in sources:
        try:
            docs.append((path, tomllib.loads(data.decode("utf-8"))))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CatalogError(f"{path}: {exc}") from exc
    return docs


def _build(docs: Iterable[tuple[Path, Mapping[str, Any]]], fingerprint: str) -> Catalog:
    rules: dict[str, Rule] = {}
    families: dict[str, Mapping[str, Any]] = {}
    directory: Optional[Path] = None
    for path, doc in docs:
        directory = path.parent
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
    return Catalog(rules, families, fingerprint)


# -- the compiled catalogue ------------------------------------------------------------------


def _read_compiled(
    store: Path, directory: Path, fingerprint: str
) -> Optional[list[tuple[Path, dict[str, Any]]]]:
    """The documents of ``store`` when it was compiled from TOML with ``fingerprint``."""
    import json

    try:
        with open(store, encoding="utf-8") as fh:
            doc = json.load(fh)
        if doc["fingerprint"] != fingerprint:
            return None  # the TOML was edited since: parse it
        docs = [(directory / name, body) for name, body in doc["docs"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(d, dict) for _, d in docs):
        return None
    return docs


def write_compiled(directory: Optional[Path] = None) -> Path:
    """Parse the TOML of ``directory`` (default: the shipped catalogue) and write its compiled
    copy there, atomically. Raises CatalogError when the TOML is invalid or holds a value JSON
    cannot (a TOML date)."""
    import json

    from mse_lint.core.atomic import write_atomic

    directory = directory or rules_dir()
    sources = [(p, p.read_bytes()) for p in sorted(directory.glob("*.toml"))]
    docs = _parse(sources)
    _build(docs, "")  # the same validation as a run's
    body = {"fingerprint": _fingerprint(sources), "docs": [[p.name, d] for p, d in docs]}
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{directory}: the catalogue cannot be stored as JSON: {exc}") from exc
    store = directory / COMPILED
    write_atomic(store, text + "\n")
    store.chmod(0o644)  # a file of the package, not a private temporary one
    return store
