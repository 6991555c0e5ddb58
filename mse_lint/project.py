"""Find the MSE project (mse.toml, code dir) and what actually ships from it.

The manifest follows mse-cli's real behaviour (mse-cli 1.x ``prepare_code`` and
mse-lib-crypto's ``encrypt_directory``), not its documentation:

1. only ``<code>/.mseignore`` is read; each line that is not blank and does not start with ``#``
   once stripped is kept verbatim (``str.splitlines``, so trailing spaces stay);
2. the lines go to ``shutil.ignore_patterns``: ``fnmatch`` against the basename of every file
   and folder at every depth (case-sensitive on POSIX), inside ``shutil.copytree`` which follows
   symlinks;
3. of the copy, every path with a component starting with ``.`` is left out of the archive;
4. files named ``requirements.txt`` are not encrypted.
"""

from __future__ import annotations

import enum
import fnmatch
import functools
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from .record import Frozen, Mutable, replace
from .record import set_field as _set


class ProjectError(Exception):
    """A project that cannot be linted as given (exit code 2)."""


class Fate(enum.Enum):
    ENCRYPTED = "encrypted"
    CLEAR = "clear text"
    EXCLUDED = "excluded"
    HIDDEN = "hidden"
    BROKEN_LINK = "broken symlink"
    LINK_LOOP = "symlink loop"

    @property
    def ships(self) -> bool:
        return self in (Fate.ENCRYPTED, Fate.CLEAR)


class ManifestEntry(Frozen):
    rel: str  # relative to the code dir, "/" separators
    fate: Fate
    size: int = 0
    pattern: Optional[str] = None  # the .mseignore line that excluded it (or an ancestor)
    link: Optional[str] = None  # symlink target (resolved), when the path goes through a link
    is_dir: bool = False

    def __init__(
        self,
        rel: str,
        fate: Fate,
        size: int = 0,
        pattern: Optional[str] = None,
        link: Optional[str] = None,
        is_dir: bool = False,
    ) -> None:
        _set(self, "rel", rel)
        _set(self, "fate", fate)
        _set(self, "size", size)
        _set(self, "pattern", pattern)
        _set(self, "link", link)
        _set(self, "is_dir", is_dir)


class Manifest(Frozen):
    code_dir: Path
    patterns: tuple[str, ...]
    entries: tuple[ManifestEntry, ...]

    def __init__(
        self, code_dir: Path, patterns: tuple[str, ...], entries: tuple[ManifestEntry, ...]
    ) -> None:
        _set(self, "code_dir", code_dir)
        _set(self, "patterns", patterns)
        _set(self, "entries", entries)

    def shipped(self) -> Iterator[ManifestEntry]:
        return (e for e in self.entries if e.fate.ships)

    def totals(self) -> dict[Fate, tuple[int, int]]:
        out: dict[Fate, tuple[int, int]] = {}
        for e in self.entries:
            if e.is_dir:
                continue
            n, size = out.get(e.fate, (0, 0))
            out[e.fate] = (n + 1, size + e.size)
        return out


def read_mseignore(code_dir: Path) -> tuple[str, ...]:
    """The patterns mse-cli keeps, verbatim, in file order without duplicates."""
    path = code_dir / ".mseignore"
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read .mseignore: {exc.strerror}") from exc
    seen: dict[str, None] = {}
    for line in text.splitlines():
        if line.strip() and not line.strip().startswith("#"):
            seen.setdefault(line, None)
    return tuple(seen)


# A file or folder name is at most 255 bytes (NAME_MAX), hence at most 255 characters.
_NAME_MAX = 255


def _can_match_a_name(pattern: str) -> bool:
    """False for a pattern that needs more characters than any name has. fnmatch compiles a
    long pattern slowly (quadratically for runs of ``[``), so a megabyte-long .mseignore line
    would stall the run; mse-cli would find it matches nothing, and so do we, quickly."""
    if len(pattern) <= _NAME_MAX:
        return True
    n = len(pattern)
    # next_close[i]: the index of the first "]" at or after i (n if none)
    next_close = [n] * (n + 1)
    for i in range(n - 1, -1, -1):
        next_close[i] = i if pattern[i] == "]" else next_close[i + 1]
    needed = i = 0
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            continue
        if c == "[":  # fnmatch.translate's reading of a bracket expression
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            j = next_close[j] if j < n else n
            if j < n:
                i = j + 1
        needed += 1
        if needed > _NAME_MAX:
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _usable(pattern: str) -> bool:
    return _can_match_a_name(pattern)


