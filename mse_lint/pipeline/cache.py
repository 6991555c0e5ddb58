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
- Every field of an entry is checked when it is used: rules that run, severities the settings
  allow, the message of the rule's template, the path of the file asked about, positions inside
  it, bounded sizes. An entry that fails is a miss: the file is checked again.
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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Optional

from mse_lint import __version__
from mse_lint.core.atomic import replacing, write_all
from mse_lint.core.diagnostics import Diagnostic, Notice, Severity, Span
from mse_lint.core.record import Record

CACHE_DIR_NAME = ".mse_lint_cache"
ENV_DIR = "MSE_LINT_CACHE_DIR"
FORMAT = "v1"
MAX_AGE_DAYS = 30
MAX_ENTRIES = 50_000
# Bounds on what is read back (a bundle of 50,000 entries with findings stays well below)
MAX_BUNDLE_BYTES = 64 << 20
MAX_TEXT = 8192  # characters of a message or a notice
MAX_ITEMS = 10_000  # findings, suppressed findings or notices of one file
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


# -- (de)serialising results -------------------------------------------------------------------


def _diag_out(d: Diagnostic) -> list[Any]:
    s = d.span
    return [
        d.path,
        s.line,
        s.col,
        s.end_line,
        s.end_col,
        d.rule,
        int(d.severity),
        d.message,
        d.fix,
        d.stmt_line,
        d.secret,
    ]


def _notice_out(n: Notice) -> list[Any]:
    return [n.message, n.path, n.line]


def encode(
    diagnostics: list[Diagnostic],
    suppressed: list[Diagnostic],
    notices: list[Notice],
    checked: bool,
    secret_spans: Sequence[tuple[int, int, int, int]] = (),
) -> list[Any]:
    """An entry: a file's final results (suppressions, MSE003 and severity overrides applied:
    the settings that decide them are part of the bundle's key), and where the secret
    detectors judged its text secret: positions only, never the text (mse_lint.core.redact)."""
    return [
        [_diag_out(d) for d in diagnostics],
        [_diag_out(d) for d in suppressed],
        [_notice_out(n) for n in notices],
        checked,
        [list(s) for s in secret_spans],
    ]


Entry = tuple[
    list[Diagnostic], list[Diagnostic], list[Notice], bool, list[tuple[int, int, int, int]]
]


class Invalid(ValueError):
    """An entry that is not what checking its file gives: a miss."""


class EntryRules:
    """What an entry of one bundle may hold: findings of the rules that run, with a severity
    the settings allow, the rule's fix and a message made from the rule's template."""

    def __init__(
        self,
        catalog: Any,
        enabled: frozenset[str],
        severity_of: Callable[[str, Severity], Severity],
    ) -> None:
        self.rules: Mapping[str, Any] = catalog.rules
        self.enabled = enabled
        self.severity_of = severity_of
        self._pieces: dict[str, list[list[str]]] = {}
        self._variants: Optional[dict[str, list[dict[str, Any]]]] = None
        self._families: Mapping[str, Mapping[str, Any]] = catalog.families

    def variants(self, rule_id: str) -> list[dict[str, Any]]:
        """The catalogue's entries that report ``rule_id`` with a message or fix of their own
        (process.toml's joblib entries, say): any table entry of a family's data that names its
        ``rule``. Found once, on the first entry that needs them."""
        if self._variants is None:
            found: dict[str, list[dict[str, Any]]] = {}
            for data in self._families.values():
                for value in data.values():
                    for item in value if isinstance(value, list) else ():
                        if (
                            isinstance(item, dict)
                            and isinstance(item.get("rule"), str)
                            and any(k in item for k in ("message", "fix"))
                        ):
                            found.setdefault(item["rule"], []).append(item)
            self._variants = found
        return self._variants.get(rule_id, [])

    def fix_fits(self, rule_id: str, fix: Optional[str]) -> bool:
        if fix is None or fix == self.rules[rule_id].fix:
            return True
        return any(v.get("fix") == fix for v in self.variants(rule_id))

    def message_fits(self, rule_id: str, message: str) -> bool:
        """``message`` is the rule's template (or one of its variants') with something in each
        ``{field}``. The fixed parts are matched in order with ``str.find`` (no regex: no
        backtracking on a long message)."""
        templates = self._pieces.get(rule_id)
        if templates is None:
            import string

            texts = [self.rules[rule_id].message]
            texts += [
                v["message"] for v in self.variants(rule_id) if isinstance(v.get("message"), str)
            ]
            templates = []
            for text in texts:
                pieces = [""]
                for literal, field, _, _ in string.Formatter().parse(text):
                    pieces[-1] += literal
                    if field is not None:
                        pieces.append("")
                templates.append(pieces)
            self._pieces[rule_id] = templates
        return any(_fits(pieces, message) for pieces in templates)


