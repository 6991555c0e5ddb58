"""The MSE project a path belongs to: its mse.toml (read once, its problems with their
positions), its code dir and how it was found, and the files it ships (mse_lint.project.manifest,
built on first use)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mse_lint.core.record import Frozen, Mutable, replace
from mse_lint.core.safeio import read_regular, refusal
from mse_lint.core.toml import toml_parser
from mse_lint.project.manifest import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_FILES,
    Fate,
    Manifest,
    ManifestEntry,
    ProjectError,
    build_manifest,
    fate_of,
    matching_pattern,
    read_mseignore,
)

if TYPE_CHECKING:  # imported when a file is read: a run without mse.toml never needs it
    from mse_lint.project.tomlpos import TomlProblem

# what the check modules, the command line and the tests import from here
__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_FILES",
    "Fate",
    "Manifest",
    "ManifestEntry",
    "MseToml",
    "Project",
    "ProjectError",
    "build_manifest",
    "discover",
    "fate_of",
    "find_upward",
    "load_mse_toml",
    "matching_pattern",
    "path_is",
    "read_mseignore",
]


# ------------------------------------------------------------------------------------------------
class MseToml(Frozen):
    path: Path
    data: Mapping[str, Any]
    # the text as read (positions of keys are recovered from it), and why it could not be
    # parsed (then ``data`` is empty)
    source: str = ""
    error: Optional[TomlProblem] = None

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


def load_mse_toml(path: Path) -> MseToml:
    """mse.toml as data. A file that does not parse is not an error here: it is returned with
    ``error`` set (the config checks report it) and empty data."""
    tomllib = toml_parser()  # on demand (mse_lint.core.toml)
    from mse_lint.project.tomlpos import TomlProblem, not_utf8, toml_problem

    try:
        raw = read_regular(path, "mse.toml")
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read mse.toml: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return MseToml(path, {}, raw.decode("utf-8", "replace"), not_utf8(raw, exc))
    from mse_lint.source.nesting import MSE_TOML_TOO_DEEP, toml_too_deep

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
            try:
                mode = os.stat(candidate).st_mode
            except (OSError, ValueError):
                continue
            # a FIFO or a device under the name is found too, and refused when read with a
            # message, rather than skipped for an mse.toml further up
            if not stat.S_ISDIR(mode):
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
        # the walk's bounds (settings `max-files`, `max-depth`), set by the run
        self.max_files: int = DEFAULT_MAX_FILES
        self.max_depth: int = DEFAULT_MAX_DEPTH
        # files of the project that could not be read, or were refused (absolute path ->
        # notice): one notice each however often the run reads them
        self.refused: dict[str, str] = {}

    def read(self, path: Path, kind: str) -> Optional[bytes]:
        """A fixed-name file of the project (a ``safeio.KINDS`` kind), or None when it is not
        there or cannot be read; the latter is noted once (``refused``)."""
        try:
            return read_regular(path, kind)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.refused.setdefault(os.path.abspath(path), refusal(kind, exc))
            return None

    def manifest(self, expand: bool = False) -> Optional[Manifest]:
        if self.code_dir is None:
            return None
        if expand:
            return build_manifest(self.code_dir, True, self.max_files, self.max_depth)
        if self._manifest is None:
            self._manifest = build_manifest(self.code_dir, False, self.max_files, self.max_depth)
        return self._manifest

    def read_notices(self) -> list[tuple[str, str]]:
        """(absolute path, message) of what the run could not read or list in the project."""
        out = sorted(self.refused.items())
        if self._manifest is not None and self.code_dir is not None:
            code = os.path.abspath(self.code_dir)
            out.extend(
                (os.path.join(code, rel) if rel else code, message)
                for rel, message in self._manifest.notices
            )
        return out

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
