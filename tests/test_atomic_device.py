"""Reports written to a device or a FIFO go into it; the device is never replaced."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from mse_lint.core.atomic import write_atomic


def test_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, "report\n")
    reader.join(5)
    assert got == [b"report\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_dev_null_stays_a_device() -> None:
    write_atomic(os.devnull, "report\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_regular_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
