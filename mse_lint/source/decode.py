"""Source bytes as text, in Python's own source-decoding terms: what the enclave's import makes
of a file's bytes (a BOM, a ``coding:`` declaration, bad bytes outside comments). A file that does
not decode is a reason and a position (MSE002), never an exception; a file whose declared codec
is too slow for its size raises :class:`NotDecoded` (MSE004)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

from mse_lint.source.lines import LineIndex, byte_position

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.M)


class NotDecoded(Exception):
    """A declared codec too slow to run on a file this large (MSE004, not MSE002)."""


def decode_source(
    data: bytes, limits: Mapping[str, Any] = {}
) -> tuple[Optional[str], Optional[tuple[int, int, str]]]:
    """(text, None) or (None, (line, col, reason)) in Python's own source-decoding terms: what
    the enclave's import makes of the bytes. Every way a declared codec can fail is a reason,
    never an exception: CPython turns each into a SyntaxError of that one file. Raises
    NotDecoded for a file too large for its codec (``limits``: rules/core.toml [limits])."""
    encoding = "utf-8"
    head = b"\n".join(data.split(b"\n", 2)[:2])
    m = _CODING.search(head[3:] if head.startswith(b"\xef\xbb\xbf") else head)
    if data.startswith(b"\xef\xbb\xbf"):
        declared = m.group(1).decode("ascii", "replace") if m else "utf-8"
        if normal_name(declared) != "utf-8":
            # CPython: "encoding problem: utf8 with BOM" (it wants exactly utf-8 with a BOM)
            return None, (1, 1, f"a UTF-8 byte order mark, but the file declares {declared!r}")
        encoding = "utf-8-sig"
    elif m:
        encoding = m.group(1).decode("ascii", "replace")
        problem = _declared_codec_problem(encoding)
        if problem is not None:
            return None, (1, 1, problem)
        _check_codec_budget(encoding, len(data), limits)
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as exc:
        first = exc.start
    except Exception as exc:  # punycode, undefined...: UnicodeError, or whatever the codec raises
        return None, (
            1,
            1,
            f"the declared encoding {encoding!r} fails on it ({exc or _reason(exc)})",
        )
    if normal_name(encoding) != "utf-8":
        # any other codec decodes the whole file before tokenizing: a bad byte anywhere fails
        return None, _byte_position(data, first, encoding)
    return _utf8_outside_comments(data, encoding)


def _declared_codec_problem(encoding: str) -> Optional[str]:
    """Why CPython refuses the declared encoding itself, or None."""
    import codecs

    try:
        info = codecs.lookup(encoding)
    except LookupError:
        return f"unknown encoding {encoding!r} declared"
    except Exception as exc:  # a name the codec registry chokes on
        return f"the declared encoding {encoding!r} cannot be looked up ({_reason(exc)})"
    if not getattr(info, "_is_text_encoding", True):
        # rot13, hex, base64, zlib, uu...: CPython's decoding of source text refuses them
        return f"{encoding!r} is declared, which is not a text encoding"
    return None


def _check_codec_budget(encoding: str, size: int, limits: Mapping[str, Any]) -> None:
    import codecs

    slow = limits.get("slow_codecs", ())
    most = limits.get("slow_codec_max_bytes")
    name = codecs.lookup(encoding).name
    if most is not None and size > most and name in slow:
        raise NotDecoded(
            f"it declares the {name} encoding, whose decoding takes quadratic time, and is "
            f"{size_text(size)}: mse-lint decodes at most {size_text(most)} of it"
        )


def size_text(n: int) -> str:
    """A size as people read it: 2.3 MiB, 64 KiB, 900 bytes."""
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n_unit = n / 1024
        if n_unit < 1024 or unit == "GiB":
            return f"{n_unit:.1f} {unit}".replace(".0 ", " ")
        n = int(n_unit)
    return f"{n} bytes"  # pragma: no cover


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _byte_position(data: bytes, offset: int, encoding: str) -> tuple[int, int, str]:
    line, col = byte_position(data, offset, encoding)
    return line, col, f"byte 0x{data[offset]:02x} is not valid {encoding}"


def _utf8_outside_comments(
    data: bytes, encoding: str
) -> tuple[Optional[str], Optional[tuple[int, int, str]]]:
    """UTF-8 that does not decode: CPython's tokenizer never decodes the inside of a comment,
    so bad bytes there are fine. One pass over the errors, in order (each used to decode the
    rest of the file again: quadratic in the bad bytes of a comment)."""
    import codecs

    bad: list[tuple[int, int]] = []

    def mark(exc: UnicodeError) -> tuple[str, int]:
        assert isinstance(exc, UnicodeDecodeError)
        bad.append((exc.start, exc.end))
        return "\ufffd", exc.end  # what the "replace" handler gives

    codecs.register_error("mse-lint-mark", mark)
    text = data.decode(encoding, "mse-lint-mark")
    comments = _comment_spans(text)
    bom = 3 if encoding == "utf-8-sig" else 0
    chars = 0  # characters of the text before the current error
    done = bom  # bytes of data decoded into those characters
    index = LineIndex(text)
    for start, end in bad:
        chars += len(data[done:start].decode("utf-8"))
        line, col = index.position(chars)
        if comments is None or not any(a <= (line, col) < b for a, b in comments.get(line, ())):
            return None, (line, col, f"byte 0x{data[start]:02x} is not valid {encoding}")
        chars += 1  # the replacement character
        done = end
    return text, None


def _comment_spans(text: str) -> Optional[dict[int, list[tuple[tuple[int, int], tuple[int, int]]]]]:
    """Comment tokens by line, as ((line, col), (line, end col)) 1-based, or None when the text
    does not tokenize."""
    import io
    import tokenize

    spans: dict[int, list[tuple[tuple[int, int], tuple[int, int]]]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                (l1, c1), (l2, c2) = tok.start, tok.end
                spans.setdefault(l1, []).append(((l1, c1 + 1), (l2, c2 + 1)))
    except (tokenize.TokenError, SyntaxError):
        return None
    return spans


def normal_name(encoding: str) -> str:
    """The tokenizer's own spelling of a declared encoding (CPython's get_normal_name)."""
    name = encoding[:12].lower().replace("_", "-")
    if name == "utf-8" or name.startswith("utf-8-"):
        return "utf-8"
    return name


def display_text(data: bytes) -> str:
    """A file that does not decode, as reporters show it (every bad byte one U+FFFD)."""
    return data.decode("utf-8", "replace")
