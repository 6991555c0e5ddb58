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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .diagnostics import Notice
from .engine import FileJob
from .project import Project, discover, fate_of, read_mseignore


@dataclass
class Group:
    project: Project
    jobs: list[FileJob] = field(default_factory=list)
    # a path given covers the whole code dir: project-level checks (manifest, requirements,
    # mse.toml) run too; a run on named files (pre-commit) checks only those files
    whole: bool = False


@dataclass
class Collected:
    groups: list[Group]
    notices: list[Notice]
    skipped_unshipped: int = 0


def display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def _is_venv(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "pyvenv.cfg"))


def _inside(real: str, roots: Sequence[str]) -> bool:
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def python_files(folder: Path, escaped: Optional[list[str]] = None) -> Iterator[Path]:
    """Every ``.py`` file under ``folder``, not in hidden folders or virtualenvs, sorted.
    Symlinks that lead out of ``folder`` are not followed: their paths go to ``escaped``."""
    root = os.path.realpath(folder)
    visited = {root}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        keep = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if d.startswith(".") or d in ("__pycache__", "site-packages", "node_modules"):
                continue
            real = os.path.realpath(full)
            if real in visited or _is_venv(full):
                continue  # a symlink loop, or a folder already seen through another link
            if not _inside(real, [root]):
                if escaped is not None:
                    escaped.append(full)
                continue
            visited.add(real)
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if name.endswith(".py") and not name.startswith("."):
                full = os.path.join(dirpath, name)
                if not _inside(os.path.realpath(full), [root]):
                    if escaped is not None:
                        escaped.append(full)
                    continue
                yield Path(dirpath, name)


def _within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


def collect(
    paths: Sequence[Path], cwd: Optional[Path] = None, exclude: Sequence[str] = ()
) -> Collected:
    cwd = (cwd or Path.cwd()).resolve()
    groups: dict[str, Group] = {}
    notices: list[Notice] = []
    said_no_toml = False
    skipped = 0
    seen: set[str] = set()
    escaped: list[str] = []  # symlinks out of the project: never read (MSE207 reports them)
    spec = None
    if exclude:
        import pathspec

        spec = pathspec.PathSpec.from_lines("gitwildmatch", exclude)

    def add(group: Group, file: Path) -> None:
        key = str(file)
        if key in seen:
            return
        if spec is not None and spec.match_file(display(file, cwd)):
            return
        seen.add(key)
        group.jobs.append(FileJob(str(file), display(file, cwd)))

    for given in paths:
        absolute = Path(os.path.abspath(given))
        project = discover(absolute)
        key = str(project.mse_toml.path) if project.mse_toml else f"none:{absolute}"
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(project)
            notices.extend(Notice(n) for n in project.notices)
        if project.mse_toml is None or project.code_dir is None:
            if not said_no_toml:
                notices.append(
                    Notice(
                        f"no mse.toml found in {display(absolute, cwd) or '.'} or above: "
                        "checking every Python file there as if it ships"
                    )
                )
                said_no_toml = True
            if absolute.is_dir():
                for f in python_files(absolute, escaped):
                    add(group, f)
            else:
                add(group, absolute)
            continue
        code = project.code_dir.resolve()
        target = absolute.resolve()
        if target.is_file():
            if not _within(target, code):
                skipped += 1
                continue
            rel = target.relative_to(code).as_posix()
            fate, _ = fate_of(rel, read_mseignore(code))
            if fate.ships and target.suffix == ".py":
                add(group, absolute)
            else:
                skipped += 1
            continue
        # the folder holding mse.toml stands for the project, wherever its code dir is
        at_root = target == project.root.resolve()
        if at_root or _within(code, target) or _within(target, code):
            group.whole = group.whole or at_root or _within(code, target)
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
                    escaped.append(str(file))
                    continue
                parts = entry.rel.split("/")
                if "site-packages" in parts or any(
                    _is_venv(str(code.joinpath(*parts[:i]))) for i in range(1, len(parts))
                ):
                    continue
                add(group, file)
        else:
            notices.append(
                Notice(
                    f"{display(absolute, cwd)} is outside the code dir "
                    f"({display(code, cwd)}): nothing there ships; checked because it was named"
                )
            )
            for f in python_files(absolute, escaped):
                add(group, f)
    for path in sorted(set(escaped)):
        notices.append(
            Notice(
                "a symlink to outside the project: not read (mse-cli would copy its target)",
                display(Path(path), cwd),
            )
        )
    return Collected(list(groups.values()), notices, skipped)
