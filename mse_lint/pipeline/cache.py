"""The results cache: per-file findings keyed on everything that decides them.

Where: ``.mse_lint_cache/`` in the project root (the folder holding mse.toml), or in the current
directory when the linted files have no mse.toml; ``MSE_LINT_CACHE_DIR`` moves it anywhere.
``--no-cache`` (or ``cache = false`` in the configuration) turns it off.

What: one bundle per configuration, ``<dir>/v1/<key>.json``. The key hashes the tool (version
and its own source files), the running Python (it decides what parses), the target Python, the
settings that change results, the enabled rules, the catalogue's content and the project facts
a file's checks see (``ProjectInfo``). Inside a bundle, an entry's key hashes the file's path
(as opened and as displayed) and its content; the entry holds the file's final findings,
suppressed findings and notices: reading an entry back gives exactly what checking the file
again would.

Trust: the cache folder can come from anyone (committed to a cloned repository, planted in a
shared folder, restored from a CI cache), so nothing in it is believed:
- The folder and its ``v1/`` are opened without following links (``O_NOFOLLOW``), must be real
  folders owned by the user running mse-lint, and the folder must be one mse-lint made (its
  ``CACHEDIR.TAG``) or empty. Everything after that goes through those open descriptors
  (``openat``-style), so a link swapped in between the check and the write changes nothing.
  Anything else: one notice saying what was found, and the run goes on without the cache.
- A bundle is read only if it is a regular file of this user, at most ``MAX_BUNDLE_BYTES``, and
  the very file this user's mse-lint wrote: the bundle records the inode and the modification
  time (set by mse-lint, two-second aligned) of the file it was written to, so a copy (a git
  checkout, an extracted archive, ``cp``) does not match and is never parsed.
- Every field of an entry is checked when it is used (mse_lint.pipeline.cache_entry): rules
  that run, severities the settings allow, the message of the rule's template, the path of the
  file asked about, positions inside it, bounded sizes. An entry that fails is a miss: the
  file is checked again.
- Entries are JSON, never pickle (a cache folder is data, never code).

Writes: a bundle goes to a temp file in ``v1/`` (``O_EXCL|O_NOFOLLOW``, mode 0600) renamed over
the old one, so a concurrent run reads the old or the new bundle, never half of one (the last
writer wins; the loser's entries are computed again next time). Nothing here ever fails the run:
an unwritable folder means no cache.

Pruning, when a bundle is written: an entry not used for ``MAX_AGE_DAYS`` days is dropped, a
bundle keeps at most ``MAX_ENTRIES`` entries (most recently used first), and in ``v1/`` only
files that are mse-lint's by name and content are deleted: bundles not written for
``MAX_AGE_DAYS`` days, and temporary files (of bundles, or of the folder's ``.gitignore`` and
``CACHEDIR.TAG``) older than an hour, left by a run that was killed.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import hashlib
import json
import os
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from mse_lint import __version__
from mse_lint.core.atomic import replacing, write_all
from mse_lint.core.record import Record
from mse_lint.pipeline.cache_entry import Entry, EntryRules, decode, encode

# the entry's (de)serialising lives in mse_lint.pipeline.cache_entry; what is used from here
__all__ = [
    "CACHE_DIR_NAME",
    "Entry",
    "EntryRules",
    "ResultCache",
    "encode",
    "file_key",
    "open_cache",
    "refusal_message",
]

CACHE_DIR_NAME = ".mse_lint_cache"
ENV_DIR = "MSE_LINT_CACHE_DIR"
FORMAT = "v1"
MAX_AGE_DAYS = 30
MAX_ENTRIES = 50_000
# Bounds on what is read back (a bundle of 50,000 entries with findings stays well below)
MAX_BUNDLE_BYTES = 64 << 20
# Settings fields that never change a file's findings (everything else is part of the key, so
# a field added later is safe by default: it only costs cache misses)
_SETTINGS_NOT_IN_KEY = frozenset({"source", "jobs", "fail_on", "exclude", "cache"})

_TAG_NAME = "CACHEDIR.TAG"
_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55\n"
_TAG = _SIGNATURE + b"# This file is a cache directory tag created by mse-lint.\n"
_IGNORE_NAME = ".gitignore"
_IGNORE = b"# created by mse-lint; the whole folder is a cache\n*\n"
_BUNDLE_HEAD = b'{"format":"' + FORMAT.encode() + b'",'
_BOUND_HEAD = _BUNDLE_HEAD + b'"file":['
_STALE_TEMP_SECONDS = 3600

_DIR_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
# O_NONBLOCK: opening a FIFO planted under a bundle's name must not wait for a writer
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def cache_dir(project_root: Optional[Path], cwd: Path) -> Path:
    """The cache folder for a group of files: see the module docstring."""
    env = os.environ.get(ENV_DIR, "").strip()
    if env:
        return cwd / Path(env).expanduser()
    return (project_root or cwd) / CACHE_DIR_NAME


def canonical(value: Any) -> Any:
    """A JSON-able form of settings / project facts whose text does not depend on set or dict
    order (Python randomises the order of sets of strings per process)."""
    if isinstance(value, Record):
        return {
            name: canonical(getattr(value, name))
            for name in value._fields
            if not name.startswith("_")
        }
    if isinstance(value, enum.Enum):
        return [type(value).__name__, canonical(value.value)]
    if isinstance(value, Mapping):
        return sorted(([str(k), canonical(v)] for k, v in value.items()), key=_order)
    if isinstance(value, (set, frozenset)):
        return sorted((canonical(v) for v in value), key=_order)
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _order(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def tool_fingerprint() -> str:
    """mse-lint's version and its own source files (size, mtime): a changed check in a
    development checkout never reuses results of the old code."""
    here = Path(__file__).resolve().parent.parent  # the mse_lint package
    stats: list[Any] = [__version__, sys.version_info[:3], sys.implementation.name]
    try:
        subfolders = sorted(
            e.name for e in os.scandir(here) if e.is_dir() and e.name.isidentifier()
        )
    except OSError:
        subfolders = []
    for folder in [here, *(here / name for name in subfolders)]:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if name.endswith(".py"):
                try:
                    st = os.stat(folder / name)
                except OSError:
                    continue
                stats.append([str(folder.name), name, st.st_size, st.st_mtime_ns])
    return _digest(stats)


def settings_key(settings: Any) -> Any:
    data = canonical(settings)
    return {k: v for k, v in data.items() if k not in _SETTINGS_NOT_IN_KEY}


def project_key(info: Any) -> Any:
    """The facts a file's checks see, without the cache's own folder (its files come and go
    between runs when the cache lives inside the code dir; no check reads them)."""
    data = canonical(info)
    for name in ("shipped", "unshipped"):
        value = data.get(name)
        if isinstance(value, list):
            data[name] = [v for v in value if not _is_cache_path(v)]
    return data


def _is_cache_path(item: Any) -> bool:
    rel = item[0] if isinstance(item, list) and item else item
    return isinstance(rel, str) and (rel == CACHE_DIR_NAME or rel.startswith(CACHE_DIR_NAME + "/"))


# -- a bundle on disk --------------------------------------------------------------------------


def file_key(path: str, display: str, data: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(path.encode("utf-8", "surrogateescape"))
    h.update(b"\0")
    h.update(display.encode("utf-8", "surrogateescape"))
    h.update(b"\0")
    h.update(data)
    return h.hexdigest()


def _today() -> int:
    return int(time.time() // 86400)


# -- the folder on disk ------------------------------------------------------------------------


class Refused(Exception):
    """A cache folder (or its ``v1/``) that the cache must not use, and what was found."""

    def __init__(self, where: Path, found: str) -> None:
        super().__init__(f"{where}: {found}")
        self.where = where
        self.found = found


def refusal_message(found: str) -> str:
    """The notice's text (its path is the folder): what was found, and what to do."""
    return (
        f"not used as the results cache: {found}; this run is not cached (remove it, or set "
        f"{ENV_DIR} to a folder of your own, or pass --no-cache)"
    )


