"""Reading the files a project names by convention (mse.toml, requirements.txt, .mseignore, the
secrets JSON, the Dockerfile, the settings files) without trusting what is on disk.

A cloned repository decides what sits at those names: a symlink to ``/dev/zero`` (reading it
never ends and fills the memory), to ``/dev/stdin`` or a FIFO (opening or reading it blocks for
ever), a device whose opening has side effects, or a file of gigabytes. :func:`read_regular`
opens a regular file only (checked with ``stat`` before opening, so a device or FIFO is never
opened, and with ``fstat`` after, against a swap in between), reads at most the limit of its
kind, and raises :class:`Refused` (an ``OSError``, so callers' ``except OSError`` still hold)
for anything else. :func:`refusal` words any ``OSError`` of a read as a notice: the file, what
was found, what to do.
"""

from __future__ import annotations

import os
import stat
from typing import Union

KiB = 1024
MiB = 1024 * KiB


class Kind:
    """A file name with a meaning: its size limit, how a notice names it, what is lost when it
    cannot be read."""

    __slots__ = ("label", "limit", "lost")

    def __init__(self, label: str, limit: int, lost: str) -> None:
        self.label = label
        self.limit = limit
        self.lost = lost


# Limits a hundred times above any real file of the kind (a fully hashed requirements lock of
# 300 packages is about 0.5 MiB; .mseignore lines longer than any file name are tolerated up
# to a few MiB); docs/robustness.md lists them.
KINDS: dict[str, Kind] = {
    "mse.toml": Kind("mse.toml", 1 * MiB, "the project cannot be linted"),
    "settings": Kind("settings file", 4 * MiB, "the run cannot use its settings"),
    ".mseignore": Kind(".mseignore", 4 * MiB, "what ships cannot be known"),
    "requirements": Kind(
        "requirements file",
        4 * MiB,
        "the requirements checks (MSE205, MSE504, MSE505) do not see what it installs",
    ),
    "secrets": Kind(
        "secrets file",
        16 * MiB,
        "the secrets checks do not know its keys (MSE208, MSE209)",
    ),
    "Dockerfile": Kind(
        "Dockerfile",
        1 * MiB,
        "its image and `pip install` lines are not taken into account",
    ),
    "source": Kind("file", 64 * MiB, "it is not checked"),
}


# never blocks on a FIFO swapped in, never becomes the controlling terminal, never leaks to a child
_READ_FLAGS = (
    getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
)


class Refused(OSError):
    """A path that is not a regular file, or one larger than its kind's limit."""

    def __init__(self, path: str, found: str, todo: str) -> None:
        super().__init__(found)
        self.strerror = found
        self.filename = path
        self.found = found
        self.todo = todo


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n / KiB:.0f} KiB"


def _refuse_mode(path: str, mode: int, via: str) -> Refused:
    return Refused(
        path,
        f"{_what(mode)}{via}, not a regular file",
        "make it a regular file (mse-cli, pip and docker read it as a file too)",
    )


def read_regular(path: Union[str, os.PathLike[str]], kind: str, follow: bool = True) -> bytes:
    """The bytes of ``path``, a regular file of at most the limit of ``kind`` (a key of
    :data:`KINDS`). ``follow=False`` refuses a symlink too (``O_NOFOLLOW``), for files the tool
    owns. Raises FileNotFoundError and the like as ``open`` does, :class:`Refused` otherwise."""
    name = os.fspath(path)
    limit = KINDS[kind].limit
    st = os.stat(name) if follow else os.lstat(name)
    if stat.S_ISLNK(st.st_mode):
        raise Refused(name, "a symlink", "replace it with a regular file")
    if not stat.S_ISREG(st.st_mode):
        via = ""
        if follow and os.path.islink(name):
            via = f" (a symlink to {os.path.realpath(name)})"
        raise _refuse_mode(name, st.st_mode, via)
    nofollow = 0 if follow else getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(name, os.O_RDONLY | _READ_FLAGS | nofollow)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between the stat and the open
            raise _refuse_mode(name, st.st_mode, "")
        if st.st_size > limit:
            raise _too_large(name, kind, st.st_size)
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 * MiB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:  # it grew while being read
        raise _too_large(name, kind, len(data))
    return data


def read_head(path: Union[str, os.PathLike[str]], size: int) -> bytes:
    """The first ``size`` bytes of ``path``, a regular file (never a device or a FIFO), whatever
    its length; raises as :func:`read_regular`."""
    name = os.fspath(path)
    st = os.stat(name)
    if not stat.S_ISREG(st.st_mode):
        raise _refuse_mode(name, st.st_mode, "")
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse_mode(name, st.st_mode, "")
        return os.read(fd, size)
    finally:
        os.close(fd)


def _too_large(path: str, kind: str, size: int) -> Refused:
    k = KINDS[kind]
    return Refused(
        path,
        f"{_size(size)}, more than the {_size(k.limit)} limit for a {k.label}",
        f"no real {k.label} is that large: check what the file holds",
    )


def refusal(kind: str, exc: OSError) -> str:
    """A notice for a failed read of a file of ``kind``: what was found, what is lost, what to
    do (the notice's path is the file)."""
    k = KINDS[kind]
    if isinstance(exc, Refused):
        found, todo = exc.found, exc.todo
    elif isinstance(exc, PermissionError):
        found = "permission denied"
        todo = "make it readable to the user running mse-lint"
    else:
        found = exc.strerror or type(exc).__name__
        todo = "check the file"
    return f"{k.label} not read: {found}; {k.lost}; {todo}"
