"""Appends one attempt's events to its job stream, fenced by the attempt (see decisions.py).

Every append catches up with the job stream, decides and appends at the version read
(`streams.StreamWriter`: only the events appended since the last look are folded, not the whole
stream each time), so a requeue, a cancel or another worker's events between two appends are
always taken into account.
The folded job also tells whether a cancel was requested: a backstop for a cancel message that
never reached this worker.

The attempt's tasks (the log flusher, the snapshot uploader) share one reporter and take turns:
racing each other for the stream's next version would cost a failed append and a retry each time
(on MongoDB a failed insert also leaves an abandoned position), at every job's end at the least,
when the last log batch and the last snapshot are reported together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from services.worker.training.decisions import AttemptFenced, decide_report, decide_start
from shared.bus.outbox import EventPublisher
from shared.domain import streams
from shared.domain.job import Job, evolve, job_stream
from shared.events import Envelope, Event
from shared.eventstore import EventStore, EventStoreError

log = structlog.get_logger(__name__)

FINAL_ATTEMPTS = 5  # a terminal event is retried through store blips, this many times


class AttemptReporter:
    def __init__(self, store: EventStore, publisher: EventPublisher, *, tenant_id: str, job_id: str,
                 attempt: int, causation: Envelope | None) -> None:
        self.store = store
        self.publisher = publisher
        self.tenant_id = tenant_id
        self.job_id = job_id
        self.attempt = attempt
        self.causation = causation
        self.cancel_requested = False  # seen in the stream at the last append
        self._turn = asyncio.Lock()
        self._writer = streams.StreamWriter[Job](store, publisher, tenant_id=tenant_id, stream_id=job_stream(job_id),
                                                 evolve=evolve, causation=causation)

    async def report(self, events: Sequence[Event]) -> None:
        """Append `events`; raises `AttemptFenced` when the attempt is no longer live."""
        if events:
            await self._execute(lambda job: decide_report(job, job_id=self.job_id, attempt=self.attempt,
                                                          events=events))

    async def start(self, worker_id: str, pid: int) -> None:
        await self._execute(lambda job: decide_start(job, job_id=self.job_id, attempt=self.attempt,
                                                     worker_id=worker_id, pid=pid))

    async def finish(self, event: Event) -> bool:
        """Append a terminal event, retrying store errors; False when fenced or the store stays down."""
        for attempt in range(1, FINAL_ATTEMPTS + 1):
            try:
                await self.report([event])
                return True
            except AttemptFenced as e:
                log.warning("terminal_event_fenced", event_type=event.type_name, error=repr(e))
                return False
            except EventStoreError as e:
                log.warning("terminal_event_retry", event_type=event.type_name, attempt=attempt, error=repr(e))
                await asyncio.sleep(min(2.0 ** attempt / 4, 5.0))
        log.error("terminal_event_lost", event_type=event.type_name, job_id=self.job_id)
        return False

    async def _execute(self, decide: streams.Decide[Job]) -> None:
        def observed(job: Job | None) -> list[Event]:
            events = decide(job)
            self.cancel_requested = job is not None and job.cancel_requested
            return events

        async with self._turn:
            await self._writer.execute(observed)
