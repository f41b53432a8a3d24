"""The storage service: consumes the datafile, dataset and snapshot events of every tenant, and job ends.

Its queue is bound by topic to those stream kinds, and to the terminal and `SnapshotSaved` events of
job streams (only those: a job stream carries every log line of its trainer); each event goes through the idempotent
consumer (a redelivery is acked without running twice) and the handler table (`handlers.py`):
datafile ingest (uploads and URLs), dataset builds, blob deletion, and snapshot retention.
"""

from __future__ import annotations

import asyncio

import structlog

from shared.bus import Bus
from shared.bus.consumer import idempotent
from shared.dispatch import Dispatcher, HandlerTable
from shared.eventstore import EventStore

log = structlog.get_logger(__name__)

# `<tenant>.<stream kind>.<EventType>`: the stream kinds whose blobs this service owns, and the
# job ends after which a classify job's staged images are removed, and `SnapshotSaved`, on which
# each job's snapshots are kept bounded (snapshot_retention).
JOB_ENDS = ("TrainingJobFailed", "TrainingJobCancelled", "ClassifyJobSucceeded")
TOPICS = ("*.datafile.*", "*.dataset.*", "*.snapshot.*", "*.job.SnapshotSaved",
          *(f"*.job.{name}" for name in JOB_ENDS))


class StorageService:
    name = "storage"

    def __init__(self, store: EventStore, bus: Bus, handlers: HandlerTable, *, queue: str, prefetch: int) -> None:
        self.store = store
        self.bus = bus
        self.handlers = handlers
        self.queue = queue
        self.prefetch = prefetch

    async def run(self, stopping: asyncio.Event) -> None:
        handler = idempotent(self.store, self.name, Dispatcher(self.name, self.handlers))
        subscription = await self.bus.subscribe(self.queue, handler, topics=TOPICS, prefetch=self.prefetch)
        log.info("storage_consuming", queue=self.queue, topics=list(TOPICS), handled_types=sorted(self.handlers))
        try:
            await stopping.wait()
        finally:
            await subscription.stop()
