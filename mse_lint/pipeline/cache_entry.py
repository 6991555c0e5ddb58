"""A cache entry: one file's final results as JSON (:func:`encode`), and read back
(:func:`decode`) only if checking that file could have given it.

An entry is ``[findings, suppressed findings, notices, checked, secret spans]``; a finding is
``[path, line, col, end_line, end_col, rule, severity, message, fix hint, statement line,
secret, autofix]`` with ``autofix`` None or ``[title, safe, [[path, line, col, end_line,
end_col, replacement], ...]]``. Every field is checked when read (the cache folder can come
from anyone, see mse_lint.pipeline.cache): rules that run, severities the settings allow, the
message of the rule's template, the path of the file asked about, positions inside it, bounded
sizes. An entry that fails is a miss (:class:`Invalid`): the file is checked again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

from mse_lint.core.diagnostics import Diagnostic, Edit, Fix, Notice, Severity, Span

MAX_TEXT = 8192  # characters of a message or a notice
MAX_ITEMS = 10_000  # findings, suppressed findings or notices of one file


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
        None if d.autofix is None else _fix_out(d.autofix),
    ]


def _fix_out(fix: Fix) -> list[Any]:
    edits = []
    for e in fix.edits:
        s = e.span
        edits.append([e.path, s.line, s.col, s.end_line, s.end_col, e.replacement])
    return [fix.title, fix.safe, edits]


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
    items = _items(raw)
    if len(items) != 12:
        raise Invalid("finding")
    path, line, col, end_line, end_col, rule_id, sev, message, fix, stmt_line, secret, edits = items
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
        autofix=_fix_in(edits, f),
    )


def _fix_in(raw: Any, f: _File) -> Optional[Fix]:
    """A finding's fix: a title, whether it is safe, and edits of the entry's own file only
    (the entry is keyed on that file's content, and no other)."""
    if raw is None:
        return None
    title, safe, edits = _items(raw)
    if type(safe) is not bool:
        raise Invalid("fix")
    out = []
    for edit in _items(edits):
        path, line, col, end_line, end_col, replacement = _items(edit)
        if path != f.display:
            raise Invalid("path")
        if type(replacement) is not str or len(replacement) > len(f.data) + MAX_TEXT:
            raise Invalid("text")
        width = len(f.data) + 2
        line = _int(line, 1, f.lines)
        span = Span(
            line, _int(col, 1, width), _int(end_line, line, f.lines), _int(end_col, 1, width)
        )
        out.append(Edit(path, span, replacement))
    return Fix(_text(title), tuple(out), safe)


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