def _fits(pieces: list[str], message: str) -> bool:
    if len(pieces) == 1:
        return message == pieces[0]
    first, last = pieces[0], pieces[-1]
    end = len(message) - len(last)
    if end < len(first) or not message.startswith(first) or not message.endswith(last):
        return False
    at = len(first)
    for piece in pieces[1:-1]:
        found = message.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True


class _File:
    """The file an entry is for: its displayed path and the bounds of positions in it."""

    def __init__(self, display: str, data: bytes) -> None:
        self.display = display
        self.data = data
        self._lines = 0

    @property
    def lines(self) -> int:
        # An upper bound whatever the line endings (\n, \r\n or a lone \r); counted only for a
        # file with findings
        if not self._lines:
            self._lines = self.data.count(b"\n") + self.data.count(b"\r") + 1
        return self._lines


def _int(value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:  # a JSON true is not a line number
        raise Invalid("position")
    return value


def _text(value: Any) -> str:
    if type(value) is not str or len(value) > MAX_TEXT:
        raise Invalid("text")
    return value


def _items(value: Any) -> list[Any]:
    if type(value) is not list or len(value) > MAX_ITEMS:
        raise Invalid("list")
    return value


def _diag_in(raw: Any, f: _File, rules: EntryRules) -> Diagnostic:
    path, line, col, end_line, end_col, rule_id, sev, message, fix, stmt_line, secret = _items(raw)
    if path != f.display:  # a cached finding never points at another file
        raise Invalid("path")
    if type(rule_id) is not str or rule_id not in rules.enabled:
        raise Invalid("rule")
    severity = Severity(_int(sev, min(Severity), max(Severity)))
    # a check may lower a rule's severity itself (MSE413 with a default, joblib's MSE107):
    # any severity the settings' overrides can give the rule
    if not any(rules.severity_of(rule_id, base) == severity for base in Severity):
        raise Invalid("severity")
    if not rules.message_fits(rule_id, _text(message)):
        raise Invalid("message")
    if not rules.fix_fits(rule_id, fix):
        raise Invalid("fix")
    if type(secret) is not bool:
        raise Invalid("secret")
    lines = f.lines
    width = len(f.data) + 2  # a column counts characters; a character is at least one byte
    line = _int(line, 1, lines)
    return Diagnostic(
        path,
        Span(line, _int(col, 1, width), _int(end_line, line, lines), _int(end_col, 1, width)),
        rule_id,
        severity,
        message,
        fix,
        _int(stmt_line, 0, lines),
        secret,
    )


def _notice_in(raw: Any, f: _File) -> Notice:
    message, path, line = _items(raw)
    if path is not None and path != f.display:
        raise Invalid("path")
    return Notice(_text(message), path, None if line is None else _int(line, 1, f.lines))


def decode(raw: Any, display: str, data: bytes, rules: EntryRules) -> Entry:
    """The entry for the file shown as ``display`` whose content is ``data``. Raises Invalid
    (or ValueError / TypeError) on anything that checking that file could not have given."""
    diagnostics, suppressed, notices, checked, spans = _items(raw)
    if type(checked) is not bool:
        raise Invalid("checked")
    if diagnostics == [] and suppressed == [] and notices == [] and spans == []:
        return [], [], [], checked, []  # most files: nothing to check
    f = _File(display, data)
    return (
        [_diag_in(d, f, rules) for d in _items(diagnostics)],
        [_diag_in(d, f, rules) for d in _items(suppressed)],
        [_notice_in(n, f) for n in _items(notices)],
        checked,
        [_span_in(s, f) for s in _items(spans)],
    )


def _span_in(raw: Any, f: _File) -> tuple[int, int, int, int]:
    """A secret's position in the file: what the outputs mask there on a cached run."""
    line, col, end_line, end_col = _items(raw)
    width = len(f.data) + 2
    line = _int(line, 1, f.lines)
    return (line, _int(col, 1, width), _int(end_line, line, f.lines), _int(end_col, 1, width))


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
