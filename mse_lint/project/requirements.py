"""What gets pip-installed: requirements files read as pip reads them, and the ``pip install``
lines of a project Dockerfile (``mse home`` apps name their image and packages there).

Reading is plain text work (cheap, done once per run for the project facts); parsing a
requirement with ``packaging`` (about 65 ms to import) happens only in :func:`parse`, called by
the checks that need a requirement's name, version or marker.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Callable, Optional

from mse_lint.core.diagnostics import Span
from mse_lint.core.record import Frozen
from mse_lint.core.safeio import read_regular

_COMMENT = re.compile(r"(^|\s)#")  # pip: (^|\s+)#.*$
_EGG_AT = re.compile(r"\begg=([A-Za-z0-9_.\-]+)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# A URL scheme anywhere in a text, for ``search``: what ``_SCHEME.search`` finds (the same
# ``end()``; the match may begin a few non-letters earlier), in linear time. ``_SCHEME.search``
# retries from every letter of a long run of scheme characters and runs to its end each time:
# quadratic (8.4 s for a 100,000-character requirements token). The lookbehind lets a match
# begin only where a run begins.
URL_SCHEME = re.compile(r"(?<![A-Za-z0-9+.\-])[0-9+.\-]*[A-Za-z][A-Za-z0-9+.\-]*://")


def egg_name(text: str) -> Optional[str]:
    """The name of ``#egg=name``: what ``re.search(r"#.*\begg=([A-Za-z0-9_.\\-]+)", text)``
    gives (the last ``egg=`` after the first ``#``), without that regex's quadratic (cubic on a
    run of ``#``) backtracking: 235 s on 100,000 of them."""
    first = text.find("#")
    if first < 0:
        return None
    q = text.rfind("egg=", first + 1)
    while q > first:
        m = _EGG_AT.match(text, q)
        if m is not None:
            return m.group(1)
        q = text.rfind("egg=", first + 1, q)  # "egg=" cannot overlap itself
    return None


# options that take the next token as their value (pip's requirements-file options)
_VALUED = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "--hash",
        "--global-option",
        "--config-settings",
        "--no-binary",
        "--only-binary",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--src",
        "--upgrade-strategy",
        "--progress-bar",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--cache-dir",
        "--log",
        "--timeout",
        "--retries",
        "--proxy",
        "--cert",
        "--client-cert",
        "--exists-action",
        "--report",
        "--root-user-action",
    }
)


class Line(Frozen):
    """A logical requirements line (continuations joined, comment removed, stripped) and the
    physical (line, 1-based column) of each of its characters."""

    text: str
    pos: tuple[tuple[int, int], ...]

    def span(self, start: int, end: int) -> Span:
        line, col = self.pos[start]
        end_line, end_col = self.pos[end - 1]
        return Span(line, col, end_line, end_col + 1)


def tokens(text: str) -> Iterator[tuple[int, int, str]]:
    for m in re.finditer(r"\S+", text):
        yield m.start(), m.end(), m.group()


def logical_lines(text: str) -> Iterator[Line]:
    """pip's reading of a requirements file: physical lines ending with a backslash continue on
    the next one, ``#`` after whitespace (or at the start) starts a comment, the rest is
    stripped."""
    chars: list[str] = []
    pos: list[tuple[int, int]] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(lines, start=1):
        is_comment = raw.lstrip().startswith("#")
        if is_comment and chars:  # pip ends the continuation there and keeps it a comment
            chars.append(" ")
            pos.append((number, 1))
        if raw.endswith("\\") and not is_comment:
            body = raw.rstrip("\\")
            chars.extend(body)
            pos.extend((number, c) for c in range(1, len(body) + 1))
            continue
        chars.extend(raw)
        pos.extend((number, c) for c in range(1, len(raw) + 1))
        yield from _finish("".join(chars), pos)
        chars, pos = [], []
    if chars:
        yield from _finish("".join(chars), pos)


def _finish(text: str, pos: list[tuple[int, int]]) -> Iterator[Line]:
    m = _COMMENT.search(text)
    if m is not None:
        text = text[: m.start()]
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    stripped = stripped.rstrip()
    if stripped:
        yield Line(stripped, tuple(pos[lead : lead + len(stripped)]))


