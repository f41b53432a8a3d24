"""Resident memory of one process, read from /proc/<pid>/status: now, and the most seen per phase.

`VmRSS` is what the process holds now; `VmHWM` the kernel's own high-water mark since the process
started. A sampler reads VmRSS a few times a second during each named phase, so the peak of one
phase (the drain) is told apart from the process's lifetime peak (which includes setup work).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

SAMPLE_S = 0.2


def status_kib(pid: int, field: str) -> int | None:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM), or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[str, int] = {}

    def rss_kib(self) -> int | None:
        return status_kib(self.pid, "VmRSS")

    def hwm_kib(self) -> int | None:
        return status_kib(self.pid, "VmHWM")

    @contextlib.asynccontextmanager
    async def phase(self, name: str) -> AsyncIterator[None]:
        """Sample VmRSS while the block runs; its largest value lands in `peaks[name]`."""
        task = asyncio.create_task(self._sample(name))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._take(name)

    async def _sample(self, name: str) -> None:
        while True:
            self._take(name)
            await asyncio.sleep(SAMPLE_S)

    def _take(self, name: str) -> None:
        value = self.rss_kib()
        if value is not None:
            self.peaks[name] = max(self.peaks.get(name, 0), value)
