"""What several reporters need from the checked files: source lines with every secret masked,
line-shift-proof fingerprints, and paths relative to a report root.

Reporters only render: which root, which findings and which secrets are decided before them."""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Optional
from urllib.parse import quote

from mse_lint.core.diagnostics import Diagnostic
from mse_lint.core.redact import Interval, Redactor, encodable, shown_chars

# A finding can point at any file (a shipped key, a symlink's target): read a bounded amount.
_MAX_READ = 8 * 1024 * 1024


class Sources:
    """Source lines for display and fingerprints, with every secret masked.

    ``redactor``: the run's secrets (mse_lint.core.redact), masked wherever they occur on a line
    shown; a line hashed for a fingerprint is masked with its own file's secrets only. The
    secret spans of ``diagnostics`` are masked as well (a report made without a redactor)."""

    def __init__(
        self,
        diagnostics: Iterable[Diagnostic],
        base: Optional[str] = None,
        redactor: Optional[Redactor] = None,
    ) -> None:
        self._base = base
        self._redactor = redactor or Redactor()
        self._cache: dict[str, list[str]] = {}
        self._secrets: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for d in diagnostics:
            if not d.secret:
                continue
            sp = d.span
            for n in range(sp.line, sp.end_line + 1):
                start = sp.col - 1 if n == sp.line else 0
                end = sp.end_col - 1 if n == sp.end_line else 1 << 30
                self._secrets.setdefault((d.path, n), []).append((start, end))

    def _read(self, path: str) -> list[str]:
        full = os.path.join(self._base, path) if self._base else path
        if _escapes(full, self._base or os.getcwd()):
            return []
        try:
            if not stat.S_ISREG(os.stat(full).st_mode):
                return []
            with open(full, "rb") as fh:
                data = fh.read(_MAX_READ)
        except (OSError, ValueError):
            return []
        text = data.decode("utf-8", "replace")
        return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    def _raw(self, path: str, number: int) -> Optional[str]:
        if path not in self._cache:
            self._cache[path] = self._read(path)
        lines = self._cache[path]
        if not 0 < number <= len(lines):
            return None
        return lines[number - 1]

    def _spans(self, path: str, number: int, text: str) -> list[Interval]:
        out = []
        for start, end in self._secrets.get((path, number), ()):
            start = max(0, min(start, len(text)))
            end = max(start, min(end, len(text)))
            out.append((start, end, shown_chars(end - start)))
        return out

    def line(self, path: str, number: int) -> Optional[str]:
        """Line ``number`` of ``path`` as shown: every secret of the run masked."""
        text = self._raw(path, number)
        if text is None:
            return None
        return self._redactor.mask(text, self._spans(path, number, text))

    def hashed_line(self, path: str, number: int) -> Optional[str]:
        """The line as fingerprints hash it: masked with the secrets of its own file, so that
        the hash depends on that file alone, not on which other files the run checked."""
        text = self._raw(path, number)
        if text is None:
            return None
        return self._redactor.mask_as_file(path, text, self._spans(path, number, text))


def _escapes(path: str, base: str) -> bool:
    """The path goes through a symlink to outside the folder of the run: what it points to is
    not part of the project (MSE207 reports the link) and none of it is ever shown."""
    real = os.path.realpath(path)
    if real == os.path.abspath(path):
        return False
    here = os.path.realpath(base)
    return not (real == here or real.startswith(here.rstrip(os.sep) + os.sep))


def line_hash(text: str) -> str:
    """16 hex digits of SHA-256 over the line without any whitespace: re-indenting a block or
    adding lines above it changes nothing."""
    return hashlib.sha256("".join(text.split()).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def fingerprints(diagnostics: Sequence[Diagnostic], sources: Sources) -> list[str]:
    """``<line hash>:<occurrence>`` per finding, in order. The occurrence index tells apart
    findings of one rule on identical lines of one file (counted in report order), so the value
    depends on the file's content, never on line numbers. Secrets are hashed masked."""
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for d in diagnostics:
        h = line_hash("" if d.whole_file else sources.hashed_line(d.path, d.span.line) or "")
        key = (d.path, d.rule, h)
        out.append(f"{h}:{seen[key]}")
        seen[key] += 1
    return out


def relative_to_root(path: str, root: str, cwd: str) -> Optional[str]:
    """``path`` (as reported: relative to ``cwd`` or absolute) relative to ``root`` with ``/``
    separators, or None when it lies outside ``root``."""
    full = os.path.normpath(os.path.join(cwd, path))
    try:
        rel = os.path.relpath(full, root)
    except ValueError:  # another drive on Windows
        return None
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")


def uri_path(rel: str) -> str:
    """A relative path as a URI reference: percent-encoded, ``/`` kept. A file name that is not
    UTF-8 has its own bytes percent-encoded (``%FF``), as a URI names octets."""
    return quote(_path_bytes(rel), safe="/")


def file_uri(path: str, cwd: str) -> str:
    full = os.path.abspath(os.path.join(cwd, path)).replace(os.sep, "/")
    if not full.startswith("/"):
        full = "/" + full
    return "file://" + quote(_path_bytes(full), safe="/:")


def _path_bytes(path: str) -> bytes:
    try:
        return path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name decodes to
        return path.encode("utf-8", "surrogatepass")


def shown_path(path: str) -> str:
    """A path as every output writes it: the bytes of a file name that is not UTF-8 as
    ``\\xff`` (one form in every format, the baseline included)."""
    return encodable(path)