def matching_pattern(name: str, patterns: Sequence[str]) -> Optional[str]:
    for p in patterns:
        if _usable(p) and fnmatch.fnmatch(name, p):
            return p
    return None


def fate_of(rel: str, patterns: Sequence[str]) -> tuple[Fate, Optional[str]]:
    """The fate of a path relative to the code dir, judged on its components (no symlinks)."""
    parts = rel.split("/")
    for part in parts:
        p = matching_pattern(part, patterns)
        if p is not None:
            return Fate.EXCLUDED, p
    if any(part.startswith(".") for part in parts):
        return Fate.HIDDEN, None
    if parts[-1] == "requirements.txt":
        return Fate.CLEAR, None
    return Fate.ENCRYPTED, None


def build_manifest(code_dir: Path, expand: bool = True) -> Manifest:
    """Every file under the code dir with its fate. With ``expand=False``, excluded and hidden
    folders are listed as one entry each instead of file by file (faster for linting)."""
    patterns = read_mseignore(code_dir)
    entries: list[ManifestEntry] = []
    root_real = os.path.realpath(code_dir)

    def walk(
        directory: str,
        rel: str,
        active: frozenset[str],
        inherited: Optional[tuple[Fate, Optional[str]]],
        link: Optional[str],
    ) -> None:
        try:
            with os.scandir(directory) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for item in items:
            child_rel = f"{rel}/{item.name}" if rel else item.name
            fate: Optional[tuple[Fate, Optional[str]]] = inherited
            if fate is None:
                p = matching_pattern(item.name, patterns)
                if p is not None:
                    fate = (Fate.EXCLUDED, p)
                elif item.name.startswith("."):
                    fate = (Fate.HIDDEN, None)
            child_link = link
            try:
                is_link = item.is_symlink()
                if is_link:
                    child_link = os.path.realpath(item.path)
                is_dir = item.is_dir()  # follows symlinks, as copytree does
                is_file = not is_dir and item.is_file()
            except OSError:
                is_link, is_dir, is_file = True, False, False
            # copytree never opens a name its ignore function dropped (nor anything below it):
            # a dangling link or a loop there is harmless. In a hidden folder it is still copied
            # (only the tar leaves hidden paths out), so there it makes the copy fail.
            ignored = fate is not None and fate[0] is Fate.EXCLUDED
            if is_link and not is_dir and not is_file:
                if ignored:
                    assert fate is not None
                    entries.append(ManifestEntry(child_rel, fate[0], 0, fate[1], child_link))
                else:
                    entries.append(ManifestEntry(child_rel, Fate.BROKEN_LINK, 0, None, child_link))
                continue
            if is_dir:
                real = os.path.realpath(item.path)
                if real in active:
                    if ignored:
                        assert fate is not None
                        entries.append(
                            ManifestEntry(child_rel, fate[0], 0, fate[1], child_link, is_dir=True)
                        )
                    else:
                        entries.append(
                            ManifestEntry(child_rel, Fate.LINK_LOOP, 0, None, child_link)
                        )
                    continue
                if fate is not None and not expand:
                    entries.append(
                        ManifestEntry(child_rel, fate[0], 0, fate[1], child_link, is_dir=True)
                    )
                    continue
                walk(item.path, child_rel, active | {real}, fate, child_link)
            elif is_file:
                try:
                    size = item.stat().st_size
                except OSError:
                    size = 0
                if fate is None:
                    fate = (
                        (Fate.CLEAR, None)
                        if item.name == "requirements.txt"
                        else (Fate.ENCRYPTED, None)
                    )
                entries.append(ManifestEntry(child_rel, fate[0], size, fate[1], child_link))

    walk(str(code_dir), "", frozenset({root_real}), None, None)
    return Manifest(code_dir, patterns, tuple(entries))


# ------------------------------------------------------------------------------------------------
class TomlProblem(Frozen):
    """Why mse.toml could not be read: where (1-based line and column) and what."""

    line: int
    col: int
    message: str

    def __init__(self, line: int, col: int, message: str) -> None:
        _set(self, "line", line)
        _set(self, "col", col)
        _set(self, "message", message)


