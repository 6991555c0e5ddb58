"""Settings: ``[tool.mse-lint]`` in pyproject.toml or ``mse-lint.toml`` (found upward from the
linted path), overridden by command-line flags."""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Severity
from mse_lint.core.record import Frozen, replace
from mse_lint.core.record import field as record_field
from mse_lint.core.safeio import read_regular
from mse_lint.core.toml import toml_parser
from mse_lint.project.model import DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILES

if TYPE_CHECKING:
    from mse_lint.core.userregex import UserRegex


class ConfigError(Exception):
    """A bad configuration value or file (exit code 2)."""


_ID = re.compile(r"^MSE\d{0,3}$")
_FORMATS = ("console", "json")
# The enclave's Python when neither the user nor the project's docker image says otherwise
DEFAULT_TARGET_PYTHON = (3, 10)

# Every key of [tool.mse-lint] / mse-lint.toml and of its [secrets] table. docs/configuration.md
# documents each one; tests/test_docs_config.py fails when a key is added without docs.
KEYS = frozenset(
    {
        "select",
        "extend-select",
        "ignore",
        "severity",
        "fail-on",
        "target-python",
        "exclude",
        "jobs",
        "secrets",
        "cache",
        "max-files",
        "max-depth",
    }
)
SECRETS_KEYS = frozenset({"extra-patterns", "allowlist", "allowlist-regex"})


class SecretSettings(Frozen):
    """``[tool.mse-lint.secrets]``: more credential formats, and values that are not secrets."""

    extra_patterns: tuple[tuple[str, str], ...] = ()  # (id, regex)
    allowlist: tuple[str, ...] = ()  # literal values never reported
    allowlist_regex: tuple[str, ...] = ()  # values matching one of these are never reported

    def allows(self, value: str) -> bool:
        """The value is allowlisted: equal to a listed literal, or found by a listed regex."""
        if value in self.allowlist:
            return True
        return bool(self.allowlist_regex) and any(
            r.search(value) is not None for r in _compiled(self.allowlist_regex)
        )


@functools.lru_cache(maxsize=16)
def _compiled(patterns: tuple[str, ...]) -> tuple[UserRegex, ...]:
    # the user's patterns run with a time budget (mse_lint.core.userregex): a repository's settings
    # must not be able to stall the run with a backtracking pattern
    from mse_lint.core.userregex import UserRegex

    return tuple(UserRegex(p, "secrets.allowlist-regex") for p in patterns)


class Settings(Frozen):
    select: tuple[str, ...] = ("MSE",)
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = record_field(default_factory=dict)
    fail_on: Severity = Severity.INFO
    # None: not given; inferred per project from its docker image (mse_lint.project.target)
    target_python: Optional[tuple[int, int]] = None
    exclude: tuple[str, ...] = ()
    jobs: int = 0  # 0: one per CPU
    cache: bool = True  # the results cache (.mse_lint_cache/); `cache = false` or --no-cache
    secrets: SecretSettings = record_field(default_factory=SecretSettings)
    source: Optional[Path] = None  # the config file these came from
    # the bounds of the walk over a code dir or a folder (mse_lint.project.model)
    max_files: int = DEFAULT_MAX_FILES
    max_depth: int = DEFAULT_MAX_DEPTH

    def enabled(self, catalog: Catalog) -> frozenset[str]:
        """IDs of the rules that run. Rules off by default need their full ID selected."""
        out = set()
        for rule in catalog.rules.values():
            chosen = [p for p in (*self.select, *self.extend_select) if rule.id.startswith(p)]
            if not chosen:
                continue
            if not rule.enabled and rule.id not in chosen:
                continue
            ignored = [p for p in self.ignore if rule.id.startswith(p)]
            # the most specific prefix wins: --select MSE101 --ignore MSE1 keeps MSE101
            if ignored and max(map(len, ignored)) >= max(map(len, chosen)):
                continue
            out.add(rule.id)
        return frozenset(out)

    def severity_of(self, rule_id: str, default: Severity) -> Severity:
        best = None
        for prefix, sev in self.severity.items():
            if rule_id.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, sev)
        return best[1] if best else default