# reads a fixed-name file of the project: its bytes, or None when missing or refused (the
# project's reader, Project.read, also notes why once)
Reader = Callable[[Path, str], Optional[bytes]]


def _plain_read(path: Path, kind: str) -> Optional[bytes]:
    try:
        return read_regular(path, kind)
    except OSError:
        return None


def read_text(
    path: Path, kind: str = "requirements", reader: Optional[Reader] = None
) -> Optional[str]:
    """The file as the reporters count its columns; only a regular file of bounded size is read
    (``/dev/zero``, ``/dev/stdin`` or a FIFO named as an include never is)."""
    data = (reader or _plain_read)(path, kind)
    if data is None:
        return None
    # columns as the reporters count them: a BOM is a character of line 1 (read as blank)
    text = data.decode("utf-8", "replace")
    return " " + text[1:] if text.startswith("\ufeff") else text


class Entry(Frozen):
    """One requirement line of a file pip installs: the file, the logical line, and where the
    requirement text sits on it (``start``/``end``, options after it excluded)."""

    file: Path
    line: Line
    start: int
    end: int
    editable: bool = False

    @property
    def text(self) -> str:
        return self.line.text[self.start : self.end]

    @property
    def span(self) -> Span:
        return self.line.span(self.start, self.end)


def entries(
    path: Path,
    root: Optional[Path] = None,
    _seen: Optional[set[str]] = None,
    reader: Optional[Reader] = None,
) -> Iterator[Entry]:
    """The requirement lines pip installs from ``path``, following ``-r`` includes (relative to
    the including file, as pip resolves them). ``-c`` constraints install nothing. An include
    outside ``root`` (the code dir) is not followed: it does not exist in the enclave."""
    seen = _seen if _seen is not None else set()
    real = os.path.realpath(path)
    if real in seen:
        return
    if root is not None:
        top = os.path.realpath(root)
        if real != top and not real.startswith(top.rstrip("/") + "/"):
            return
    seen.add(real)
    text = read_text(path, "requirements", reader)
    if text is None:
        return
    for line in logical_lines(text):
        toks = list(tokens(line.text))
        first = toks[0][2]
        if first.startswith("-"):
            opt, eq, value = first.partition("=")
            if not eq and opt[:2] in ("-r", "-e") and len(opt) > 2 and not opt.startswith("--"):
                opt, value = opt[:2], opt[2:]  # -rother.txt (optparse)
            if opt in ("-r", "--requirement"):
                if not value and len(toks) > 1:
                    value = toks[1][2]
                if value and not _SCHEME.match(value):
                    yield from entries(path.parent / value, root, seen, reader)
            elif opt in ("-e", "--editable"):
                if value:
                    start = line.text.find(value, len(opt))
                    yield Entry(path, line, start, start + len(value), editable=True)
                elif len(toks) > 1:
                    yield Entry(path, line, toks[1][0], toks[1][1], editable=True)
            continue
        # a requirement, possibly followed by per-requirement options (--hash=...)
        cut = next((s for s, _, t in toks if t.startswith("-")), len(line.text))
        end = len(line.text[:cut].rstrip())
        if end:
            yield Entry(path, line, 0, end)


class Requirement(Frozen):
    """A requirement as pip would install it. ``name`` is canonical (PEP 503); ``pinned`` is
    an exact version (``==`` without wildcard, ``===``) or a fixed artifact."""

    name: str
    text: str
    specifier: str = ""
    url: str = ""
    marker: str = ""
    pinned: bool = False


_HEX_REF = re.compile(r"@[0-9a-fA-F]{7,40}(#|$)")
_ARCHIVE = re.compile(r"\.(whl|tar\.gz|tgz|zip|tar\.bz2)(#|$)", re.IGNORECASE)


