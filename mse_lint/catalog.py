"""The rule catalogue: ``rules/*.toml`` loaded into typed Rule objects and per-family data."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional

from .diagnostics import Severity
from .record import Frozen

_set = object.__setattr__


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


def load_catalog(directory: Optional[Path] = None, cached: bool = False) -> Catalog:
    """The catalogue in ``directory`` (default: the shipped one). With ``cached``, the parsed
    TOML is kept as JSON in the user's cache folder (see ``compiled_path``) and read from there
    while the catalogue files are unchanged: parsing the TOML is most of a one-file run."""
    directory = directory or rules_dir()
    paths = sorted(directory.glob("*.toml"))
    store = compiled_path(paths) if cached else None
    if store is not None:
        found = _read_compiled(store)
        if found is not None:
            try:
                return _build(*found)
            except (CatalogError, KeyError, TypeError, ValueError, AttributeError):
                pass  # a stale or damaged copy: parse the TOML again
    import hashlib

    if sys.version_info >= (3, 11):
        import tomllib  # here: a run served by the compiled catalogue never imports it
    else:  # pragma: no cover - exercised on 3.9/3.10
        import tomli as tomllib

    digest = hashlib.blake2b(digest_size=16)
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        try:
            data = path.read_bytes()
            doc = tomllib.loads(data.decode("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CatalogError(f"{path}: {exc}") from exc
        digest.update(path.name.encode() + b"\0" + data + b"\0")
        docs.append((path, doc))
    if not docs:
        raise CatalogError(f"no rules found in {directory}")
    catalog = _build(docs, digest.hexdigest())
    if store is not None:
        _write_compiled(store, docs, catalog.fingerprint)
    return catalog


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


def user_cache_dir() -> Optional[Path]:
    """``$MSE_LINT_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/mse-lint`` or
    ``~/.cache/mse-lint`` (``%LOCALAPPDATA%\\mse-lint`` on Windows)."""
    import os

    env = os.environ.get("MSE_LINT_CACHE_DIR", "").strip()
    if env:
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.environ.get("LOCALAPPDATA", "")
    if base:
        return Path(base) / "mse-lint"
    try:
        return Path.home() / ".cache" / "mse-lint"
    except (RuntimeError, KeyError):  # no home directory
        return None


def compiled_path(paths: list[Path]) -> Optional[Path]:
    """Where the parsed catalogue is kept: named after the tool version and the catalogue
    files' names, sizes and modification times (and this module's), so any edit misses."""
    import hashlib
    import json

    from . import __version__

    folder = user_cache_dir()
    if folder is None:
        return None
    stats: list[Any] = [__version__, sys.version_info[:2]]
    try:
        for p in [Path(__file__), *paths]:
            st = p.stat()
            stats.append([p.name, st.st_size, st.st_mtime_ns])
    except OSError:
        return None
    key = hashlib.blake2b(json.dumps(stats).encode(), digest_size=12).hexdigest()
    return folder / f"catalog-{key}.json"


def _read_compiled(store: Path) -> Optional[tuple[list[tuple[Path, dict[str, Any]]], str]]:
    import json

    try:
        with open(store, encoding="utf-8") as fh:
            doc = json.load(fh)
        folder = Path(doc["folder"])
        docs = [(folder / name, body) for name, body in doc["docs"]]
        fingerprint = doc["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(fingerprint, str) or not all(isinstance(d, dict) for _, d in docs):
        return None
    return docs, fingerprint


def _write_compiled(store: Path, docs: list[tuple[Path, dict[str, Any]]], fingerprint: str) -> None:
    """Atomically (temp file + rename in the same folder); never fails the run."""
    import json

    from .atomic import write_atomic

    body = {
        "folder": str(docs[0][0].parent),
        "fingerprint": fingerprint,
        "docs": [[p.name, d] for p, d in docs],
    }
    try:
        text = json.dumps(body, separators=(",", ":"))  # TypeError: a TOML date, say
        store.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(store, text)
        import time

        month_ago = time.time() - 30 * 86400
        for old in store.parent.glob("catalog-*.json"):
            # another install's or an edited catalogue's copy, not used for a month
            if old != store and old.stat().st_mtime < month_ago:
                old.unlink()
    except (OSError, TypeError, ValueError):
        return
