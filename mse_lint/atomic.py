"""Every file mse-lint writes (reports, baselines, cache entries) is written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Union


def write_atomic(path: Union[str, Path], data: Union[str, bytes]) -> None:
    """A temp file in the same folder (same file system), then a rename over ``path``: a reader
    sees the old file or the new one, never half of it; an interrupted write leaves no temp file.
    Raises OSError."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if mode and not stat.S_ISREG(mode):
        # /dev/null, /dev/stdout, a FIFO: written in place. A rename would replace the device
        # by a regular file (as root, /dev/null itself).
        with open(path, "wb") as fh:
            fh.write(payload)
        return
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = _create_temp(folder, path.name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt included: no partial temp file is left behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _create_temp(folder: Path, name: str) -> tuple[int, str]:
    """A new file ``.NAME.XXXXXXXX.tmp`` in ``folder``, created exclusively and readable by
    its owner only, as ``tempfile.mkstemp`` makes it (importing tempfile, with shutil and
    random, was a tenth of a one-file run's start-up)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {name} in {folder}")
