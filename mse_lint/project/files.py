"""Which files a run checks: the shipped Python files of each project the given paths belong to.

- A folder that holds (or is) the code dir: its shipped ``.py`` files.
- A folder inside the code dir: the shipped ``.py`` files under it.
- A folder outside the code dir (host-side tests, tools): it does not ship; its ``.py`` files are
  checked only because the user named it, and a notice says so.
- A file named explicitly (pre-commit passes changed files): checked only if it ships.
- No mse.toml above the path: every ``.py`` file under it, with one notice.
Virtualenvs (a folder with ``pyvenv.cfg``) and ``site-packages`` are never checked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Optional

from mse_lint.core.diagnostics import Notice
from mse_lint.core.record import Frozen, Mutable, field
from mse_lint.project.model import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_FILES,
    Project,
    discover,
    fate_of,
    read_mseignore,
)


class FileJob(Frozen):
    """One file to check: where to open it and how the report names it."""

    disk_path: str  # to open (absolute, or relative to the current folder)
    display: str  # as reported (FileContext.path, Diagnostic.path)


class Group(Mutable):
    project: Project
    jobs: list[FileJob] = field(default_factory=list)
    # a path given covers the whole code dir: project-level checks (manifest, requirements,
    # mse.toml) run too; a run on named files (pre-commit) checks only those files
    whole: bool = False
    # mse.toml itself was named (pre-commit on a changed mse.toml): its checks run
    config: bool = False


class Collected(Mutable):
    groups: list[Group]
    notices: list[Notice]
    skipped_unshipped: int = 0


def display(path: Path, cwd: Path) -> str:
    text, base = str(path), str(cwd)
    prefix = base if base.endswith(os.sep) else base + os.sep
    if os.sep == "/" and text.startswith(prefix) and len(text) > len(prefix):
        # what relative_to gives for a path under cwd, without building Path objects (a
        # cached run over a big tree spent a tenth of its time here)
        return text[len(prefix) :]
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def _is_venv(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "pyvenv.cfg"))


def _inside(real: str, roots: Sequence[str]) -> bool:
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def python_files(
    folder: Path,
    escaped: Optional[list[str]] = None,
    notes: Optional[list[tuple[str, str]]] = None,
    max_files: int = DEFAULT_MAX_FILES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Iterator[Path]:
    """Every ``.py`` file under ``folder``, not in hidden folders or virtualenvs, sorted
    (top-down: a folder's files, then its subfolders in name order). Symlinked folders inside
    ``folder`` are followed once: a folder reached again (a loop, or another link to it) is
    skipped. Symlinks that lead out of ``folder`` are not followed: their paths go to
    ``escaped``. Only regular files are listed (a FIFO named ``x.py`` would block the read); a
    folder on another filesystem, one that cannot be listed, and the bounds reached (files
    listed, folders deep) go to ``notes`` as (path, message)."""
    try:
        st = os.stat(folder)
    except OSError:
        return
    root = os.path.realpath(folder)
    walk = _Walk(root, st.st_dev, escaped, notes, max_files, max_depth)
    walk.visited.add((st.st_dev, st.st_ino))
    yield from walk.walk(str(folder), 0, top=True)
    walk.finish(str(folder))


_SKIPPED = frozenset(("__pycache__", "site-packages", "node_modules"))


class _Walk:
    def __init__(
        self,
        root: str,
        device: int,
        escaped: Optional[list[str]],
        notes: Optional[list[tuple[str, str]]],
        max_files: int,
        max_depth: int,
    ) -> None:
        self.root = root
        self.device = device
        self.escaped = escaped
        self.notes = notes
        self.max_files = max_files
        self.max_depth = max_depth
        self.visited: set[tuple[int, int]] = set()
        self.count = 0
        self.full = False  # a file was left out for max_files
        self.too_deep: list[str] = []

    def note(self, path: str, message: str) -> None:
        if self.notes is not None:
            self.notes.append((path, message))

    def finish(self, folder: str) -> None:
        if self.full:
            self.note(
                folder,
                f"more than {self.max_files} Python files: checked the first {self.max_files}; "
                "raise `max-files` in the mse-lint settings to check all",
            )
        if self.too_deep:
            n = len(self.too_deep)
            self.note(
                self.too_deep[0],
                f"{n} folder{'s' if n != 1 else ''} deeper than {self.max_depth} folders (this "
                "one first): not checked; raise `max-depth` in the mse-lint settings to check "
                "them",
            )

    def walk(self, folder: str, depth: int, top: bool = False) -> Iterator[Path]:
        # scandir: one system call per folder and one stat per subfolder (os.walk with realpath
        # made one per path component of every folder: most of a cached run's time)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if not top:
                reason = (
                    "permission denied"
                    if isinstance(exc, PermissionError)
                    else (exc.strerror or type(exc).__name__)
                )
                self.note(folder, f"cannot list this folder: {reason}; its files are not checked")
            return
        if not top and any(e.name == "pyvenv.cfg" for e in entries) and _is_venv(folder):
            return  # a virtualenv below the given folder
        folders = []
        for e in entries:
            name = e.name
            if name.startswith("."):
                continue
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if not is_dir and not name.endswith(".py"):
                continue
            if self.full:
                return
            if not is_dir and not e.is_symlink():
                if e.is_file(follow_symlinks=False):  # the type scandir read: no system call
                    yield from self._file(e.path)
                continue
            if is_dir and name in _SKIPPED:
                continue
            # only a symlink can lead out of the folder: its target is never read
            if e.is_symlink() and not _inside(os.path.realpath(e.path), [self.root]):
                if self.escaped is not None:
                    self.escaped.append(e.path)
                continue
            if not is_dir:
                try:
                    regular = e.is_file()
                except OSError:  # a link to itself
                    regular = False
                if regular:
                    yield from self._file(e.path)
                continue
            try:
                st = e.stat()
            except OSError:
                continue
            if st.st_dev != self.device:
                self.note(
                    e.path,
                    "a folder on another filesystem than the one given: not checked; name it "
                    "to check it",
                )
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in self.visited:
                continue  # a symlink loop, or a folder already seen through another link
            if depth + 1 > self.max_depth:
                self.too_deep.append(e.path)
                continue
            self.visited.add(ident)
            folders.append(e.path)
        for sub in folders:
            yield from self.walk(sub, depth + 1)

    def _file(self, path: str) -> Iterator[Path]:
        if self.count >= self.max_files:
            self.full = True  # one file more than the bound: the notice is true
            return
        self.count += 1
        yield Path(path)


def _within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


def collect(
    paths: Sequence[Path],
    cwd: Optional[Path] = None,
    exclude: Sequence[str] = (),
    max_files: int = DEFAULT_MAX_FILES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Collected:
    """The projects' files to check. Notices of what the project walk could not read or list
    are the projects' own (``Project.read_notices``: the run reports them once per project)."""
    c = _Collector((cwd or Path.cwd()).resolve(), exclude, max_files, max_depth)
    for given in paths:
        c.given(Path(os.path.abspath(given)))
    return c.collected()


class _Collector:
    """What :func:`collect` gathers over the paths given, one after the other."""

    def __init__(self, cwd: Path, exclude: Sequence[str], max_files: int, max_depth: int) -> None:
        self.cwd = cwd
        self.max_files, self.max_depth = max_files, max_depth
        self.notes: list[tuple[str, str]] = []  # (path, message) of the walks without a manifest
        self.ignore_lines: dict[str, tuple[str, ...]] = {}  # code dir -> its .mseignore patterns
        self.groups: dict[str, Group] = {}
        self.notices: list[Notice] = []
        self.said_no_toml = self.said_no_code = False
        self.skipped = 0
        self.seen: set[str] = set()
        self.escaped: list[str] = []  # symlinks out of the project: never read (MSE207 says so)
        self.spec = None
        if exclude:
            import pathspec

            self.spec = pathspec.PathSpec.from_lines("gitwildmatch", exclude)

    def add(self, group: Group, file: Path) -> None:
        key = str(file)
        if key in self.seen:
            return
        shown = display(file, self.cwd)
        if self.spec is not None and self.spec.match_file(shown):
            return
        self.seen.add(key)
        group.jobs.append(FileJob(key, shown))

    def walk(self, group: Group, folder: Path) -> None:
        """Every Python file under a folder no manifest describes."""
        for f in python_files(folder, self.escaped, self.notes, self.max_files, self.max_depth):
            self.add(group, f)

    def given(self, absolute: Path) -> None:
        """One path of the command line."""
        project = discover(absolute)
        key = str(project.mse_toml.path) if project.mse_toml else f"none:{absolute}"
        group = self.groups.get(key)
        project.max_files, project.max_depth = self.max_files, self.max_depth
        if group is None:
            group = self.groups[key] = Group(project)
            self.notices.extend(Notice(n) for n in project.notices)
        toml = project.mse_toml
        if toml is not None and absolute.is_file() and absolute.resolve() == toml.path.resolve():
            group.config = True
            return
        if project.mse_toml is None or project.code_dir is None:
            self.without_code_dir(group, absolute)
            return
        code = project.code_dir.resolve()
        target = absolute.resolve()
        if target.is_file():
            self.named_file(group, absolute, target, code)
            return
        # the folder holding mse.toml stands for the project, wherever its code dir is
        at_root = target == project.root.resolve()
        if at_root or _within(code, target) or _within(target, code):
            group.whole = group.whole or at_root or _within(code, target)
            self.shipped(group, code, target, at_root)
        else:
            cwd = self.cwd
            self.notices.append(
                Notice(
                    f"{display(absolute, cwd)} is outside the code dir "
                    f"({display(code, cwd)}): nothing there ships; checked because it was named"
                )
            )
            self.walk(group, absolute)

    def without_code_dir(self, group: Group, absolute: Path) -> None:
        """A path of no project, or of one whose mse.toml names no usable code dir: every
        Python file there, as if it shipped."""
        project = group.project
        if project.mse_toml is not None:
            # mse.toml is broken or names a code dir that is not there: the config checks say
            # so (MSE401/MSE407) when the run covers mse.toml's folder
            if absolute.is_dir() and _within(project.root.resolve(), absolute.resolve()):
                group.whole = True
            if not self.said_no_code:
                self.notices.append(
                    Notice(
                        f"{project.code_dir_error or 'mse.toml names no usable code dir'}: "
                        "checking every Python file under the given path as if it ships"
                    )
                )
                self.said_no_code = True
        elif not self.said_no_toml:
            self.notices.append(
                Notice(
                    f"no mse.toml found in {display(absolute, self.cwd) or '.'} or above: "
                    "checking every Python file there as if it ships; the mse.toml and "
                    "app checks (MSE401-MSE410, MSE412) are skipped"
                )
            )
            self.said_no_toml = True
        if absolute.is_dir():
            self.walk(group, absolute)
        elif absolute.is_file():
            self.add(group, absolute)
        else:
            self.notes.append((str(absolute), "not a regular file: not checked"))

    def named_file(self, group: Group, absolute: Path, target: Path, code: Path) -> None:
        """A file named on the command line: checked when it ships and is Python."""
        if not _within(target, code):
            self.skipped += 1
            return
        rel = target.relative_to(code).as_posix()
        patterns = self.ignore_lines.get(str(code))
        if patterns is None:
            patterns = self.ignore_lines[str(code)] = read_mseignore(code)
        fate, _ = fate_of(rel, patterns)
        if fate.ships and target.suffix == ".py":
            self.add(group, absolute)
        else:
            self.skipped += 1

    def shipped(self, group: Group, code: Path, target: Path, at_root: bool) -> None:
        """The Python files that ship from the code dir, under ``target`` unless ``at_root``."""
        project = group.project
        manifest = project.manifest()
        assert manifest is not None
        roots = [str(code), str(project.root.resolve())]
        for entry in manifest.shipped():
            if entry.is_dir or not entry.rel.endswith(".py"):
                continue
            file = code / entry.rel
            if not at_root and not _within(file, target):
                continue
            if entry.link is not None and not _inside(os.path.realpath(file), roots):
                self.escaped.append(str(file))
                continue
            parts = entry.rel.split("/")
            if "site-packages" in parts or any(
                _is_venv(str(code.joinpath(*parts[:i]))) for i in range(1, len(parts))
            ):
                continue
            self.add(group, file)

    def collected(self) -> Collected:
        notices, cwd = self.notices, self.cwd
        for path, message in self.notes:
            notices.append(Notice(message, display(Path(path), cwd) or "."))
        for path in sorted(set(self.escaped)):
            notices.append(
                Notice(
                    "a symlink to outside the project: not read (mse-cli would copy its target)",
                    display(Path(path), cwd),
                )
            )
        return Collected(list(self.groups.values()), notices, self.skipped)
