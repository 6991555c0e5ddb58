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
import stat
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Optional

from mse_lint.core.record import Frozen, Mutable, replace
from mse_lint.core.record import set_field as _set
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

    def __init__(
        self,
        rel: str,
        fate: Fate,
        size: int = 0,
        pattern: Optional[str] = None,
        link: Optional[str] = None,
        is_dir: bool = False,
        note: Optional[str] = None,
    ) -> None:
        _set(self, "rel", rel)
        _set(self, "fate", fate)
        _set(self, "size", size)
        _set(self, "pattern", pattern)
        _set(self, "link", link)
        _set(self, "is_dir", is_dir)
        _set(self, "note", note)


class Manifest(Frozen):
    code_dir: Path
    patterns: tuple[str, ...]
    entries: tuple[ManifestEntry, ...]
    # what the walk could not list, and why: (path relative to the code dir, message)
    notices: tuple[tuple[str, str], ...]

    def __init__(
        self,
        code_dir: Path,
        patterns: tuple[str, ...],
        entries: tuple[ManifestEntry, ...],
        notices: tuple[tuple[str, str], ...] = (),
    ) -> None:
        _set(self, "code_dir", code_dir)
        _set(self, "patterns", patterns)
        _set(self, "entries", entries)
        _set(self, "notices", notices)

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

    def __init__(
        self,
        path: str,
        rel: str,
        target: str,
        active: tuple[str, ...],
        fate: Optional[tuple[Fate, Optional[str]]],
        depth: int,
    ) -> None:
        _set(self, "path", path)
        _set(self, "rel", rel)
        _set(self, "target", target)
        _set(self, "active", active)
        _set(self, "fate", fate)
        _set(self, "depth", depth)


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
    matcher = _matcher(patterns)
    entries: list[ManifestEntry] = []
    notes: list[tuple[str, str]] = []
    root_real = os.path.realpath(code_dir)
    try:
        top = os.stat(code_dir)
    except OSError:
        return Manifest(code_dir, patterns, ())
    device = top.st_dev
    # real folder (device, inode) and whether its content ships there -> where it was listed:
    # a folder listed as excluded or hidden is listed again where it ships
    listed: dict[tuple[int, int, bool], str] = {(device, top.st_ino, True): ""}
    deferred: list[_Deferred] = []
    copies: list[tuple[str, str]] = []
    too_deep: list[str] = []
    full = [False]

    def folder_entry(
        rel: str,
        fate: Optional[tuple[Fate, Optional[str]]],
        link: Optional[str],
        note: Optional[str],
    ) -> None:
        f = fate or (Fate.ENCRYPTED, None)
        entries.append(ManifestEntry(rel, f[0], 0, f[1], link, is_dir=True, note=note))

    def enter(
        path: str,
        rel: str,
        real: str,
        active: tuple[str, ...],
        fate: Optional[tuple[Fate, Optional[str]]],
        link: Optional[str],
        depth: int,
        st: os.stat_result,
    ) -> None:
        """List the folder at ``path`` (already stat'ed) unless it was listed, is elsewhere or
        is too deep."""
        if st.st_dev != device:
            folder_entry(rel, fate, link, "on another filesystem: not listed")
            notes.append(
                (
                    rel,
                    f"a folder on another filesystem than the code dir's"
                    f"{f' (a symlink to {link})' if link else ''}: not listed, its files are "
                    "not checked; mse-cli would copy all of it",
                )
            )
            return
        key = (st.st_dev, st.st_ino, fate is None)
        first = listed.get(key)
        if first is not None:
            folder_entry(rel, fate, link, f"a copy of {first or '.'}: listed there")
            copies.append((rel, first or "."))
            return
        if depth > max_depth:
            folder_entry(rel, fate, link, f"deeper than {max_depth} folders: not listed")
            too_deep.append(rel)
            return
        listed[key] = rel
        problem = walk(path, rel, real, active, fate, link, depth)
        if problem is not None and fate is not None and fate[0] is Fate.EXCLUDED:
            folder_entry(rel, fate, link, "cannot be listed")  # never opened by copytree
        elif problem is not None:
            entries.append(ManifestEntry(rel, Fate.UNREADABLE, 0, None, link, is_dir=True))
            reason = (
                "permission denied"
                if isinstance(problem, PermissionError)
                else (problem.strerror or type(problem).__name__)
            )
            notes.append(
                (
                    rel,
                    f"cannot list this folder: {reason}; its files are not checked, and "
                    "mse-cli cannot copy it either (the deploy fails); make it readable",
                )
            )

    def walk(
        directory: str,
        rel: str,
        real: str,
        active: tuple[str, ...],
        inherited: Optional[tuple[Fate, Optional[str]]],
        link: Optional[str],
        depth: int,
    ) -> Optional[OSError]:
        try:
            with os.scandir(directory) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            return exc
        for item in items:
            if len(entries) >= max_files:
                full[0] = True
                return None
            child_rel = f"{rel}/{item.name}" if rel else item.name
            fate: Optional[tuple[Fate, Optional[str]]] = inherited
            if fate is None:
                p = matcher.first(item.name) if patterns else None
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
            if is_link and not is_dir and not is_file and os.path.exists(item.path):
                is_link = False  # a link to a FIFO or a device: listed as the special file
            if is_link and not is_dir and not is_file:
                if ignored:
                    assert fate is not None
                    entries.append(ManifestEntry(child_rel, fate[0], 0, fate[1], child_link))
                else:
                    entries.append(ManifestEntry(child_rel, Fate.BROKEN_LINK, 0, None, child_link))
                continue
            if is_dir:
                child_real = child_link if is_link else f"{real.rstrip('/')}/{item.name}"
                assert child_real is not None
                # a link to a folder being walked or to one holding it: copytree would come
                # back here through it for ever
                if is_link and _holds(child_real, (*active, real)):
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
                # an excluded link is never opened by copytree: nothing below it is listed
                if fate is not None and (not expand or (is_link and ignored)):
                    entries.append(
                        ManifestEntry(child_rel, fate[0], 0, fate[1], child_link, is_dir=True)
                    )
                    continue
                if is_link:
                    deferred.append(
                        _Deferred(item.path, child_rel, child_real, (*active, real), fate, depth)
                    )
                    continue
                try:
                    st = item.stat()
                except OSError:
                    continue
                enter(
                    item.path,
                    child_rel,
                    child_real,
                    (*active, real),
                    fate,
                    child_link,
                    depth + 1,
                    st,
                )
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
            elif ignored:
                assert fate is not None
                entries.append(ManifestEntry(child_rel, fate[0], 0, fate[1], child_link))
            else:
                # a FIFO, a socket, a device: never opened here, and copytree fails on it
                entries.append(ManifestEntry(child_rel, Fate.SPECIAL, 0, None, child_link))
        return None

    problem = walk(str(code_dir), "", root_real, (), None, None, 0)
    if problem is not None:
        raise ProjectError(f"{code_dir}: cannot list the code dir: {problem.strerror}")
    # the links, in the order met; following one may meet more
    i = 0
    while i < len(deferred) and not full[0]:
        d = deferred[i]
        i += 1
        try:
            st = os.stat(d.path)
        except OSError:
            entries.append(ManifestEntry(d.rel, Fate.BROKEN_LINK, 0, None, d.target))
            continue
        enter(d.path, d.rel, d.target, d.active, d.fate, d.target, d.depth + 1, st)
    if deferred:
        entries.sort(key=lambda e: e.rel.split("/"))
    if full[0]:
        notes.append(
            (
                "",
                f"more than {max_files} files and folders: listed the first {max_files}, the "
                "rest is not checked; raise `max-files` in the mse-lint settings to check all",
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
    return Manifest(code_dir, patterns, tuple(entries), tuple(notes))


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
        raw = read_regular(path, "mse.toml")
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
