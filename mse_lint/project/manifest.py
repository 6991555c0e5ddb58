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
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Callable, Optional

from mse_lint.core.record import Frozen
from mse_lint.core.safeio import read_regular, refusal


class ProjectError(Exception):
    """A project that cannot be linted as given (exit code 2)."""


class Fate(enum.Enum):
    ENCRYPTED = "encrypted"
    CLEAR = "clear text"
    EXCLUDED = "excluded"
    HIDDEN = "hidden"
    BROKEN_LINK = "broken symlink"
    LINK_LOOP = "symlink loop"
    UNREADABLE = "unreadable"
    SPECIAL = "special file"

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
    # a folder that ships but is not listed file by file, and why: "a copy of pkg: listed
    # there", "on another filesystem: not listed", "deeper than 100 folders: not listed"
    note: Optional[str] = None


class Manifest(Frozen):
    code_dir: Path
    patterns: tuple[str, ...]
    entries: tuple[ManifestEntry, ...]
    # what the walk could not list, and why: (path relative to the code dir, message)
    notices: tuple[tuple[str, str], ...] = ()

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
    """The patterns mse-cli keeps, verbatim, in file order without duplicates. A
    ``.mseignore`` that is not a regular file, or is larger than any real one, is refused
    (ProjectError: what ships cannot be known without it)."""
    path = code_dir / ".mseignore"
    try:
        text = read_regular(path, ".mseignore").decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise ProjectError(f"{path}: {refusal('.mseignore', exc)}") from exc
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


# characters fnmatch gives a meaning (a "]" only closes a "[", but treating it as one is safe:
# the text before the first of them and after the last one is literal either way)
_SPECIAL = re.compile(r"[*?\[\]]")


