"""Per-file checks. Each family module exposes a class with ``codes`` (the rule IDs it can
report), ``wants(text)`` (a cheap text prefilter) and ``run(ctx)`` returning Diagnostics."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import FILE_SPAN, Diagnostic, Span
from mse_lint.core.record import Frozen, Mutable, field
from mse_lint.core.record import set_field as _set
from mse_lint.core.settings import Settings
from mse_lint.project.model import Manifest, Project

if TYPE_CHECKING:
    from mse_lint.analysis.scope import ModuleIndex


_WORD = re.compile(r"\w+")
_LAST_WORDS: list[Any] = [None, frozenset()]


def words(text: str) -> frozenset[str]:
    """The maximal runs of word characters in ``text``: the identifiers and keywords a file
    holds (and numbers, and words of strings and comments). A name ``n`` made of word
    characters is in it exactly when ``re.search(rf"\\b{n}\\b", text)`` finds it, and a set
    lookup costs nothing, so the families' text prefilters share this one scan. The engine asks
    every family about the same text in turn: the last text's words are kept (the text too,
    so that the identity test cannot see another string at a recycled address)."""
    if _LAST_WORDS[0] is not text:
        _LAST_WORDS[1] = _scan_words(text)
        _LAST_WORDS[0] = text
    found: frozenset[str] = _LAST_WORDS[1]
    return found


# ASCII bytes that are not word characters, as spaces; every other byte (word characters, and
# the bytes of UTF-8 sequences) unchanged
_ASCII_BREAKS = bytes(
    b if b >= 0x80 or chr(b).isalnum() or b == ord("_") else ord(" ") for b in range(256)
)


def _scan_words(text: str) -> frozenset[str]:
    """``frozenset(re.findall(r"\\w+", text))``, at C speed: the regex costs a few times more
    than splitting the text at its ASCII non-word characters (mapped to spaces as bytes). A run
    of word characters never spans such a character, nor any other whitespace ``str.split``
    splits at, so each piece is either one run of ASCII word characters or holds non-ASCII
    characters, which the regex then splits into runs itself."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return frozenset(_WORD.findall(text))
    pieces = frozenset(data.translate(_ASCII_BREAKS).decode("utf-8").split())
    if len(data) == len(text):  # all ASCII
        return pieces
    odd = [p for p in pieces if not p.isascii()]
    if not odd:
        return pieces
    return pieces.difference(odd).union([w for p in odd for w in _WORD.findall(p)])


def word_set(names: Iterable[str]) -> Optional[frozenset[str]]:
    """``names`` as a set to intersect with :func:`words`, or None when one of them is not
    made of word characters only (then the caller needs a real pattern)."""
    out = frozenset(names)
    return out if all(_WORD.fullmatch(n) for n in out) else None