def _supported() -> bool:
    """The descriptor-relative calls the cache's safety rests on (POSIX). Without them there
    is no cache at all."""
    return (
        hasattr(os, "O_NOFOLLOW")
        and hasattr(os, "O_DIRECTORY")
        and {os.open, os.stat, os.mkdir, os.unlink, os.rename} <= os.supports_dir_fd
        and {os.utime, os.scandir} <= os.supports_fd
    )


def _what_is(name: str, dir_fd: int) -> str:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return "it cannot be opened as a folder"
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link (the cache never follows links)"
    return "it is not a folder"


def _open_dir(name: str, dir_fd: int, where: Path) -> Optional[int]:
    """The folder ``name`` in ``dir_fd`` opened without following a link, or None when it
    does not exist. Raises Refused for a link, a non-folder or a folder of another user."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        # ELOOP: a link under O_NOFOLLOW (EMLINK on FreeBSD); ENOTDIR: a file, or a link
        # under O_DIRECTORY on some systems
        if exc.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR):
            raise Refused(where, _what_is(name, dir_fd)) from None
        raise
    st = os.fstat(fd)
    if st.st_uid != os.geteuid():
        os.close(fd)
        raise Refused(where, f"it belongs to another user (uid {st.st_uid}), not to you")
    return fd


def _read_regular(
    name: str, dir_fd: int, limit: int, head: int = 0
) -> Optional[tuple[bytes, os.stat_result]]:
    """The content of ``name`` in ``dir_fd`` if it is a regular file of this user, not a link,
    of at most ``limit`` bytes; else None. ``head``: only its first bytes, whatever its size."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            return None
        if head:
            return os.read(fd, head), st
        if st.st_size > limit:
            return None
        chunks = []
        left = limit + 1  # the file may grow after fstat: never read past the limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return (data, st) if len(data) <= limit else None
    finally:
        os.close(fd)