def _codes(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: `{key}` must be a list of rule IDs or prefixes like MSE1")
    for v in value:
        if not _ID.match(v.strip().upper()):
            raise ConfigError(
                f"{where}: `{key}` has {v!r}, which is not a rule ID or prefix (MSE101, MSE1, MSE)"
            )
    return tuple(v.strip().upper() for v in value)


def _severity(value: Any, key: str, where: str) -> Severity:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: `{key}` must be one of error, warning, info")
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: `{key}`: {exc}") from exc


def parse_python(value: Any, where: str) -> tuple[int, int]:
    m = (
        re.fullmatch(r"3\.(\d{1,2})", str(value).strip())
        if isinstance(value, (str, float))
        else None
    )
    if not m or not 8 <= int(m.group(1)) <= 14:
        raise ConfigError(
            f'{where}: `target-python` must be a version from 3.8 to 3.14, like "3.10"'
        )
    return (3, int(m.group(1)))


def _jobs(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: `jobs` must be a whole number >= 0 (0 means one per CPU)")
    return value


def settings_from_mapping(raw: Mapping[str, Any], where: str, base: Settings) -> Settings:
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        hint = ", ".join(sorted(KEYS))
        raise ConfigError(f"{where}: unknown key `{unknown[0]}` (known keys: {hint})")
    s = base
    if "select" in raw:
        s = replace(s, select=_codes(raw["select"], "select", where))
    if "extend-select" in raw:
        s = replace(s, extend_select=_codes(raw["extend-select"], "extend-select", where))
    if "ignore" in raw:
        s = replace(s, ignore=_codes(raw["ignore"], "ignore", where))
    if "severity" in raw:
        table = raw["severity"]
        if not isinstance(table, dict):
            raise ConfigError(f'{where}: `severity` must be a table like {{ MSE109 = "error" }}')
        sev = {}
        for k, v in table.items():
            _codes([k], "severity", where)
            sev[k.upper()] = _severity(v, f"severity.{k}", where)
        s = replace(s, severity=sev)
    if "fail-on" in raw:
        s = replace(s, fail_on=_severity(raw["fail-on"], "fail-on", where))
    if "target-python" in raw:
        s = replace(s, target_python=parse_python(raw["target-python"], where))
    if "exclude" in raw:
        ex = raw["exclude"]
        if not isinstance(ex, list) or not all(isinstance(v, str) for v in ex):
            raise ConfigError(f"{where}: `exclude` must be a list of gitignore-style patterns")
        s = replace(s, exclude=tuple(ex))
    if "jobs" in raw:
        s = replace(s, jobs=_jobs(raw["jobs"], where))
    for key, field in (("max-files", "max_files"), ("max-depth", "max_depth")):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{where}: `{key}` must be a whole number >= 1")
            s = replace(s, **{field: value})
    if "secrets" in raw:
        s = replace(s, secrets=_secrets(raw["secrets"], where))
    if "cache" in raw:
        if not isinstance(raw["cache"], bool):
            raise ConfigError(f"{where}: `cache` must be true or false")
        s = replace(s, cache=raw["cache"])
    return s


def _regex(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: `{key}` entries must be strings (regular expressions)")
    try:
        re.compile(value)
    except re.error as exc:
        msg = f"{where}: `{key}` has an invalid regular expression {value!r}: {exc}"
        raise ConfigError(msg) from None
    from mse_lint.core.userregex import compile_check

    problem = compile_check(value)  # what runs it (the `regex` module, for its timeout)
    if problem is not None:
        msg = f"{where}: `{key}` has an invalid regular expression {value!r}: {problem}"
        raise ConfigError(msg)
    return value


def _secrets(raw: Any, where: str) -> SecretSettings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: `secrets` must be a table ([tool.mse-lint.secrets])")
    unknown = sorted(set(raw) - SECRETS_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key `secrets.{unknown[0]}` "
            f"(known keys: {', '.join(sorted(SECRETS_KEYS))})"
        )
    patterns = []
    extra = raw.get("extra-patterns", [])
    if not isinstance(extra, list):
        raise ConfigError(
            f"{where}: `secrets.extra-patterns` must be a list of tables like "
            '{ id = "acme-token", regex = "acme_[0-9a-f]{32}" }'
        )
    for item in extra:
        if not isinstance(item, dict) or set(item) - {"id", "regex"} or "regex" not in item:
            raise ConfigError(
                f"{where}: `secrets.extra-patterns` entries look like "
                '{ id = "acme-token", regex = "acme_[0-9a-f]{32}" }'
            )
        patterns.append((str(item.get("id", "custom")), _regex(item["regex"], "secrets", where)))
    allow = raw.get("allowlist", [])
    if not isinstance(allow, list) or not all(isinstance(v, str) for v in allow):
        raise ConfigError(f"{where}: `secrets.allowlist` must be a list of strings")
    allow_re = raw.get("allowlist-regex", [])
    if not isinstance(allow_re, list):
        raise ConfigError(f"{where}: `secrets.allowlist-regex` must be a list of strings")
    return SecretSettings(
        tuple(patterns), tuple(allow), tuple(_regex(v, "secrets", where) for v in allow_re)
    )


def _key_line(path: Path, key: str) -> str:
    try:
        text = read_regular(path, "settings").decode("utf-8")
        for i, line in enumerate(text.splitlines(), start=1):
            if re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line) or re.match(
                rf"\s*\[\s*(tool\.mse-lint\.)?{re.escape(key)}\s*\]", line
            ):
                return f"{path}:{i}"
    except (OSError, UnicodeDecodeError):
        pass
    return str(path)


def find_config(start: Path) -> Optional[tuple[Path, Mapping[str, Any]]]:
    """The nearest mse-lint.toml, or pyproject.toml with a [tool.mse-lint] table."""
    here = start.resolve()
    here = here if here.is_dir() else here.parent
    for folder in (here, *here.parents):
        dedicated = folder / "mse-lint.toml"
        if _present(dedicated):
            return dedicated, _read(dedicated)
        pyproject = folder / "pyproject.toml"
        if _present(pyproject):
            doc = _read(pyproject)
            tool = doc.get("tool", {})
            if isinstance(tool, dict) and "mse-lint" in tool:
                table = tool["mse-lint"]
                if not isinstance(table, dict):
                    raise ConfigError(f"{pyproject}: [tool.mse-lint] must be a table")
                return pyproject, table
        if (folder / ".git").exists():
            break
    return None


def _present(path: Path) -> bool:
    """Something that is not a folder is at ``path``: a settings file, or a FIFO or device
    under its name, which ``_read`` then refuses with a message (never skipped silently)."""
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _read(path: Path) -> dict[str, Any]:
    tomllib = toml_parser()  # on demand (mse_lint.core.toml)
    from mse_lint.source.nesting import TOML_TOO_DEEP, toml_too_deep

    try:
        data = read_regular(path, "settings")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
        deep = toml_too_deep(text)
        if deep is not None:
            raise ConfigError(f"{path}:{deep[0]}:{deep[1]}: {TOML_TOO_DEEP}")
        parsed: dict[str, Any] = tomllib.loads(text)
        return parsed
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError:  # not expected within the depth limit: still never a crash
        raise ConfigError(f"{path}: {TOML_TOO_DEEP}") from None


def load_settings(start: Path, explicit: Optional[Path] = None, use_files: bool = True) -> Settings:
    base = Settings()
    if explicit is not None:
        if not _present(explicit):
            raise ConfigError(f"{explicit}: config file not found")
        doc = _read(explicit)
        tool = doc.get("tool", {})
        table = tool.get("mse-lint", doc) if isinstance(tool, dict) and "mse-lint" in tool else doc
        return _apply(explicit, table, base)
    if not use_files:
        return base
    found = find_config(start)
    if found is None:
        return base
    return _apply(found[0], found[1], base)


def _apply(path: Path, table: Mapping[str, Any], base: Settings) -> Settings:
    try:
        s = settings_from_mapping(table, str(path), base)
    except ConfigError as exc:
        msg = str(exc)
        m = re.search(r"`([\w.-]+)`", msg)
        if m:
            where = _key_line(path, m.group(1).split(".")[0])
            msg = msg.replace(str(path), where, 1)
        raise ConfigError(msg) from None
    return replace(s, source=path)


def parse_severity_overrides(items: Iterable[str]) -> dict[str, Severity]:
    out: dict[str, Severity] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--severity {item!r}: use ID=LEVEL, for example MSE109=error")
        key, _, value = item.partition("=")
        _codes([key], "--severity", "command line")
        out[key.strip().upper()] = _severity(value, "--severity", "command line")
    return out