class MseToml(Frozen):
    path: Path
    data: Mapping[str, Any]
    # the text as read (positions of keys are recovered from it), and why it could not be
    # parsed (then ``data`` is empty)
    source: str = ""
    error: Optional[TomlProblem] = None

    def __init__(
        self,
        path: Path,
        data: Mapping[str, Any],
        source: str = "",
        error: Optional[TomlProblem] = None,
    ) -> None:
        _set(self, "path", path)
        _set(self, "data", data)
        _set(self, "source", source)
        _set(self, "error", error)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def schema(self) -> str:
        if any(k in self.data for k in ("plan", "version", "dev", "health_check_endpoint")):
            return "pre-0.9"
        if isinstance(self.data.get("code"), dict):
            return "0.x"
        return "1.x"

    @property
    def python_application(self) -> Optional[str]:
        value = self.data.get("python_application")
        code = self.data.get("code")
        if value is None and isinstance(code, dict):
            value = code.get("python_application")
        return value if isinstance(value, str) else None


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def toml_problem(text: str, exc: Exception) -> TomlProblem:
    """The position tomllib/tomli gives in its message ("(at line 3, column 7)")."""
    message = str(exc)
    line = getattr(exc, "lineno", None)
    col = getattr(exc, "colno", None)
    m = _TOML_AT.search(message)
    if m:
        line, col = int(m.group(1)), int(m.group(2))
        message = message[: m.start()]
    elif message.endswith("(at end of document)"):
        message = message[: -len("(at end of document)")].rstrip()
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    return TomlProblem(int(line or 1), int(col or 1), message)


def load_mse_toml(path: Path) -> MseToml:
    """mse.toml as data. A file that does not parse is not an error here: it is returned with
    ``error`` set (the config checks report it) and empty data."""
    if sys.version_info >= (3, 11):
        import tomllib  # here, not at the top: a run without TOML to read never imports it
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read mse.toml: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        problem = TomlProblem(line, col, f"byte 0x{raw[exc.start]:02x} is not valid UTF-8")
        return MseToml(path, {}, raw.decode("utf-8", "replace"), problem)
    from .nesting import MSE_TOML_TOO_DEEP, toml_too_deep

    deep = toml_too_deep(text)
    if deep is not None:
        return MseToml(path, {}, text, TomlProblem(deep[0], deep[1], MSE_TOML_TOO_DEEP))
    try:
        data = tomllib.loads(text)
    except RecursionError:  # not expected within the depth limit: still never a crash
        return MseToml(path, {}, text, TomlProblem(1, 1, MSE_TOML_TOO_DEEP))
    except tomllib.TOMLDecodeError as exc:
        problem = toml_problem(text, exc)
        if _toml_0_10_2(text) is not None:
            # the old parser lets some broken files through, reading something else than
            # what was written: still an error to fix
            problem = replace(
                problem,
                message=f"{problem.message} (mse-cli's toml 0.10.2 accepts it but reads "
                "something else than what is written)",
            )
        return MseToml(path, {}, text, problem)
    return MseToml(path, data, text)


def _toml_0_10_2(text: str) -> Optional[dict[str, Any]]:
    """mse-cli's own parser's reading of a file that tomllib rejects (None: it rejects it too)."""
    try:
        import toml
    except ImportError:  # pragma: no cover - a dependency
        return None
    try:
        data = toml.loads(text)
    except Exception:  # toml 0.10.2 raises more than TomlDecodeError on bad input
        return None
    return dict(data)


def find_upward(start: Path, names: Sequence[str]) -> Optional[Path]:
    """The first of ``names`` in ``start`` or a parent folder, not above a repository root."""
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return candidate
        if (folder / ".git").exists():
            return None
    return None


