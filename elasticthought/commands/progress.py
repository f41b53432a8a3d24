"""A one-line progress bar on stderr for uploads and downloads, only when stderr is a terminal.

Redrawn at most every `interval_s` (a tight chunk loop would otherwise spend its time printing),
and always once at the end, so the final line shows the whole size.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from elasticthought.commands.output import size

WIDTH = 30


class ProgressBar:
    def __init__(self, label: str, stream: TextIO, *, interval_s: float = 0.1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.stream = stream
        self.interval_s = interval_s
        self.clock = clock
        self.started = clock()
        self.last_drawn: float | None = None
        self.drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        now = self.clock()
        complete = total is not None and done >= total
        if not complete and self.last_drawn is not None and now - self.last_drawn < self.interval_s:
            return
        self.last_drawn = now
        self.stream.write("\r" + self.render(done, total, now - self.started))
        self.stream.flush()
        self.drawn = True

    def render(self, done: int, total: int | None, elapsed_s: float) -> str:
        rate = f"{size(int(done / elapsed_s))}/s" if elapsed_s > 0 else ""
        if total:
            fraction = min(1.0, done / total)
            filled = int(WIDTH * fraction)
            bar = "#" * filled + "." * (WIDTH - filled)
            return f"{self.label} [{bar}] {fraction:4.0%} {size(done)}/{size(total)} {rate}".rstrip()
        return f"{self.label} {size(done)} {rate}".rstrip()

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def progress_for(label: str, stream: TextIO, *, enabled: bool) -> ProgressBar | None:
    """A bar when `enabled` and `stream` is a terminal; None (quiet) otherwise."""
    return ProgressBar(label, stream) if enabled and stream.isatty() else None
