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

Safety: entries are JSON, never pickle (a cache folder inside a cloned project is not trusted
code); a bundle is written to a temp file in its folder and renamed over the old one, so a
concurrent run reads the old or the new bundle, never half of one (the last writer wins; the
loser's entries are computed again next time). A bundle that does not parse, or an entry of the
wrong shape, is ignored. Nothing here ever fails the run: an unwritable folder means no cache.

Pruning: an entry not used for ``MAX_AGE_DAYS`` days is dropped when its bundle is written, a
bundle keeps at most ``MAX_ENTRIES`` entries (most recently used first), and bundles not written
for ``MAX_AGE_DAYS`` days are deleted.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from . import __version__
from .atomic import write_atomic
from .diagnostics import Diagnostic, Notice, Severity, Span
from .record import Record

CACHE_DIR_NAME = ".mse_lint_cache"
ENV_DIR = "MSE_LINT_CACHE_DIR"
FORMAT = "v1"
MAX_AGE_DAYS = 30
MAX_ENTRIES = 50_000
# Settings fields that never change a file's findings (everything else is part of the key, so
# a field added later is safe by default: it only costs cache misses)
_SETTINGS_NOT_IN_KEY = frozenset({"source", "jobs", "fail_on", "exclude", "cache"})


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
    here = Path(__file__).resolve().parent
    stats: list[Any] = [__version__, sys.version_info[:3], sys.implementation.name]
    for folder in (here, here / "checks"):
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


def _diag_in(raw: Any) -> Diagnostic:
    path, line, col, end_line, end_col, rule, sev, message, fix, stmt_line, secret = raw
    if not (isinstance(path, str) and isinstance(rule, str) and isinstance(message, str)):
        raise ValueError("bad diagnostic")
    if fix is not None and not isinstance(fix, str):
        raise ValueError("bad fix")
    return Diagnostic(
        path,
        Span(int(line), int(col), int(end_line), int(end_col)),
        rule,
        Severity(int(sev)),
        message,
        fix,
        int(stmt_line),
        bool(secret),
    )


def _notice_out(n: Notice) -> list[Any]:
    return [n.message, n.path, n.line]


def _notice_in(raw: Any) -> Notice:
    message, path, line = raw
    if not isinstance(message, str) or not (path is None or isinstance(path, str)):
        raise ValueError("bad notice")
    return Notice(message, path, None if line is None else int(line))


def encode(
    diagnostics: list[Diagnostic],
    suppressed: list[Diagnostic],
    notices: list[Notice],
    checked: bool,
    secret_spans: Sequence[tuple[int, int, int, int]] = (),
) -> list[Any]:
    """An entry: a file's final results (suppressions, MSE003 and severity overrides applied:
    the settings that decide them are part of the bundle's key), and where the secret
    detectors judged its text secret: positions only, never the text (mse_lint.redact)."""
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


def decode(raw: Any) -> Entry:
    """Raises ValueError / TypeError on an entry of the wrong shape."""
    diagnostics, suppressed, notices, checked, spans = raw
    return (
        [_diag_in(d) for d in diagnostics],
        [_diag_in(d) for d in suppressed],
        [_notice_in(n) for n in notices],
        bool(checked),
        [_span_in(s) for s in spans],
    )


def _span_in(raw: Any) -> tuple[int, int, int, int]:
    line, col, end_line, end_col = raw
    return (int(line), int(col), int(end_line), int(end_col))


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


class ResultCache:
    """The entries of one bundle, loaded once; ``save`` writes back what changed."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder
        self.path = folder / FORMAT / f"{key}.json"
        self.today = _today()
        self._entries: dict[str, list[Any]] = {}  # key -> [day last used, entry]
        self._dirty = False
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError):
            return
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            return
        entries = doc.get("entries")
        if isinstance(entries, dict):
            self._entries = {
                k: v
                for k, v in entries.items()
                if isinstance(v, list) and len(v) == 2 and isinstance(v[0], int)
            }

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Optional[Entry]:
        item = self._entries.get(key)
        if item is None:
            return None
        try:
            value = decode(item[1])
        except (ValueError, TypeError, IndexError):
            del self._entries[key]  # a corrupt entry is as good as none
            self._dirty = True
            return None
        if item[0] != self.today:
            item[0] = self.today
            self._dirty = True
        return value

    def put(self, key: str, entry: list[Any]) -> None:
        """``entry`` as made by ``encode`` (in a worker process, say)."""
        self._entries[key] = [self.today, entry]
        self._dirty = True

    def save(self) -> None:
        """Write the bundle if anything changed; silently give up when that is not possible."""
        if not self._dirty:
            return
        self._dirty = False
        oldest = self.today - MAX_AGE_DAYS
        kept = [(k, v) for k, v in self._entries.items() if v[0] >= oldest]
        if len(kept) > MAX_ENTRIES:
            kept.sort(key=lambda kv: kv[1][0], reverse=True)
            kept = kept[:MAX_ENTRIES]
        doc = {"format": FORMAT, "tool": __version__, "entries": dict(kept)}
        try:
            _prepare(self.folder)
            bundles = self.path.parent
            bundles.mkdir(exist_ok=True)
            write_atomic(self.path, json.dumps(doc, separators=(",", ":")))
            _prune(bundles, self.path)
        except (OSError, ValueError, TypeError):
            return


def _prepare(folder: Path) -> None:
    """Create the cache folder with a ``.gitignore`` that ignores all of it."""
    folder.mkdir(parents=False, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        write_atomic(ignore, "# created by mse-lint; the whole folder is a cache\n*\n")
    tag = folder / "CACHEDIR.TAG"
    if not tag.exists():
        write_atomic(
            tag,
            "Signature: 8a477f597d28d172789f06886806bc55\n"
            "# This file is a cache directory tag created by mse-lint.\n",
        )


def _prune(bundles: Path, keep: Path) -> None:
    """Delete bundles (other configurations) and stale temp files unused for too long."""
    limit = time.time() - MAX_AGE_DAYS * 86400
    stale_tmp = time.time() - 3600
    for entry in _scandir(bundles):
        path = Path(entry.path)
        if path == keep:
            continue
        try:
            mtime = entry.stat().st_mtime
        except OSError:
            continue
        if mtime < limit or (
            entry.name.startswith(".") and entry.name.endswith(".tmp") and mtime < stale_tmp
        ):
            _unlink(path)


def _scandir(folder: Path) -> Iterable[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError:
        return []


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def open_cache(
    project: Any, cwd: Path, catalog: Any, settings: Any, info: Any
) -> Optional[ResultCache]:
    """The results cache of one group of files (``project``: a ``project.Project``)."""
    root = project.root if project.mse_toml is not None else None
    try:
        key = _digest(
            FORMAT,
            tool_fingerprint(),
            catalog.fingerprint or _digest(canonical(catalog)),
            sorted(settings.enabled(catalog)),
            settings_key(settings),
            project_key(info),
        )
        return ResultCache(cache_dir(root, cwd), key)
    except (OSError, ValueError, TypeError):
        return None