class LazyPattern:
    """A regular expression compiled on first use: the catalogue's patterns take longer to
    compile than a small file takes to check, and most files never reach most of them (a
    fallback, a format few files come near). ``build`` makes the pattern another way (a union
    that skips invalid parts, say)."""

    __slots__ = ("_build", "_compiled")

    def __init__(
        self,
        pattern: str = "",
        flags: int = 0,
        build: Optional[Callable[[], re.Pattern[str]]] = None,
    ) -> None:
        self._build = build or functools.partial(re.compile, pattern, flags)
        self._compiled: Optional[re.Pattern[str]] = None

    def get(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = self._build()
        return self._compiled

    def search(self, text: str) -> Optional[re.Match[str]]:
        return self.get().search(text)

    def match(self, text: str) -> Optional[re.Match[str]]:
        return self.get().match(text)

    def fullmatch(self, text: str) -> Optional[re.Match[str]]:
        return self.get().fullmatch(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.get().finditer(text)

    def findall(self, text: str) -> list[Any]:
        return self.get().findall(text)


Needs = list[tuple[frozenset[str], tuple[str, ...]]]


def name_needs(names: Iterable[str], words_alone: Iterable[str] = ()) -> Optional[Needs]:
    """What a file's text must hold for a reference in it to resolve to one of the qualified
    ``names`` (``os.system``, ``celery.Celery().Worker``, patterns like ``os.spawn*``) through
    the scope index: every part of a resolved name comes from the text (an import, an
    attribute, a getattr or import_module string, a name a star import brings; ``Celery()``
    is a call of ``Celery``), so each name needs all its parts among :func:`words`, and a
    pattern's starred part its literal pieces somewhere in the text. ``words_alone``: words
    that are enough on their own (method names). None when a part is not made of word
    characters (the caller keeps a regular expression then). Only for resolution without a
    ``returns`` table, or with one whose values are prefixes of their keys."""
    needs: Needs = []
    for name in names:
        parts = [p for p in name.replace("()", "").split(".") if p and p != "builtins"]
        pieces = tuple(piece for p in parts if "*" in p for piece in p.split("*") if piece)
        needs.append((frozenset(p for p in parts if "*" not in p), pieces))
    needs += [(frozenset({w}), ()) for w in words_alone]
    if any(word_set(need) is None for need, _ in needs):
        return None
    return needs


def meets(needs: Needs, text: str) -> bool:
    """Whether ``text`` holds everything one of ``needs`` asks for."""
    have = words(text)
    return any(need <= have and all(p in text for p in pieces) for need, pieces in needs)


class ProjectInfo(Frozen):
    """What per-file checks may know of the project (picklable: it goes to worker processes)."""

    local_modules: frozenset[str] = frozenset()
    # Top-level keys of the secrets JSON named by `[cloud] secrets` (None: not configured or
    # not readable), and that file's path as displayed.
    secret_keys: Optional[frozenset[str]] = None
    secrets_file: Optional[str] = None
    # mse.toml's [cloud] table is filled in for MSE cloud (docker, project and hardware set)
    cloud: bool = False
    # The code dir (absolute) and what the manifest says of the paths in it (relative, "/"):
    # ``shipped`` ships; ``unshipped`` maps a path that exists but does not ship to its fate
    # (excluded, hidden, broken-link, link-loop). None when there is no code dir.
    code_dir: Optional[str] = None
    shipped: frozenset[str] = frozenset()
    unshipped: Mapping[str, str] = field(default_factory=dict)
    # The docker image mse.toml names (1.x `[cloud] docker`, 0.x `[code] docker`), if any
    docker: Optional[str] = None
    # What pip installs at container start: the requirement texts of the code dir's top-level
    # requirements.txt (``-r`` includes followed), None when it does not ship
    requirements: Optional[tuple[str, ...]] = None
    # The project Dockerfile (next to mse.toml; `mse home` apps name their image there): its
    # final FROM image and the requirements its `pip install` lines name
    dockerfile_image: Optional[str] = None
    dockerfile_installs: tuple[str, ...] = ()
    # what reading these facts found wrong, said once per run: (file, message), e.g. a secrets
    # file that is not JSON
    notices: tuple[tuple[str, str], ...] = ()

    def __init__(
        self,
        local_modules: frozenset[str] = frozenset(),
        secret_keys: Optional[frozenset[str]] = None,
        secrets_file: Optional[str] = None,
        cloud: bool = False,
        code_dir: Optional[str] = None,
        shipped: frozenset[str] = frozenset(),
        unshipped: Optional[Mapping[str, str]] = None,
        docker: Optional[str] = None,
        requirements: Optional[tuple[str, ...]] = None,
        dockerfile_image: Optional[str] = None,
        dockerfile_installs: tuple[str, ...] = (),
        notices: tuple[tuple[str, str], ...] = (),
    ) -> None:
        _set(self, "local_modules", local_modules)
        _set(self, "secret_keys", secret_keys)
        _set(self, "secrets_file", secrets_file)
        _set(self, "cloud", cloud)
        _set(self, "code_dir", code_dir)
        _set(self, "shipped", shipped)
        _set(self, "unshipped", {} if unshipped is None else unshipped)
        _set(self, "docker", docker)
        _set(self, "requirements", requirements)
        _set(self, "dockerfile_image", dockerfile_image)
        _set(self, "dockerfile_installs", dockerfile_installs)
        _set(self, "notices", notices)


class FileContext(Mutable):
    """What a check may look at for one file. Checks never read other files themselves."""

    path: str  # as displayed and reported
    source: str
    tree: ast.Module
    catalog: Catalog
    target_python: tuple[int, int] = (3, 10)
    local_modules: frozenset[str] = frozenset()
    project: ProjectInfo = field(default_factory=ProjectInfo)
    # the file on disk (absolute or relative to the run's cwd): to place it in the code dir
    file: str = ""
    _lines: Optional[list[str]] = None
    _nodes: Optional[list[ast.AST]] = None
    _indexes: dict[frozenset[tuple[str, str]], ModuleIndex] = field(default_factory=dict)
    _hidden = frozenset({"_lines", "_nodes", "_indexes"})

    def __init__(
        self,
        path: str,
        source: str,
        tree: ast.Module,
        catalog: Catalog,
        target_python: tuple[int, int] = (3, 10),
        local_modules: frozenset[str] = frozenset(),
        project: Optional[ProjectInfo] = None,
        file: str = "",
        _lines: Optional[list[str]] = None,
        _nodes: Optional[list[ast.AST]] = None,
        _indexes: Optional[dict[frozenset[tuple[str, str]], ModuleIndex]] = None,
    ) -> None:
        self.path = path
        self.source = source
        self.tree = tree
        self.catalog = catalog
        self.target_python = target_python
        self.local_modules = local_modules
        self.project = ProjectInfo() if project is None else project
        self.file = file
        self._lines = _lines
        self._nodes = _nodes
        self._indexes = {} if _indexes is None else _indexes

    def index(self, returns: Optional[Mapping[str, str]] = None) -> ModuleIndex:
        """The module's scope index (``mse_lint.analysis.scope``), built once per file: building
        it is most of a check's cost: checks that resolve calls with another ``returns`` table get a
        view of the same index (:meth:`ModuleIndex.with_returns`)."""
        key = frozenset((returns or {}).items())
        found = self._indexes.get(key)
        if found is None:
            if self._indexes:
                # another table: the same scopes and bindings, resolved anew
                found = next(iter(self._indexes.values())).with_returns(returns)
            else:
                from mse_lint.analysis.scope import ModuleIndex

                found = ModuleIndex(self.tree, returns)
            self._indexes[key] = found
        return found

    def release(self) -> None:
        """Free what the checks built for this file (the indexes hold reference cycles)."""
        for index in self._indexes.values():
            index.release()
        self._indexes.clear()
        self._nodes = None

    @property
    def nodes(self) -> list[ast.AST]:
        """The tree's nodes in ``ast.walk`` order, without expression contexts and operators
        (``astwalk.syntax_nodes``), listed once per file for all checks (do not modify it)."""
        if self._nodes is None:
            from mse_lint.analysis.astwalk import syntax_nodes

            self._nodes = syntax_nodes(self.tree)
        return self._nodes

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return self._lines

    def char_col(self, line: int, byte_col: int) -> int:
        """ast columns are UTF-8 byte offsets; reports use characters (1-based)."""
        if 1 <= line <= len(self.lines):
            text = self.lines[line - 1]
            if not text.isascii():
                return len(text.encode("utf-8")[:byte_col].decode("utf-8", "ignore")) + 1
        return byte_col + 1

    def span(self, node: ast.AST) -> Span:
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        col = getattr(node, "col_offset", 0)
        end_col = getattr(node, "end_col_offset", None)
        if end_col is None:
            end_col = col + 1
        return Span(line, self.char_col(line, col), end_line, self.char_col(end_line, end_col))

    def diagnostic(
        self, rule_id: str, node: ast.AST, stmt: Optional[ast.AST] = None, **values: object
    ) -> Diagnostic:
        rule = self.catalog.get(rule_id)
        stmt_line = getattr(stmt, "lineno", 0) if stmt is not None else 0
        secret = bool(values.pop("_secret", False))
        span = values.pop("_span", None)
        return Diagnostic(
            path=self.path,
            span=span if isinstance(span, Span) else self.span(node),
            rule=rule_id,
            severity=rule.severity,
            message=rule.format(**values),
            fix=rule.fix,
            stmt_line=stmt_line,
            secret=secret,
        )


class Check(Protocol):
    codes: frozenset[str]

    def wants(self, text: str) -> bool: ...

    def run(self, ctx: FileContext) -> Iterable[Diagnostic]: ...


# The families, as (module in mse_lint.checks, class). Imported only when one of their rules is
# enabled, so that a run never imports what it does not use. A family is one line here.
FILE_CHECKS: tuple[tuple[str, str], ...] = (
    ("process", "ProcessCheck"),
    ("secret_values", "SecretValuesCheck"),
    ("secret_formats", "SecretFormatsCheck"),
    ("secret_usage", "SecretUsageCheck"),
    ("imports", "ImportsCheck"),
    ("app", "ServerStartCheck"),
    ("paths", "PathsCheck"),
    ("environment", "EnvironmentCheck"),
    ("compat", "CompatCheck"),
    ("runtime", "RuntimeCheck"),
)
# The families whose judgement of what is secret decides what every output masks
# (mse_lint.core.redact): they run on every file, whatever rules are selected.
SECRET_JUDGES: tuple[tuple[str, str], ...] = (
    ("secret_values", "SecretValuesCheck"),
    ("secret_formats", "SecretFormatsCheck"),
)
PROJECT_CHECKS: tuple[tuple[str, str], ...] = (
    ("secret_files", "SecretFilesCheck"),
    ("config", "ConfigCheck"),
    ("app", "AppCheck"),
    ("shipping", "ShippingCheck"),
)


def _instantiate(
    families: tuple[tuple[str, str], ...],
    catalog: Catalog,
    enabled: frozenset[str],
    settings: Optional[Settings],
) -> list[Any]:
    import importlib

    settings = settings or Settings()
    out: list[Any] = []
    for module, name in families:
        cls = getattr(importlib.import_module(f"{__name__}.{module}", __name__), name)
        if cls.codes & enabled:
            out.append(cls(catalog, settings))
    return out


def build_families(
    families: tuple[tuple[str, str], ...], catalog: Catalog, settings: Settings
) -> list[Any]:
    """One instance of each of ``families``, whatever rules are enabled."""
    import importlib

    return [
        getattr(importlib.import_module(f"{__name__}.{module}", __name__), name)(catalog, settings)
        for module, name in families
    ]


def build_checks(
    catalog: Catalog, enabled: frozenset[str], settings: Optional[Settings] = None
) -> list[Check]:
    """The per-file checks that can report at least one enabled rule."""
    return _instantiate(FILE_CHECKS, catalog, enabled, settings)


class ProjectContext(Mutable):
    """What project-level checks (files that are not Python: manifest, requirements, secrets
    files, mse.toml) may look at."""

    project: Project
    manifest: Optional[Manifest]
    catalog: Catalog
    display: Callable[[Path], str]
    target_python: tuple[int, int] = (3, 10)

    def __init__(
        self,
        project: Project,
        manifest: Optional[Manifest],
        catalog: Catalog,
        display: Callable[[Path], str],
        target_python: tuple[int, int] = (3, 10),
    ) -> None:
        self.project = project
        self.manifest = manifest
        self.catalog = catalog
        self.display = display
        self.target_python = target_python

    def diagnostic(
        self, rule_id: str, path: str, span: Span, secret: bool = False, **values: object
    ) -> Diagnostic:
        """A finding at ``FILE_SPAN`` is about the whole file: no line of it is ever quoted."""
        rule = self.catalog.get(rule_id)
        return Diagnostic(
            path=path,
            span=span,
            rule=rule_id,
            severity=rule.severity,
            message=rule.format(**values),
            fix=rule.fix,
            stmt_line=span.line,
            secret=secret,
            whole_file=span == FILE_SPAN,
        )


class ProjectCheck(Protocol):
    codes: frozenset[str]

    def run(self, ctx: ProjectContext) -> Iterable[Diagnostic]: ...


def build_project_checks(
    catalog: Catalog, enabled: frozenset[str], settings: Optional[Settings] = None
) -> list[ProjectCheck]:
    """The project-level checks that can report at least one enabled rule."""
    return _instantiate(PROJECT_CHECKS, catalog, enabled, settings)


def project_info(project: Project) -> ProjectInfo:
    """Facts about the project that per-file checks need, read once per run."""
    from mse_lint.source.nesting import loads_json

    toml = project.mse_toml
    notices: list[tuple[str, str]] = []
    keys: Optional[frozenset[str]] = None
    secrets_file: Optional[str] = None
    cloud = False
    if toml is not None:
        table = toml.data.get("cloud")
        if isinstance(table, dict):
            cloud = all(
                isinstance(table.get(k), str) and table[k].strip()
                for k in ("docker", "project", "hardware")
            )
            name = table.get("secrets")
            if isinstance(name, str) and name.strip():
                path = toml.folder / name
                secrets_file = str(path)
                raw = project.read(path, "secrets")
                try:
                    data = loads_json(raw.decode("utf-8")) if raw is not None else None
                    if isinstance(data, dict):
                        keys = frozenset(str(k) for k in data)
                except OSError:
                    keys = None
                except ValueError as exc:  # mse-cli's json.load fails on it too
                    keys = None
                    notices.append(
                        (
                            str(path),
                            f"the secrets file cannot be read as JSON ({exc}); MSE209 cannot "
                            "compare the keys the code reads with it",
                        )
                    )
    code_dir: Optional[str] = None
    shipped: frozenset[str] = frozenset()
    unshipped: dict[str, str] = {}
    manifest = project.manifest()
    if manifest is not None:
        code_dir = str(manifest.code_dir.resolve())
        shipped = frozenset(e.rel for e in manifest.entries if e.fate.ships)
        unshipped = {e.rel: e.fate.value for e in manifest.entries if not e.fate.ships}
    docker: Optional[str] = None
    if toml is not None:
        for table in (toml.data.get("cloud"), toml.data.get("code")):
            if isinstance(table, dict) and isinstance(table.get("docker"), str):
                docker = table["docker"]
                break
    requirements: Optional[tuple[str, ...]] = None
    dockerfile_image: Optional[str] = None
    dockerfile_installs: tuple[str, ...] = ()
    if manifest is not None and "requirements.txt" in shipped:
        from mse_lint.project.requirements import entries

        top = manifest.code_dir / "requirements.txt"
        requirements = tuple(e.text for e in entries(top, manifest.code_dir, reader=project.read))
    if toml is not None:
        from mse_lint.project.requirements import read_dockerfile

        dockerfile = read_dockerfile(toml.folder / "Dockerfile", project.read)
        if dockerfile is not None:
            dockerfile_image, dockerfile_installs = dockerfile.image, dockerfile.installs
    return ProjectInfo(
        project.local_modules(),
        keys,
        secrets_file,
        cloud,
        code_dir=code_dir,
        shipped=shipped,
        unshipped=unshipped,
        docker=docker,
        requirements=requirements,
        dockerfile_image=dockerfile_image,
        dockerfile_installs=dockerfile_installs,
        notices=tuple(notices),
    )