class _Matcher:
    """``shutil.ignore_patterns(*patterns)`` on one name: the first pattern (in file order)
    that ``fnmatch.filter`` would match the name with, each pattern compiled once. fnmatch
    itself recompiles every pattern past its cache of 32,768: a 33,000-line .mseignore took
    over 300 s.

    A pattern only matches names that begin with its literal head (the text before its first
    special character) and end with its literal tail (after its last one). Patterns are
    indexed by head, then tail, so a name is tested against the few whose head and tail it
    has: one dict lookup per distinct head and tail length, not one match per pattern."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        # head -> tail -> indexes of the patterns (ascending); None for a literal pattern
        self.index: dict[str, dict[str, list[int]]] = {}
        self.tails: dict[str, list[int]] = {}  # head -> distinct tail lengths
        self.literal: dict[str, int] = {}
        self.compiled: dict[int, Callable[[str], Optional[re.Match[str]]]] = {}
        for i, p in enumerate(patterns):
            if not _can_match_a_name(p):
                continue
            key = os.path.normcase(p)  # what fnmatch.filter does (nothing on POSIX)
            specials = [m.start() for m in _SPECIAL.finditer(key)]
            if not specials:
                self.literal.setdefault(key, i)
                continue
            head, tail = key[: specials[0]], key[specials[-1] + 1 :]
            self.index.setdefault(head, {}).setdefault(tail, []).append(i)
        for head, by_tail in self.index.items():
            self.tails[head] = sorted({len(t) for t in by_tail})
        self.heads = sorted({len(h) for h in self.index})

    def _matches(self, i: int, name: str) -> bool:
        match = self.compiled.get(i)
        if match is None:
            pattern = os.path.normcase(self.patterns[i])
            match = self.compiled[i] = re.compile(fnmatch.translate(pattern)).match
        return match(name) is not None

    def first(self, name: str) -> Optional[str]:
        key = os.path.normcase(name)
        best = self.literal.get(key)
        n = len(key)
        for h in self.heads:
            if h > n:
                break
            by_tail = self.index.get(key[:h])
            if by_tail is None:
                continue
            for t in self.tails[key[:h]]:
                if h + t > n:  # head and tail are disjoint parts of a match
                    break
                for i in by_tail.get(key[n - t :] if t else "", ()):
                    if best is not None and i >= best:
                        break
                    if self._matches(i, key):
                        best = i
                        break
        return None if best is None else self.patterns[best]


# the matcher of the patterns last asked for, by identity: a manifest's tuple is passed around,
# and hashing a 33,000-pattern tuple for every name would cost as much as matching it
_MATCHERS: dict[int, tuple[Sequence[str], _Matcher]] = {}


def _matcher(patterns: Sequence[str]) -> _Matcher:
    known = _MATCHERS.get(id(patterns))
    if known is not None and known[0] is patterns:
        return known[1]
    matcher = _Matcher(patterns)
    if len(_MATCHERS) >= 8:
        _MATCHERS.clear()
    _MATCHERS[id(patterns)] = (patterns, matcher)
    return matcher


def matching_pattern(name: str, patterns: Sequence[str]) -> Optional[str]:
    return _matcher(patterns).first(name) if patterns else None


def fate_of(rel: str, patterns: Sequence[str]) -> tuple[Fate, Optional[str]]:
    """The fate of a path relative to the code dir, judged on its components (no symlinks)."""
    parts = rel.split("/")
    if patterns:
        matcher = _matcher(patterns)
        for part in parts:
            p = matcher.first(part)
            if p is not None:
                return Fate.EXCLUDED, p
    if any(part.startswith(".") for part in parts):
        return Fate.HIDDEN, None
    if parts[-1] == "requirements.txt":
        return Fate.CLEAR, None
    return Fate.ENCRYPTED, None


# The walk's bounds (settings `max-files` and `max-depth`, docs/configuration.md): a code dir of
# an enclave app holds hundreds of files, a big one tens of thousands, and nothing real is 100
# folders deep (mse-cli's copytree recursion gives out near 300).
DEFAULT_MAX_FILES = 100_000
DEFAULT_MAX_DEPTH = 100


class _Deferred(Frozen):
    """A symlink to a folder met by the walk, followed once every real folder is listed (so a
    folder is listed under its own path, not under a link that sorts before it)."""

    path: str
    rel: str
    target: str  # real path
    active: tuple[str, ...]  # real paths of the folders holding it, outermost first
    fate: Optional[tuple[Fate, Optional[str]]]
    depth: int


def _holds(folder: str, paths: Sequence[str]) -> bool:
    """``folder`` is one of ``paths`` or an ancestor of one."""
    prefix = folder.rstrip("/") + "/"
    return any(p == folder or p.startswith(prefix) for p in paths)


def build_manifest(
    code_dir: Path,
    expand: bool = True,
    max_files: int = DEFAULT_MAX_FILES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Manifest:
    """Every file under the code dir with its fate. With ``expand=False``, excluded and hidden
    folders are listed as one entry each instead of file by file (faster for linting).

    Symlinks are followed as copytree follows them, but every real folder is listed once (a
    folder reached again is one entry, "a copy of" where it was listed), a folder on another
    filesystem than the code dir's is not entered, and the walk stops at ``max_files`` entries
    and ``max_depth`` folders deep; each of these is said in ``Manifest.notices``."""
    patterns = read_mseignore(code_dir)
    try:
        top = os.stat(code_dir)
    except OSError:
        return Manifest(code_dir, patterns, ())
    walk = _Walk(patterns, expand, max_files, max_depth, top)
    problem = walk.folder(str(code_dir), "", os.path.realpath(code_dir), (), None, None, 0)
    if problem is not None:
        raise ProjectError(f"{code_dir}: cannot list the code dir: {problem.strerror}")
    walk.follow_links()
    return Manifest(code_dir, patterns, tuple(walk.entries), tuple(walk.notes()))


_FateOf = Optional[tuple[Fate, Optional[str]]]


class _Walk:
    """The state of one walk of a code dir: the entries listed, the real folders already
    listed, the links to folders still to follow, and what to say about the walk."""

    def __init__(
        self,
        patterns: tuple[str, ...],
        expand: bool,
        max_files: int,
        max_depth: int,
        top: os.stat_result,
    ) -> None:
        self.patterns = patterns
        self.matcher = _matcher(patterns)
        self.expand = expand
        self.max_files = max_files
        self.max_depth = max_depth
        self.device = top.st_dev
        self.entries: list[ManifestEntry] = []
        self.problems: list[tuple[str, str]] = []
        # real folder (device, inode) and whether its content ships there -> where it was
        # listed: a folder listed as excluded or hidden is listed again where it ships
        self.listed: dict[tuple[int, int, bool], str] = {(top.st_dev, top.st_ino, True): ""}
        self.deferred: list[_Deferred] = []
        self.copies: list[tuple[str, str]] = []
        self.too_deep: list[str] = []
        self.full = False

    def folder_entry(
        self, rel: str, fate: _FateOf, link: Optional[str], note: Optional[str]
    ) -> None:
        f = fate or (Fate.ENCRYPTED, None)
        self.entries.append(ManifestEntry(rel, f[0], 0, f[1], link, is_dir=True, note=note))

    def enter(
        self,
        path: str,
        rel: str,
        real: str,
        active: tuple[str, ...],
        fate: _FateOf,
        link: Optional[str],
        depth: int,
        st: os.stat_result,
    ) -> None:
        """List the folder at ``path`` (already stat'ed) unless it was listed, is elsewhere or
        is too deep."""
        if st.st_dev != self.device:
            self.folder_entry(rel, fate, link, "on another filesystem: not listed")
            self.problems.append(
                (
                    rel,
                    f"a folder on another filesystem than the code dir's"
                    f"{f' (a symlink to {link})' if link else ''}: not listed, its files are "
                    "not checked; mse-cli would copy all of it",
                )
            )
            return
        key = (st.st_dev, st.st_ino, fate is None)
        first = self.listed.get(key)
        if first is not None:
            self.folder_entry(rel, fate, link, f"a copy of {first or '.'}: listed there")
            self.copies.append((rel, first or "."))
            return
        if depth > self.max_depth:
            self.folder_entry(rel, fate, link, f"deeper than {self.max_depth} folders: not listed")
            self.too_deep.append(rel)
            return
        self.listed[key] = rel
        problem = self.folder(path, rel, real, active, fate, link, depth)
        if problem is not None and fate is not None and fate[0] is Fate.EXCLUDED:
            self.folder_entry(rel, fate, link, "cannot be listed")  # never opened by copytree
        elif problem is not None:
            self.entries.append(ManifestEntry(rel, Fate.UNREADABLE, 0, None, link, is_dir=True))
            reason = (
                "permission denied"
                if isinstance(problem, PermissionError)
                else (problem.strerror or type(problem).__name__)
            )
            self.problems.append(
                (
                    rel,
                    f"cannot list this folder: {reason}; its files are not checked, and "
                    "mse-cli cannot copy it either (the deploy fails); make it readable",
                )
            )

    def folder(
        self,
        directory: str,
        rel: str,
        real: str,
        active: tuple[str, ...],
        inherited: _FateOf,
        link: Optional[str],
        depth: int,
    ) -> Optional[OSError]:
        """List the items of one folder, in name order; the error that kept it from being
        listed, or None."""
        try:
            with os.scandir(directory) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            return exc
        for item in items:
            if len(self.entries) >= self.max_files:
                self.full = True
                return None
            fate: _FateOf = inherited
            if fate is None:
                p = self.matcher.first(item.name) if self.patterns else None
                if p is not None:
                    fate = (Fate.EXCLUDED, p)
                elif item.name.startswith("."):
                    fate = (Fate.HIDDEN, None)
            self.item(item, rel, real, active, fate, link, depth)
        return None

    def item(
        self,
        item: os.DirEntry[str],
        rel: str,
        real: str,
        active: tuple[str, ...],
        fate: _FateOf,
        link: Optional[str],
        depth: int,
    ) -> None:
        """One item of a folder being listed, its fate decided."""
        child_rel = f"{rel}/{item.name}" if rel else item.name
        child_link = link
        try:
            is_link = item.is_symlink()
            if is_link:
                child_link = os.path.realpath(item.path)
            is_dir = item.is_dir()  # follows symlinks, as copytree does
            is_file = not is_dir and item.is_file()
        except OSError:
            is_link, is_dir, is_file = True, False, False
        # copytree never opens a name its ignore function dropped (nor anything below it): a
        # dangling link or a loop there is harmless. In a hidden folder it is still copied (only
        # the tar leaves hidden paths out), so there it makes the copy fail.
        ignored = fate is not None and fate[0] is Fate.EXCLUDED
        if is_link and not is_dir and not is_file and os.path.exists(item.path):
            is_link = False  # a link to a FIFO or a device: listed as the special file
        if is_link and not is_dir and not is_file:
            if ignored:
                assert fate is not None
                self.entries.append(ManifestEntry(child_rel, fate[0], 0, fate[1], child_link))
            else:
                self.entries.append(ManifestEntry(child_rel, Fate.BROKEN_LINK, 0, None, child_link))
        elif is_dir:
            place = (child_rel, child_link, is_link, ignored)
            self.subfolder(item, real, active, fate, depth, place)
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
            self.entries.append(ManifestEntry(child_rel, fate[0], size, fate[1], child_link))
        elif ignored:
            assert fate is not None
            self.entries.append(ManifestEntry(child_rel, fate[0], 0, fate[1], child_link))
        else:
            # a FIFO, a socket, a device: never opened here, and copytree fails on it
            self.entries.append(ManifestEntry(child_rel, Fate.SPECIAL, 0, None, child_link))

    def subfolder(
        self,
        item: os.DirEntry[str],
        real: str,
        active: tuple[str, ...],
        fate: _FateOf,
        depth: int,
        place: tuple[str, Optional[str], bool, bool],
    ) -> None:
        """A folder (or a link to one) met in a folder being listed: ``place`` is its path
        relative to the code dir, the link it is reached through, whether it is itself a link
        and whether .mseignore excludes it."""
        child_rel, child_link, is_link, ignored = place
        child_real = child_link if is_link else f"{real.rstrip('/')}/{item.name}"
        assert child_real is not None
        # a link to a folder being walked or to one holding it: copytree would come back here
        # through it for ever
        if is_link and _holds(child_real, (*active, real)):
            if ignored:
                assert fate is not None
                self.entries.append(
                    ManifestEntry(child_rel, fate[0], 0, fate[1], child_link, is_dir=True)
                )
            else:
                self.entries.append(ManifestEntry(child_rel, Fate.LINK_LOOP, 0, None, child_link))
            return
        # an excluded link is never opened by copytree: nothing below it is listed
        if fate is not None and (not self.expand or (is_link and ignored)):
            self.entries.append(
                ManifestEntry(child_rel, fate[0], 0, fate[1], child_link, is_dir=True)
            )
            return
        if is_link:
            self.deferred.append(
                _Deferred(item.path, child_rel, child_real, (*active, real), fate, depth)
            )
            return
        try:
            st = item.stat()
        except OSError:
            return
        self.enter(
            item.path, child_rel, child_real, (*active, real), fate, child_link, depth + 1, st
        )

    def follow_links(self) -> None:
        """The links to folders, in the order met; following one may meet more."""
        deferred = self.deferred
        i = 0
        while i < len(deferred) and not self.full:
            d = deferred[i]
            i += 1
            try:
                st = os.stat(d.path)
            except OSError:
                self.entries.append(ManifestEntry(d.rel, Fate.BROKEN_LINK, 0, None, d.target))
                continue
            self.enter(d.path, d.rel, d.target, d.active, d.fate, d.target, d.depth + 1, st)
        if deferred:
            self.entries.sort(key=lambda e: e.rel.split("/"))

    def notes(self) -> list[tuple[str, str]]:
        """What the walk could not list, and why: (path relative to the code dir, message)."""
        notes = self.problems
        max_files, max_depth, too_deep, copies = (
            self.max_files,
            self.max_depth,
            self.too_deep,
            self.copies,
        )
        if self.full:
            notes.append(
                (
                    "",
                    f"more than {max_files} files and folders: listed the first {max_files}, "
                    "the rest is not checked; raise `max-files` in the mse-lint settings to "
                    "check all",
                )
            )
        if too_deep:
            notes.append(
                (
                    too_deep[0],
                    f"{len(too_deep)} folder{'s' if len(too_deep) != 1 else ''} deeper than "
                    f"{max_depth} folders (this one first): not listed, their files are not "
                    "checked; raise `max-depth` in the mse-lint settings to check them",
                )
            )
        if copies:
            rel, first = copies[0]
            notes.append(
                (
                    rel,
                    f"{len(copies)} symlinked folder{'s' if len(copies) != 1 else ''} reach a "
                    f"folder listed elsewhere (this one: {first}): each real folder is checked "
                    "once, but mse-cli copies it once per path",
                )
            )
        return notes