class Project(Mutable):
    """Where the linted files come from and what ships."""

    root: Path  # mse.toml's folder, or the given path without one
    mse_toml: Optional[MseToml]
    code_dir: Optional[Path]
    code_dir_origin: str
    notices: list[str]
    # why the code dir mse.toml names cannot be used (missing, a file, not a string): the config
    # checks report it (MSE407/MSE402), `mse-lint manifest` stops on it
    code_dir_error: Optional[str]
    _manifest: Optional[Manifest]

    def __init__(
        self,
        root: Path,
        mse_toml: Optional[MseToml],
        code_dir: Optional[Path],
        code_dir_origin: str,
        notices: Optional[list[str]] = None,
        code_dir_error: Optional[str] = None,
        _manifest: Optional[Manifest] = None,
    ) -> None:
        self.root = root
        self.mse_toml = mse_toml
        self.code_dir = code_dir
        self.code_dir_origin = code_dir_origin
        self.notices = [] if notices is None else notices
        self.code_dir_error = code_dir_error
        self._manifest = _manifest

    def manifest(self, expand: bool = False) -> Optional[Manifest]:
        if self.code_dir is None:
            return None
        if expand:
            return build_manifest(self.code_dir, expand=True)
        if self._manifest is None:
            self._manifest = build_manifest(self.code_dir, expand=False)
        return self._manifest

    def local_modules(self) -> frozenset[str]:
        if self.code_dir is None:
            return frozenset()
        try:
            names = os.listdir(self.code_dir)
        except OSError:
            return frozenset()
        return frozenset(n[:-3] if n.endswith(".py") else n for n in names)


def path_is(path: Path, kind: str) -> bool:
    """``is_dir`` / ``is_file`` / ``exists`` (kind "dir", "file", "any") for a path written by
    the user: too long or holding a NUL byte is simply not there."""
    try:
        if kind == "dir":
            return path.is_dir()
        if kind == "file":
            return path.is_file()
        return path.exists()
    except (OSError, ValueError):
        return False


def _code_dir_from(toml: MseToml) -> tuple[Optional[Path], str, Optional[str]]:
    """(code dir, where it comes from, why the one mse.toml names is unusable)."""
    data = toml.data
    cloud = data.get("cloud")
    if isinstance(cloud, dict) and "code" in cloud:
        value, origin = cloud["code"], "[cloud] code"
    elif isinstance(data.get("code"), dict) and "location" in data["code"]:
        value, origin = data["code"]["location"], "[code] location"
    else:
        value, origin = None, ""
    if value is not None:
        if not isinstance(value, str):
            return None, origin, f"{toml.path}: {origin} must be a folder name (a string)"
        code = toml.folder / value  # relative to mse.toml; mse-cli does not expand "~"
        if not path_is(code, "dir"):
            what = "is a file, not a folder" if path_is(code, "any") else "does not exist"
            return (
                None,
                origin,
                f"{toml.path}: {origin} = {value!r}: {code} {what}; fix the path in mse.toml",
            )
        return code, origin, None
    app = toml.python_application
    if app and ":" in app:
        module = app.split(":", 1)[0].strip()
        rel = Path(*module.split(".")) if module else None
        if rel is not None:
            for base in [toml.folder, *sorted(p for p in toml.folder.iterdir() if p.is_dir())]:
                if base.name.startswith("."):
                    continue
                if path_is((base / rel).with_suffix(".py"), "file") or path_is(
                    base / rel / "__init__.py", "file"
                ):
                    return base, f"the folder of python_application's module {module!r}", None
    return None, "", None


def discover(path: Path) -> Project:
    """The project that ``path`` (a folder or a file) belongs to. An mse.toml that does not
    parse, or that names a code dir that does not exist, is not an error here: the project has
    no code dir then, and the config checks say why."""
    if not path.exists():
        raise ProjectError(f"{path}: no such file or folder")
    found = find_upward(path.resolve(), ["mse.toml"])
    if found is None:
        root = path if path.is_dir() else path.parent
        return Project(root, None, None, "")
    toml = load_mse_toml(found)
    if toml.error is not None:
        problem = toml.error
        return Project(
            toml.folder,
            toml,
            None,
            "",
            code_dir_error=(
                f"{found}:{problem.line}:{problem.col}: mse.toml is not valid TOML: "
                f"{problem.message}"
            ),
        )
    code, origin, error = _code_dir_from(toml)
    if error is not None:
        return Project(toml.folder, toml, None, origin, code_dir_error=error)
    project = Project(toml.folder, toml, code, origin)
    if code is None:
        project.code_dir = path if path.is_dir() else path.parent
        project.code_dir_origin = "the given path (mse.toml names no code dir)"
        project.notices.append(
            f"{found}: no [cloud] code and no module for python_application found: "
            f"treating {project.code_dir} as the code dir"
        )
    return project
