"""mse.toml: MSE401-MSE404 and MSE407-MSE410 (project-level).

The file is judged as mse-cli judges it: parsed by ``toml`` 0.10.2 (mse-cli's parser, imported
only here), validated against the pydantic v1 models of mse-cli 1.x (or 0.x for a legacy file),
paths resolved from mse.toml's folder without ``~`` expansion. Every finding points at the key
(or table header) in mse.toml; positions come from :mod:`mse_lint.project.tomlpos`. How a value
is read and typed is mse_lint.checks.mse_toml_values.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from mse_lint.checks import ProjectContext
from mse_lint.checks.mse_toml_values import (
    KeySpec,
    app_problem,
    bad_date,
    inline_pem,
    pydantic_datetime,
    pydantic_str,
    relative,
    toml_kind,
    toml_string,
    type_problem,
)
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Severity, Span
from mse_lint.core.record import replace
from mse_lint.core.settings import Settings
from mse_lint.project.model import MseToml, path_is
from mse_lint.project.tomlpos import KeyPos, key_positions

_START = Span(1, 1, 1, 2)


def _path(table: str, key: str = "") -> tuple[str, ...]:
    parts = tuple(p for p in table.split(".") if p)
    return (*parts, key) if key else parts


def _shown(table: str, key: str) -> str:
    return f"[{table}] {key}" if table else key


class _Positions:
    def __init__(self, toml: MseToml) -> None:
        self.keys = key_positions(toml.source)

    def get(self, path: Sequence[str]) -> Optional[KeyPos]:
        return self.keys.get(tuple(path))

    def span(self, path: Sequence[str]) -> Span:
        """The key (or, for a key that is absent, its table's header; else line 1)."""
        path = tuple(path)
        while path:
            found = self.keys.get(path)
            if found is not None:
                return found.whole if found.value is not None else found.key
            # a dotted key (`cloud.code = ...`) defines its tables implicitly
            below = [
                pos for k, pos in self.keys.items() if len(k) > len(path) and k[: len(path)] == path
            ]
            if below:
                return min(below, key=lambda p: (p.key.line, p.key.col)).key
            path = path[:-1]
        return _START

    def value_text(self, path: Sequence[str]) -> str:
        found = self.keys.get(tuple(path))
        return found.value_text if found is not None else ""


class ConfigCheck:
    codes = frozenset(
        {"MSE401", "MSE402", "MSE403", "MSE404", "MSE407", "MSE408", "MSE409", "MSE410"}
    )

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        data = catalog.data("config")
        self.specs = [KeySpec(**raw) for raw in data.get("key", [])]
        self.aliases = {(a["table"], a["key"]): a["means"] for a in data.get("alias", [])}
        self.legacy = [(entry["key"], entry["means"]) for entry in data.get("legacy", [])]
        self.legacy_new = list(data.get("legacy_new_keys", []))
        self.legacy_values = {
            (entry["key"], entry["value"]): entry["means"] for entry in data.get("legacy_value", [])
        }
        self.hardware = re.compile(data.get("hardware_pattern", r"^\S+$"))
        self.hardware_example = data.get("hardware_example", "4g-eu-001")
        self.dated_images = tuple(data.get("dated_images", ()))
        self.dated_tag = re.compile(data.get("dated_tag_pattern", r"^\d{14}$"))

    def wants(self, text: str) -> bool:
        return False

    def run(self, ctx: ProjectContext) -> Iterable[Diagnostic]:
        toml = ctx.project.mse_toml
        if toml is None:
            return []
        return list(_Run(self, ctx, toml).diagnostics())


class _Run:
    def __init__(self, check: ConfigCheck, ctx: ProjectContext, toml: MseToml) -> None:
        self.check = check
        self.ctx = ctx
        self.toml = toml
        self.data = toml.data
        self.pos = _Positions(toml)
        self.path = ctx.display(toml.path)
        self.schema = toml.schema

    def diag(
        self, rule: str, span: Span, severity: Optional[Severity] = None, **values: object
    ) -> Diagnostic:
        d = self.ctx.diagnostic(rule, self.path, span, False, **values)
        return d if severity is None or severity == d.severity else replace(d, severity=severity)

    # -- the whole file ------------------------------------------------------------------------
    def diagnostics(self) -> Iterator[Diagnostic]:
        if self.toml.error is not None:
            e = self.toml.error
            yield self.diag("MSE401", Span(e.line, e.col, e.line, e.col + 1), detail=e.message)
            return
        parse = self.toml_0_10_2()
        if parse is not None:
            # mse-cli stops there; tomllib's reading still shows what would fail next
            yield parse
        if self.schema != "1.x":
            # A legacy file: MSE404 says how to migrate it. Both legacy schemas are then checked
            # alike for what they say of the project (folders and files, expiration, the image):
            # facts that hold whatever the CLI. Values judged against 1.x (hardware names) are
            # not: `resource = "free"` was right for the CLI the file was written for. Only 0.x
            # has a model of its keys (MSE402/MSE403); pre-0.9 files have none.
            yield from self.legacy()
        if self.schema != "pre-0.9":
            yield from self.schema_checks()
            yield from self.unknown_keys()
        yield from self.paths()
        yield from self.expiration()
        yield from self.deploy_values()
        yield from self.tests_cmd()

    def toml_0_10_2(self) -> Optional[Diagnostic]:
        """What mse-cli's parser rejects although tomllib accepted it (mixed arrays...)."""
        import toml

        mixed = self.mixed_array()
        try:
            toml.loads(self.toml.source)
        except toml.TomlDecodeError as exc:
            if "homogeneous" in exc.msg or mixed is not None:
                return self.mixed_diag(mixed, exc.lineno, exc.colno)
            return self.diag(
                "MSE401", Span(exc.lineno, exc.colno, exc.lineno, exc.colno + 1), detail=exc.msg
            )
        except Exception as exc:  # the old parser crashes on some inputs: mse-cli does too
            if mixed is not None:
                return self.mixed_diag(mixed, 1, 1)
            return self.diag(
                "MSE401",
                _START,
                detail=f"toml 0.10.2 (mse-cli's parser) crashes on it ({type(exc).__name__}: "
                f"{exc})",
            )
        return None

    def mixed_diag(self, span: Optional[Span], line: int, col: int) -> Diagnostic:
        return self.diag(
            "MSE401",
            span or Span(line, col, line, col + 1),
            detail="an array mixes value types, which toml 0.10.2 (mse-cli's parser) refuses",
        )

    def mixed_array(self) -> Optional[Span]:
        """The first array (in file order) whose items are not all of one TOML type."""
        found: list[Span] = []

        def walk(node: Any, path: tuple[str, ...]) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(v, (*path, k))
            elif isinstance(node, list):
                kinds = {toml_kind(v) for v in node}
                if len(kinds) > 1:
                    pos = self.pos.get(path)
                    if pos is not None and pos.value is not None:
                        found.append(pos.value)
                for i, v in enumerate(node):
                    walk(v, (*path, str(i)))

        walk(self.data, ())
        return min(found, key=lambda sp: (sp.line, sp.col)) if found else None

    @property
    def cloud_table(self) -> Optional[Mapping[str, Any]]:
        value = self.data.get("cloud")
        return value if isinstance(value, dict) else None

    @property
    def home(self) -> bool:
        """An `mse home` project: `mse home` drops [cloud]; the scaffold leaves its deploy
        values empty. Cloud-only keys are not required then."""
        if self.schema != "1.x":
            return False
        cloud = self.cloud_table
        if cloud is None:
            return True
        values = [cloud.get(k) for k in ("docker", "project", "hardware")]
        return all(isinstance(v, str) and not v.strip() for v in values)

    def specs(self) -> list[KeySpec]:
        return [s for s in self.check.specs if s.schema == self.schema]

    def table(self, name: str) -> Optional[Mapping[str, Any]]:
        node: Any = self.data
        for part in _path(name):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node if isinstance(node, dict) else None

    # -- MSE402 --------------------------------------------------------------------------------
    def schema_checks(self) -> Iterator[Diagnostic]:
        home = self.home
        for spec in self.specs():
            if spec.cloud_only and home:
                continue
            table = self.table(spec.table)
            if table is None:
                continue
            where = _path(spec.table, spec.key)
            shown = _shown(spec.table, spec.key)
            if spec.key not in table:
                if spec.required and not (spec.either and spec.either in table):
                    header = _path(spec.table)
                    what = f"[{spec.table}]" if spec.table else "mse.toml"
                    yield self.diag(
                        "MSE402",
                        self.pos.span(header) if header else _START,
                        detail=f"{what} lacks the required key `{spec.key}`: mse-cli refuses "
                        "to load the file",
                    )
                continue
            value = table[spec.key]
            problem = type_problem(spec, value)
            if problem is None:
                problem = self.value_problem(spec, value)
            if problem is not None:
                yield self.diag("MSE402", self.pos.span(where), detail=f"`{shown}` {problem}")

    def value_problem(self, spec: KeySpec, value: Any) -> Optional[str]:
        if spec.type == "str":
            text = pydantic_str(value)
            if spec.strip:
                text = text.strip()
            if spec.min is not None and len(text) < spec.min:
                return (
                    "is empty"
                    + (" once stripped" if spec.strip and value else "")
                    + (": mse-cli requires a value")
                )
            if spec.max is not None and len(text) > spec.max:
                return f"is {len(text)} characters long: mse-cli allows at most {spec.max}"
            if spec.key == "healthcheck_endpoint" and not text.startswith("/"):
                return f"= {value!r} does not start with `/`: mse-cli refuses it"
            if spec.key == "python_application":
                return app_problem(text)
        if spec.type == "list_str":
            for item in value:
                if isinstance(item, (dict, list, dt.date, dt.time)):
                    return "must be a list of strings"
        return None

    # -- MSE403 --------------------------------------------------------------------------------
    def unknown_keys(self) -> Iterator[Diagnostic]:
        specs = self.specs()
        tables: dict[str, set[str]] = {}
        for s in specs:
            tables.setdefault(s.table, set()).add(s.key)
        ignored = {(s.table, s.key): s.ignored for s in specs if s.ignored}
        for table_name, known in tables.items():
            table = self.table(table_name)
            if table is None:
                continue
            for key in table:
                if (table_name, key) in ignored:
                    hint = f"; {ignored[(table_name, key)]}"
                elif key in known:
                    continue
                else:
                    hint = self.suggest(table_name, key, known)
                yield self.diag(
                    "MSE403",
                    self.pos.span(_path(table_name, key)),
                    key=_shown(table_name, key),
                    hint=hint,
                )

    def suggest(self, table: str, key: str, known: set[str]) -> str:
        alias = self.check.aliases.get((table, key))
        if alias is not None and self.schema == "1.x":
            return f"; did you mean `{alias}`?"
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        if close:
            return f"; did you mean `{_shown(table, close[0])}`?"
        elsewhere = sorted(
            s.table for s in self.specs() if s.key == key and s.table != table and s.table
        ) + [s.table for s in self.specs() if s.key == key and not s.table and table]
        if elsewhere:
            where = elsewhere[0]
            return f"; `{key}` belongs in " + (f"[{where}]" if where else "the top level")
        return ""

    # -- MSE404 --------------------------------------------------------------------------------
    def legacy(self) -> Iterator[Diagnostic]:
        mapping: list[str] = []
        first: Optional[Span] = None
        for old, new in self.check.legacy:
            parts = tuple(old.split("."))
            node: Any = self.data
            for part in parts:
                node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                continue
            pos = self.pos.get(parts)
            shown_old = f"[{parts[0]}] {parts[1]}" if len(parts) == 2 else parts[0]
            raw = pos.value_text if pos is not None and pos.value_text else repr(node)
            raw = raw if len(raw) <= 60 else raw[:57] + "..."
            if new == shown_old:
                continue  # the same in 1.x
            if isinstance(node, str) and inline_pem(node):
                # a key or certificate written inline (pre-0.9): never quoted, and 1.x wants
                # the path of a file that holds it
                mapping.append(f"`{shown_old} = <a PEM block>` -> `{new} = <its file's path>`")
            elif new:
                value = self.check.legacy_values.get((old, node)) if isinstance(node, str) else None
                mapping.append(
                    f"`{shown_old} = {raw}` -> `{new} = {toml_string(value) if value else raw}`"
                )
            else:
                mapping.append(f"`{shown_old}` -> none (remove it)")
            if old != new and pos is not None:
                header = self.pos.get(parts[:1]) if len(parts) == 2 else None
                span = header.key if header is not None else pos.key
                if first is None or (span.line, span.col) < (first.line, first.col):
                    first = span
        mapping.append("add " + ", ".join(f"`{k}`" for k in self.check.legacy_new))
        yield self.diag("MSE404", first or _START, schema=self.schema, mapping="; ".join(mapping))

    # -- MSE407 --------------------------------------------------------------------------------
    def paths(self) -> Iterator[Diagnostic]:
        folder = self.toml.folder
        if self.schema == "1.x":
            cloud = self.cloud_table or {}
            ssl = cloud.get("ssl") if isinstance(cloud.get("ssl"), dict) else {}
            items = [
                ("cloud", "code", cloud, True),
                ("cloud", "tests", cloud, True),
                ("cloud", "secrets", cloud, False),
                ("cloud.ssl", "private_key", ssl, False),
                ("cloud.ssl", "certificate", ssl, False),
            ]
        else:
            code = self.table("code") or {}
            ssl = self.table("ssl") or {}
            items = [
                ("code", "location", code, True),
                ("code", "secrets", code, False),
                ("ssl", "private_key", ssl, False),
                ("ssl", "certificate", ssl, False),
            ]
        home = self.home
        for table, key, values, is_dir in items:
            if home and not is_dir:
                continue  # `mse home` drops [cloud]: its secrets and SSL files are not read
            value = values.get(key) if isinstance(values, dict) else None
            if not isinstance(value, str):
                continue
            if table.endswith("ssl") and inline_pem(value):
                continue  # the key or certificate itself (pre-0.9 files held them inline)
            target = folder / value
            if path_is(target, "dir" if is_dir else "file"):
                continue
            shown = _shown(table, key)
            if path_is(target, "any"):
                what = "is a file, not a folder" if is_dir else "is not a file"
            else:
                what = "does not exist"
            note = ""
            if value.startswith("~"):
                note = " (mse-cli does not expand `~`)"
            elif Path(value).is_absolute():
                note = ""
            elif path_is(Path.cwd() / value, "any") and Path.cwd().resolve() != folder.resolve():
                note = " (paths are relative to mse.toml's folder, not the current directory)"
            consequence = (
                "mse-cli stops before deploying" if is_dir else "it must be there when you deploy"
            )
            where = relative(target, folder)
            yield self.diag(
                "MSE407",
                self.pos.span(_path(table, key)),
                None if is_dir else Severity.WARNING,
                detail=f"`{shown} = {value!r}`: {where} {what}{note}; {consequence}",
            )

    # -- MSE408 --------------------------------------------------------------------------------
    def expiration(self) -> Iterator[Diagnostic]:
        if self.home:
            return
        table = "cloud" if self.schema == "1.x" else ""
        values = self.table(table) if table else self.data
        if not values or "expiration_date" not in values:
            return
        value = values["expiration_date"]
        span = self.pos.span(_path(table, "expiration_date"))
        when = pydantic_datetime(value)
        shown = _shown(table, "expiration_date")
        if when is None:
            yield self.diag(
                "MSE408",
                span,
                detail=f"`{shown}` = {self.pos.value_text(_path(table, 'expiration_date'))} "
                "is not a date and time mse-cli can read (a TOML date-time or an ISO 8601 "
                "string with a time)",
            )
            return
        if when <= dt.datetime.now(dt.timezone.utc):
            yield self.diag(
                "MSE408",
                span,
                detail=f"`{shown}` ({when.isoformat()}) is in the past: mse-cli refuses to deploy",
            )

    # -- MSE409 --------------------------------------------------------------------------------
    def deploy_values(self) -> Iterator[Diagnostic]:
        if self.home:
            return
        hardware: Any = None  # legacy files: `resource`/`plan` names of their own CLI
        hw_path: tuple[str, ...] = ()
        if self.schema == "1.x":
            cloud = self.cloud_table or {}
            hw_path = ("cloud", "hardware")
            hardware = cloud.get("hardware")
            docker, docker_path = cloud.get("docker"), ("cloud", "docker")
        else:
            code = self.table("code") or {}
            docker, docker_path = code.get("docker"), ("code", "docker")
        if (
            isinstance(hardware, str)
            and hardware.strip()
            and not self.check.hardware.match(hardware.strip())
        ):
            yield self.diag(
                "MSE409",
                self.pos.span(hw_path),
                detail=f"hardware {hardware!r} does not look like an MSE hardware name "
                f"(such as `{self.check.hardware_example}`): the deployment is refused",
            )
        if isinstance(docker, str) and docker.strip():
            problem = self.docker_problem(docker.strip())
            if problem:
                yield self.diag(
                    "MSE409", self.pos.span(docker_path), detail=f"docker {docker!r} {problem}"
                )

    def docker_problem(self, image: str) -> str:
        if "@" in image:
            return ""  # pinned by digest
        name, _, tag = image.rpartition(":")
        if not name or "/" in tag:
            return (
                "has no tag: the image changes under the app (Python 3.8 before 2023-07-20, "
                "3.10 after); pin a dated tag"
            )
        if tag == "latest":
            return (
                "is tagged `latest`: the image changes under the app; pin a dated tag such as "
                "20230810125234"
            )
        dated = any(name.startswith(p) for p in self.check.dated_images)
        if dated and (not self.check.dated_tag.match(tag) or bad_date(tag)):
            return (
                f"has the tag {tag!r}, which is not a build date (YYYYMMDDhhmmss, e.g. "
                "20230810125234): no such image"
            )
        return ""

    # -- MSE410 --------------------------------------------------------------------------------
    def tests_cmd(self) -> Iterator[Diagnostic]:
        value = self.data.get("tests_cmd")
        if self.schema == "1.x" and isinstance(value, str) and re.search(r"\s", value.strip()):
            yield self.diag(
                "MSE410", self.pos.span(("tests_cmd",)), value=self.pos.value_text(("tests_cmd",))
            )
