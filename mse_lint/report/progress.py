"""A progress bar on standard error for long runs on a terminal (the CLI decides when)."""

from __future__ import annotations

from typing import Any, TextIO

# Below this many files a run takes a second or two: a bar would only flicker.
MIN_FILES = 300


class ProgressBar:
    """``lint(progress=bar)`` calls it with (done, total); rich is imported only when the
    total reaches MIN_FILES. Transient: the bar is erased when the run ends."""

    def __init__(self, stream: TextIO, min_files: int = MIN_FILES) -> None:
        self._stream = stream
        self._min = min_files
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if done or total < self._min:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("checking"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(file=self._stream),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("check", total=total)
            return
        self._bar.update(self._task, completed=done)

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
