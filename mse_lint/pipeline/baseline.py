"""Baseline: accept the findings a project has today, report only new ones.

A finding is recorded as (rule, path, line hash, occurrence): the path relative to the baseline
file's folder, a hash of the flagged source line with its whitespace normalised (never the line
itself, so a secret on it is not written out in clear), and the finding's index among the
findings of the same rule, path and line hash, in source order. Line numbers are not recorded:
adding or removing lines elsewhere in a file does not bring old findings back, while a second
copy of a flagged line is a new finding.

The file is JSON with one finding per line, sorted, without timestamps, so that two branches
that change it merge like any sorted list. Reading and writing are separated from the pure
functions that decide matches (``entries``, ``split``, ``dumps``, ``loads``)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

from mse_lint.core.atomic import write_atomic
from mse_lint.core.diagnostics import Diagnostic
from mse_lint.core.record import Frozen
from mse_lint.core.redact import Redactor
from mse_lint.report.source import Sources, line_hash, shown_path

FORMAT_VERSION = 1
_HASH_CHARS = 16  # 64 bits: collisions among one file's lines are not a practical concern
_RULE = re.compile(r"^MSE\d{3}$")
_HEX = re.compile(rf"^[0-9a-f]{{{_HASH_CHARS}}}$")


class BaselineError(Exception):
    """The baseline file cannot be read, written or understood (exit code 2)."""


class Entry(Frozen):
    rule: str
    path: str  # relative to the baseline file's folder, `/` separators
    line_hash: str
    occurrence: int  # 0-based, among entries with the same (rule, path, line_hash)


def entries(
    diagnostics: Sequence[Diagnostic],
    source_line: Callable[[str, int], str],
    relative: Callable[[str], str],
) -> list[Entry]:
    """One entry per diagnostic, in the same order. ``source_line(path, n)`` gives line ``n``
    of a reported path ("" when unknown); ``relative(path)`` maps a reported path to the
    baseline's frame."""
    keyed = []
    for i, d in enumerate(diagnostics):
        rel = relative(d.path)
        text = "" if d.whole_file else source_line(d.path, d.span.line)
        keyed.append((d.rule, rel, line_hash(text), d.span, i))
    out: list[Optional[Entry]] = [None] * len(diagnostics)
    seen: dict[tuple[str, str, str], int] = {}
    for rule, rel, digest, _span, i in sorted(keyed, key=lambda k: (k[0], k[1], k[2], k[3])):
        n = seen.get((rule, rel, digest), 0)
        seen[(rule, rel, digest)] = n + 1
        out[i] = Entry(rule, rel, digest, n)
    return [e for e in out if e is not None]


def dumps(recorded: Sequence[Entry]) -> str:
    """Deterministic text: the same findings always give the same bytes. Sorted by path first,
    so that the entries of one file stay together and branches that touch different files
    change different parts of the baseline."""
    rows = [
        json.dumps(
            {"rule": e.rule, "path": e.path, "line_hash": e.line_hash, "occurrence": e.occurrence},
            ensure_ascii=False,
        )
        for e in sorted(set(recorded), key=lambda e: (e.path, e.rule, e.line_hash, e.occurrence))
    ]
    body = ",\n".join(f"    {r}" for r in rows)
    findings = f"[\n{body}\n  ]" if rows else "[]"
    return (
        f'{{\n  "tool": "mse-lint",\n  "version": {FORMAT_VERSION},\n  "findings": {findings}\n}}\n'
    )


def loads(text: str, where: str) -> frozenset[Entry]:
    from mse_lint.source.nesting import loads_json

    try:
        doc = loads_json(text)
    except ValueError as exc:
        raise BaselineError(f"{where}: not a mse-lint baseline (invalid JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("tool") != "mse-lint" or "findings" not in doc:
        raise BaselineError(
            f"{where}: not a mse-lint baseline (expected a JSON object with "
            '"tool": "mse-lint" and "findings"; write one with --write-baseline)'
        )
    version = doc.get("version")
    if version != FORMAT_VERSION:
        raise BaselineError(
            f"{where}: baseline format version {version!r} is not supported by this mse-lint "
            f"(it reads version {FORMAT_VERSION}); rewrite it with --write-baseline"
        )
    items = doc["findings"]
    if not isinstance(items, list):
        raise BaselineError(f'{where}: "findings" must be a list')
    out = set()
    for n, item in enumerate(items):
        out.add(_entry(item, f"{where}: findings[{n}]"))
    return frozenset(out)


def _entry(item: Any, where: str) -> Entry:
    if not isinstance(item, dict) or set(item) != {"rule", "path", "line_hash", "occurrence"}:
        raise BaselineError(
            f"{where}: expected an object with exactly rule, path, line_hash and occurrence"
        )
    rule, path, digest, occ = item["rule"], item["path"], item["line_hash"], item["occurrence"]
    if not isinstance(rule, str) or not _RULE.match(rule):
        raise BaselineError(f"{where}: rule {rule!r} is not a rule ID like MSE101")
    if not isinstance(path, str) or not path:
        raise BaselineError(f"{where}: path must be a non-empty string")
    if not isinstance(digest, str) or not _HEX.match(digest):
        raise BaselineError(f"{where}: line_hash must be {_HASH_CHARS} lowercase hex digits")
    if isinstance(occ, bool) or not isinstance(occ, int) or occ < 0:
        raise BaselineError(f"{where}: occurrence must be a whole number >= 0")
    return Entry(rule, path, digest, occ)


# -- files ---------------------------------------------------------------------------------


def source_lines(
    diagnostics: Sequence[Diagnostic], cwd: Path, redactor: Optional[Redactor] = None
) -> Callable[[str, int], str]:
    """Lines as fingerprints hash them: the secrets of their file masked (so no hash is taken
    of a secret, and the hash depends on the file alone)."""
    sources = Sources(diagnostics, str(cwd), redactor)
    return lambda path, number: sources.hashed_line(path, number) or ""


def relative_to(baseline_file: Path, cwd: Path) -> Callable[[str], str]:
    """Reported paths (relative to ``cwd`` or absolute) as paths relative to the baseline's
    folder, so the same baseline works from any working directory."""
    folder = baseline_file.absolute().parent.resolve()

    def rel(path: str) -> str:
        # a file name that is not UTF-8 is recorded with its bytes as \xff, as every
        # output writes it
        full = os.path.normpath(os.path.join(cwd, path))
        try:
            return shown_path(Path(os.path.relpath(full, folder)).as_posix())
        except ValueError:  # another drive on Windows
            return shown_path(Path(full).as_posix())

    return rel


def read(path: Path) -> frozenset[Entry]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(
            f"{path}: baseline file not found (create it with --write-baseline {path})"
        ) from None
    except IsADirectoryError:
        raise BaselineError(f"{path}: is a folder, not a baseline file") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"{path}: not a mse-lint baseline (not UTF-8 text)") from None
    return loads(text, str(path))


def write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise BaselineError(f"{path}: cannot write the baseline: {exc.strerror}") from None