def _bound_to(data: bytes, st: os.stat_result) -> bool:
    """The bundle says it was written to this very file (inode, modification time): a copy of
    it, wherever it came from, is not believed."""
    if not data.startswith(_BOUND_HEAD):
        return False
    start = len(_BOUND_HEAD)
    end = data.find(b"]", start, start + 48)
    if end < 0:
        return False
    try:
        ino, stamp = (int(part) for part in data[start:end].split(b","))
    except ValueError:
        return False
    return ino == st.st_ino and stamp == st.st_mtime_ns


def _names(dir_fd: int) -> list[os.DirEntry[str]]:
    with os.scandir(dir_fd) as it:
        return list(it)


def _only_ours(dir_fd: int) -> bool:
    """The folder holds nothing but what mse-lint itself puts there before its tag is in
    place (a concurrent first run, still writing): as good as empty."""
    for entry in _names(dir_fd):
        name = entry.name
        if name in (_IGNORE_NAME, FORMAT):
            continue
        if name.startswith((f".{_TAG_NAME}.", f".{_IGNORE_NAME}.")) and name.endswith(".tmp"):
            continue
        return False
    return True


def _delete_if(
    dir_fd: int,
    entry: os.DirEntry[str],
    before: float,
    heads: tuple[bytes, ...],
    partial: bool,
) -> None:
    """Delete ``entry`` of ``dir_fd`` if it is a regular file of this user last written
    before ``before`` that starts with one of ``heads`` (``partial``: or is the start of one,
    a temporary file a killed run did not finish)."""
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mtime >= before:
        return
    got = _read_regular(entry.name, dir_fd, 0, head=64)
    if got is None:
        return
    data = got[0]
    if any(data.startswith(h) or (partial and h.startswith(data)) for h in heads):
        with contextlib.suppress(OSError):
            os.unlink(entry.name, dir_fd=dir_fd)