def parse(text: str) -> Optional[Requirement]:
    """A requirement line's meaning, or None when it names nothing pip would recognise. A
    bare URL or path is named after its ``#egg=`` or file name."""
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as _Req
    from packaging.utils import canonicalize_name

    try:
        req = _Req(text)
    except InvalidRequirement:
        req = None
    if req is not None:
        url = req.url or ""
        pinned = False
        if url:
            pinned = bool(_HEX_REF.search(url) or _ARCHIVE.search(url))
        else:
            pinned = any(
                (s.operator == "==" and "*" not in s.version) or s.operator == "==="
                for s in req.specifier
            )
        return Requirement(
            canonicalize_name(req.name),
            text,
            str(req.specifier),
            url,
            str(req.marker) if req.marker is not None else "",
            pinned,
        )
    egg = egg_name(text)
    if egg is not None:
        name = egg
    else:
        base = text.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._]*?)(-\d|\.(whl|tar|zip|tgz)|$)", base)
        if m is None or not m.group(1):
            return None
        name = m.group(1)
    pinned = bool(_HEX_REF.search(text) or _ARCHIVE.search(text))
    return Requirement(canonicalize_name(name), text, "", text, "", pinned)


def marker_holds(marker: str, python: tuple[int, int]) -> bool:
    """Whether an environment marker is true inside the enclave (Linux x86_64, CPython)."""
    if not marker:
        return True
    from packaging.markers import InvalidMarker, Marker

    try:
        m = Marker(marker)
    except InvalidMarker:
        return True
    env = {
        "python_version": f"{python[0]}.{python[1]}",
        "python_full_version": f"{python[0]}.{python[1]}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    try:
        return bool(m.evaluate(env))
    except Exception:  # an undefined variable or comparison: assume it installs
        return True


# -- Dockerfile ----------------------------------------------------------------------------------
class Dockerfile(Frozen):
    image: Optional[str]  # the final stage's FROM image
    installs: tuple[str, ...]  # requirement arguments of `pip install` in that stage


def _docker_lines(text: str) -> Iterator[str]:
    buf: list[str] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") and not buf:
            continue
        if stripped.startswith("#"):
            continue  # comment lines inside a continuation are dropped by docker
        if stripped.endswith("\\"):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        yield " ".join(buf).strip()
        buf = []
    if buf:
        yield " ".join(buf).strip()


def read_dockerfile(path: Path, reader: Optional[Reader] = None) -> Optional[Dockerfile]:
    text = read_text(path, "Dockerfile", reader)
    if text is None:
        return None
    image: Optional[str] = None
    installs: list[str] = []
    for line in _docker_lines(text):
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            args = [a for a in rest.split() if not a.startswith("--")]
            image = args[0] if args else None
            installs = []  # a new stage: what the previous one installed is not in it
        elif word == "RUN":
            installs.extend(_pip_installs(rest))
    return Dockerfile(image, tuple(installs))


def _pip_installs(command: str) -> Iterator[str]:
    for part in re.split(r"&&|\|\||;", command):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        for i, w in enumerate(words):
            base = w.rsplit("/", 1)[-1]
            if re.fullmatch(r"pip(3(\.\d+)?)?", base) and words[i + 1 : i + 2] == ["install"]:
                args = words[i + 2 :]
            elif re.fullmatch(r"python(3(\.\d+)?)?", base) and words[i + 1 : i + 4] == [
                "-m",
                "pip",
                "install",
            ]:
                args = words[i + 4 :]
            else:
                continue
            skip = False
            for a in args:
                if skip:
                    skip = False
                    continue
                if a.startswith("-"):
                    skip = a in _VALUED
                    continue
                yield a
            break


# name, [extras], specifier. The second \s* only after extras: two adjacent \s* split a run of
# spaces every possible way before failing (111 s on 50,000 of them).
_PLAIN = re.compile(
    r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:(\[[^\]]*\])\s*)?([<>=!~][^;@]*)?$"
)


def canonical(name: str) -> str:
    """PEP 503 normalisation (what ``packaging.utils.canonicalize_name`` does), without the
    import cost."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(texts: Iterable[str], python: tuple[int, int]) -> list[str]:
    """Canonical names of the distributions that requirement lines install on ``python``
    (lines whose marker is false there left out)."""
    out = []
    for text in texts:
        plain = _PLAIN.match(text)
        if plain is not None:
            # `name[extra]>=1.0`: PEP 508 names the distribution first; packaging (65 ms to
            # import) is only needed for markers and URLs
            out.append(canonical(plain.group(1)))
            continue
        req = parse(text)
        if req is not None and marker_holds(req.marker, python):
            out.append(req.name)
    return out
