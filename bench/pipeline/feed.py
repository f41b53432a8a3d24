"""One tenant's `GET /v1/events`, followed from the start of its log; each event kept with its arrival.

The benchmark learns everything it measures from this stream, as a client would: when a job
started (submit-to-running), when a log line arrived (log-to-SSE), and every job event of a drain
(exactly-once and fairness). Arrival times are wall-clock (`time.time()`), comparable with the
server's event timestamps and the trainer's glog prefixes on the same machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import aiohttp

from bench.pipeline.ledger import TERMINAL

JOB_PREFIX = "job-"


@dataclass(frozen=True)
class Received:
    type: str
    stream_id: str
    occurred_at: float
    """The event's own timestamp (Unix seconds)."""
    data: dict[str, Any]
    arrived_at: float
    """When the client read it (Unix seconds)."""

    @property
    def job_id(self) -> str | None:
        return self.stream_id.removeprefix(JOB_PREFIX) if self.stream_id.startswith(JOB_PREFIX) else None


class Feed:
    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self.session = session
        self.url = url
        self.token = token
        self.events: list[Received] = []
        self.by_job: dict[str, list[Received]] = {}
        self.ended: dict[str, Received] = {}
        """Per job, its first terminal event."""
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Feed:
        self._task = asyncio.create_task(self._follow(), name="bench-feed")
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Until `predicate()` holds (checked after each batch of events); TimeoutError after `timeout_s`."""
        async with asyncio.timeout(timeout_s), self._changed:
            while not predicate():
                self._failed()
                await self._changed.wait()

    def of_job(self, job_id: str, kind: str) -> list[Received]:
        return [e for e in self.by_job.get(job_id, []) if e.type == kind]

    def _failed(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            raise RuntimeError("the event stream ended") from self._task.exception()

    async def _follow(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with self.session.get(f"{self.url}/v1/events", headers=headers) as response:
                response.raise_for_status()
                kind = ""
                async for raw in response.content:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        self._keep(kind, json.loads(line.removeprefix("data: ")), time.time())
                    elif not line:
                        async with self._changed:
                            self._changed.notify_all()
        finally:
            async with self._changed:
                self._changed.notify_all()

    def _keep(self, kind: str, envelope: dict[str, Any], arrived_at: float) -> None:
        occurred = datetime.fromisoformat(envelope["occurred_at"]).timestamp()
        event = Received(kind, envelope["stream_id"], occurred, envelope["data"], arrived_at)
        self.events.append(event)
        if event.job_id is not None:
            self.by_job.setdefault(event.job_id, []).append(event)
            if event.type in TERMINAL:
                self.ended.setdefault(event.job_id, event)