class ResultCache:
    """The entries of one bundle, loaded once; ``save`` writes back what changed.

    ``refused`` is set (and the cache does nothing) when the folder is not one the cache may
    use: the caller reports it once."""

    def __init__(self, folder: Path, key: str, rules: EntryRules) -> None:
        self.folder = Path(os.path.abspath(folder))
        self.name = f"{key}.json"
        self.path = self.folder / FORMAT / self.name
        self.rules = rules
        self.today = _today()
        self.refused: Optional[Refused] = None
        self._entries: dict[str, list[Any]] = {}  # key -> [day last used, entry]
        self._dirty = False
        self._off = not _supported()
        self._root: Optional[int] = None  # descriptors of the folder and of its v1/
        self._v1: Optional[int] = None
        if not self._off:
            try:
                self._load()
            except Refused as exc:
                self._refuse(exc)
            except OSError:
                self._off = True  # no folder to read or write: no cache, silently
                self.close()

    # -- reading -------------------------------------------------------------------------------
    def _load(self) -> None:
        self._root = self._open_root(create=False)
        if self._root is None:
            return
        self._v1 = _open_dir(FORMAT, self._root, self.folder / FORMAT)
        if self._v1 is None:
            return
        got = _read_regular(self.name, self._v1, MAX_BUNDLE_BYTES)
        if got is None or not _bound_to(*got):
            return
        try:
            doc = json.loads(got[0])
        except (ValueError, RecursionError):
            return
        entries = doc.get("entries") if isinstance(doc, dict) else None
        if isinstance(entries, dict) and len(entries) <= MAX_ENTRIES:
            self._entries = {
                k: v
                for k, v in entries.items()
                if type(v) is list and len(v) == 2 and type(v[0]) is int
            }

    def _open_root(self, create: bool) -> Optional[int]:
        """The cache folder, checked (see the module docstring); made first when ``create``.
        None when it does not exist (and is not to be made)."""
        parent = os.open(str(self.folder.parent), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            made = False
            if create:
                try:
                    os.mkdir(self.folder.name, 0o777, dir_fd=parent)
                    made = True
                except FileExistsError:
                    pass
            fd = _open_dir(self.folder.name, parent, self.folder)
        finally:
            os.close(parent)
        if fd is None:
            return None
        try:
            self._check_made_by_us(fd, made, create)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _check_made_by_us(self, fd: int, made: bool, write: bool) -> None:
        """A folder mse-lint made holds its CACHEDIR.TAG; an empty one (made by hand, for
        MSE_LINT_CACHE_DIR) is taken over. Anything else is someone else's folder: never
        written to (a tag in $HOME would make backup tools skip it)."""
        got = _read_regular(_TAG_NAME, fd, 4096)
        if got is not None:
            if not (got[0].startswith(_SIGNATURE) and b"mse-lint" in got[0]):
                raise Refused(self.folder, f"its {_TAG_NAME} was not written by mse-lint")
        else:
            with contextlib.suppress(FileNotFoundError):
                os.stat(_TAG_NAME, dir_fd=fd, follow_symlinks=False)
                # there, but a link, a FIFO or another user's file
                raise Refused(self.folder, f"its {_TAG_NAME} is not a regular file of yours")
            if not made and not _only_ours(fd):
                raise Refused(
                    self.folder,
                    f"it holds files but no {_TAG_NAME} of mse-lint, so it is not "
                    "a folder mse-lint made",
                )
            if write:
                with replacing(_TAG_NAME, 0o600, dir_fd=fd) as out:
                    write_all(out, _TAG)
        if write:
            try:
                os.stat(_IGNORE_NAME, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                with replacing(_IGNORE_NAME, 0o600, dir_fd=fd) as out:
                    write_all(out, _IGNORE)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, display: str, data: bytes) -> Optional[Entry]:
        """The entry of the file shown as ``display`` with content ``data`` (whose key is
        ``key``), or None: not cached, or not an entry checking that file could give."""
        item = self._entries.get(key)
        if item is None:
            return None
        try:
            value = decode(item[1], display, data, self.rules)
        except (ValueError, TypeError, KeyError):
            del self._entries[key]  # a damaged or forged entry is as good as none
            self._dirty = True
            return None
        if item[0] != self.today:
            item[0] = self.today
            self._dirty = True
        return value

    def put(self, key: str, entry: list[Any]) -> None:
        """``entry`` as made by ``encode`` (in a worker process, say)."""
        if self._off:
            return
        self._entries[key] = [self.today, entry]
        self._dirty = True

    # -- writing -------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the bundle if anything changed; silently give up when that is not possible.
        The folder's descriptors are closed after."""
        try:
            if self._dirty and not self._off:
                self._dirty = False
                self._save()
        except Refused as exc:
            self._refuse(exc)
        except (OSError, ValueError, TypeError):
            pass
        finally:
            self.close()

    def _save(self) -> None:
        oldest = self.today - MAX_AGE_DAYS
        kept = [(k, v) for k, v in self._entries.items() if v[0] >= oldest]
        if len(kept) > MAX_ENTRIES:
            kept.sort(key=lambda kv: kv[1][0], reverse=True)
            kept = kept[:MAX_ENTRIES]
        if self._root is None:
            self._root = self._open_root(create=True)
            if self._root is None:
                return
        else:
            self._check_made_by_us(self._root, False, True)  # a removed .gitignore comes back
        if self._v1 is None:
            with contextlib.suppress(FileExistsError):
                os.mkdir(FORMAT, 0o777, dir_fd=self._root)
            self._v1 = _open_dir(FORMAT, self._root, self.folder / FORMAT)
            if self._v1 is None:
                return
        body = json.dumps(dict(kept), separators=(",", ":")).encode("utf-8")
        while len(body) > MAX_BUNDLE_BYTES - 128 and kept:
            # most recently used first, and fewer until the bundle fits what a run reads back
            kept.sort(key=lambda kv: kv[1][0], reverse=True)
            kept = kept[: len(kept) * 3 // 4]
            body = json.dumps(dict(kept), separators=(",", ":")).encode("utf-8")
        with replacing(self.name, 0o600, dir_fd=self._v1) as fd:
            st = os.fstat(fd)
            # a whole, even number of seconds: every file system stores it exactly
            stamp = time.time_ns() // 2_000_000_000 * 2_000_000_000
            head = b'%s%d,%d],"tool":%s,"entries":' % (
                _BOUND_HEAD,
                st.st_ino,
                stamp,
                json.dumps(__version__).encode("utf-8"),
            )
            write_all(fd, head + body + b"}")
            os.utime(fd, ns=(stamp, stamp))
        self._prune()

    def _prune(self) -> None:
        """Delete, in v1/, bundles of other configurations unused for too long, and in v1/
        and the folder, temporary files of killed runs: only regular files of this user whose
        name and first bytes are those mse-lint writes."""
        import re

        assert self._root is not None and self._v1 is not None
        now = time.time()
        bundle_age = now - MAX_AGE_DAYS * 86400
        temp_age = now - _STALE_TEMP_SECONDS
        bundle = re.compile(r"[0-9a-f]{32}\.json")
        bundle_temp = re.compile(r"\.[0-9a-f]{32}\.json\.[0-9a-f]{12}\.tmp")
        marker_temp = re.compile(r"\.(?:\.gitignore|CACHEDIR\.TAG)\.[0-9a-f]{12}\.tmp")
        for entry in _names(self._v1):
            name = entry.name
            if name == self.name:
                continue
            if bundle.fullmatch(name):
                _delete_if(self._v1, entry, bundle_age, (_BUNDLE_HEAD,), partial=False)
            elif bundle_temp.fullmatch(name):
                _delete_if(self._v1, entry, temp_age, (_BUNDLE_HEAD,), partial=True)
        for entry in _names(self._root):
            if marker_temp.fullmatch(entry.name):
                _delete_if(self._root, entry, temp_age, (_SIGNATURE, _IGNORE), partial=True)

    def _refuse(self, exc: Refused) -> None:
        self.refused = exc
        self._off = True
        self._entries = {}
        self._dirty = False
        self.close()

    def close(self) -> None:
        for fd in (self._v1, self._root):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._v1 = self._root = None


def open_cache(
    project: Any, cwd: Path, catalog: Any, settings: Any, info: Any
) -> Optional[ResultCache]:
    """The results cache of one group of files (``project``: a ``project.Project``)."""
    root = project.root if project.mse_toml is not None else None
    try:
        enabled = settings.enabled(catalog)
        key = _digest(
            FORMAT,
            tool_fingerprint(),
            catalog.fingerprint or _digest(canonical(catalog)),
            sorted(enabled),
            settings_key(settings),
            project_key(info),
        )
        return ResultCache(
            cache_dir(root, cwd), key, EntryRules(catalog, enabled, settings.severity_of)
        )
    except (OSError, ValueError, TypeError):
        return None
