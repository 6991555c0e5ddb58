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
    import tempfile  # here: a run writing to /dev/null or stdout never needs it

    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt included: no partial temp file is left behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
