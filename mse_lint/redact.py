"""Secrets are never shown in full: at most a 4-character prefix and the length."""

from __future__ import annotations

MASK = "*"


def redact(value: str) -> str:
    """``'ghp_****' (40 chars)``: short values show proportionally less of themselves."""
    shown = min(4, len(value) // 4)
    return f"'{value[:shown]}{MASK * 4}' ({len(value)} chars)"


def mask_span(line: str, start: int, end: int) -> str:
    """The line with characters ``start:end`` (0-based, end exclusive) masked after a prefix."""
    start = max(0, min(start, len(line)))
    end = max(start, min(end, len(line)))
    secret = line[start:end]
    shown = min(4, len(secret) // 4)
    return line[:start] + secret[:shown] + MASK * (len(secret) - shown) + line[end:]
