"""Every file mse-lint writes (reports, baselines, cache entries) is written whole or not at all.

A write goes to a new temporary file in the destination's folder (created with ``O_EXCL`` and
``O_NOFOLLOW``: never an existing file, never through a link), which is then renamed over the
destination. Whatever stops the write on the way (an error, Ctrl-C right after the temporary file
was made, a full disk) removes the temporary file and leaves the old destination as it was.

Modes: a file that already exists keeps its permission bits; a new one gets what the umask allows
(``0o666 & ~umask``), as any file the user's shell would create. The results cache asks for
``0o600`` (its entries are nobody else's business)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Optional, Union

_TEMP_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def write_atomic(path: Union[str, Path], data: Union[str, bytes]) -> None:
    """Write ``data`` to a path the user named (``-o``, ``--write-baseline``). Raises OSError.

    What is at ``path`` decides how:
    - a regular file, or nothing: temp file + rename; an existing file's mode is kept;
    - a device or a FIFO (``/dev/null``, a named pipe): written in place (a rename would put a
      regular file where the device was, as root ``/dev/null`` itself);
    - a symbolic link: replaced by the report, never written through (a link committed to a
      repository must not make a run overwrite ``~/.bashrc`` or write into a device), except a
      link that names one of this process's own descriptors (``/dev/stdout``, ``/dev/fd/N``)
      or ``/dev/null``: those are written in place, as the user asked."""
    name = os.fspath(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        st: Optional[os.stat_result] = os.lstat(name)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    mode: Optional[int] = None
    if st is None or stat.S_ISREG(st.st_mode):
        in_place = False
        mode = None if st is None else stat.S_IMODE(st.st_mode) & 0o777
    elif stat.S_ISLNK(st.st_mode):
        in_place = _names_a_descriptor(name)
    else:
        in_place = True  # a folder raises IsADirectoryError here
    if in_place:
        with open(name, "wb") as fh:
            fh.write(payload)
        return
    folder, base = os.path.split(name)
    with replacing(base, mode, folder=folder or os.curdir) as fd:
        write_all(fd, payload)


def _names_a_descriptor(name: str) -> bool:
    """``name`` is a chain of links that reaches ``/dev/null`` or a descriptor of this process
    (``/dev/stdout`` -> ``/proc/self/fd/1``), whatever that descriptor is open on."""
    import re

    descriptor = re.compile(r"/(?:proc/(?:self|thread-self|\d+)|dev)/fd/\d+|/dev/std(?:in|out|err)")
    here = os.path.abspath(name)
    for _ in range(40):  # the kernel's own limit on links in a path
        if here == os.devnull or descriptor.fullmatch(here):
            return True
        try:
            target = os.readlink(here)
        except OSError:
            return False
        here = os.path.normpath(os.path.join(os.path.dirname(here), target))
    return False


def write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


@contextlib.contextmanager
def replacing(
    name: str,
    mode: Optional[int] = None,
    *,
    folder: str = os.curdir,
    dir_fd: Optional[int] = None,
) -> Iterator[int]:
    """The descriptor of a new temporary file beside ``name``, renamed over ``name`` when the
    block ends normally and removed when it does not (KeyboardInterrupt included).

    ``dir_fd``: the folder as an open descriptor (``name`` is then a bare name in it): neither
    the temporary file nor the rename can be redirected by a link swapped in on the way. Else
    ``folder`` is a path. ``mode``: the new file's permission bits; None for ``0o666 & ~umask``."""
    made: Optional[str] = None
    fd = -1
    try:
        for _ in range(100):
            # The name is chosen before the file is made: an interrupt that lands right after
            # os.open created it (before its result is even stored) still finds it to remove.
            made = _in(folder, dir_fd, f".{name}.{os.urandom(6).hex()}.tmp")
            try:
                fd = os.open(made, _TEMP_FLAGS, 0o600 if mode is not None else 0o666, dir_fd=dir_fd)
                break
            except FileExistsError:
                made = None  # someone else's file: never removed
        else:
            raise FileExistsError(f"no free temporary name for {name} in {folder}")
        if mode is not None:
            os.chmod(fd, mode)
        yield fd
        os.close(fd)
        fd = -1
        os.replace(made, _in(folder, dir_fd, name), src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        made = None
    except BaseException:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        if made is not None:
            with contextlib.suppress(OSError):
                os.unlink(made, dir_fd=dir_fd)
        raise


def _in(folder: str, dir_fd: Optional[int], name: str) -> str:
    return name if dir_fd is not None else os.path.join(folder, name)
