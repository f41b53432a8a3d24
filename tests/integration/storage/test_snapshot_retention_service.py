"""Snapshot retention through the running storage service: old snapshot blobs deleted, then recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from services.storage.context import StorageContext
from services.storage.snapshot_retention import SnapshotRetention
from shared.domain import job as jobs
from shared.domain.streams import execute, load
from shared.events import Envelope, Event, registry
from shared.events.retention import SnapshotsPruned
from shared.events.training import (
    SnapshotRef,
    SnapshotSaved,
    TrainingJobAssigned,
    TrainingJobStarted,
    TrainingJobSubmitted,
)
from tests.integration.storage.conftest import Deployment
from tests.integration.storage.harness import StorageHarness, new_id


async def one(body: bytes) -> AsyncIterator[bytes]:
    yield body


class RunningJob:
    """A training job's stream as the API, scheduler and worker write it, with its snapshot blobs."""

    def __init__(self, storage: StorageHarness) -> None:
        self.storage = storage
        self.job_id = new_id()
        self.stream = jobs.job_stream(self.job_id)

    async def write(self, event: Event) -> Envelope:
        """Appended through the aggregate, so a `SnapshotsPruned` appended meanwhile is no conflict."""
        [stored] = await execute(self.storage.backends.store, self.storage.publisher, tenant_id=self.storage.tenant_id,
                                 stream_id=self.stream, evolve=jobs.evolve, decide=lambda _: [event])
        return stored

    async def start(self) -> None:
        await self.write(TrainingJobSubmitted(job_id=self.job_id, solver_id="s1", dataset_id="d1", max_iter=1000,
                                              submitted_by="u1"))
        await self.write(TrainingJobAssigned(worker_id="w1", attempt=1, engine="torch", gpus=[]))
        await self.write(TrainingJobStarted(worker_id="w1", attempt=1, pid=1))

    async def snapshot(self, iteration: int) -> Envelope:
        base = f"jobs/{self.job_id}/snapshots/{iteration}"
        ref = SnapshotRef(iteration=iteration, caffemodel_path=f"{base}.caffemodel",
                          solverstate_path=f"{base}.solverstate")
        for path in (ref.caffemodel_path, ref.solverstate_path):
            await self.storage.backends.blobs.put(self.storage.tenant_id, path, one(path.encode()))
        return await self.write(SnapshotSaved(attempt=1, snapshot=ref))

    async def stored_iterations(self) -> list[int]:
        paths = await self.storage.blob_paths(f"jobs/{self.job_id}/snapshots/")
        return sorted({int(path.rsplit("/", 1)[1].split(".")[0]) for path in paths})

    async def pruned(self) -> list[int]:
        events = [registry.decode(e) for e in await self.storage.backends.store.read_stream(
            self.storage.tenant_id, self.stream)]
        return sorted(i for event in events if isinstance(event, SnapshotsPruned) for i in event.iterations)

    async def listed(self) -> list[int]:
        job, _ = await load(self.storage.backends.store, self.storage.tenant_id, self.stream, jobs.evolve)
        assert job is not None
        return [ref.iteration for ref in job.snapshots]

    async def wait_pruned(self, expected: list[int], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while (found := await self.pruned()) != expected:
            assert time.monotonic() < deadline, f"pruned {found}, expected {expected}"
            await asyncio.sleep(0.05)

    async def wait_handled(self, envelope: Envelope, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not await self.storage.backends.store.was_handled("storage", envelope.event_id):
            assert time.monotonic() < deadline, "the storage service did not handle the event"
            await asyncio.sleep(0.05)


async def test_snapshots_beyond_the_limit_lose_their_blobs_and_leave_the_job_newest_first(
    deployment: Deployment,
) -> None:
    async with deployment(snapshot_keep_last=2) as storage:
        job = RunningJob(storage)
        await job.start()
        saved = [await job.snapshot(iteration) for iteration in (100, 200, 300, 400)]

        await job.wait_pruned([100, 200])
        await job.wait_handled(saved[-1])
        assert await job.stored_iterations() == [300, 400]
        assert await job.listed() == [300, 400]

        before = await storage.types(job.stream)
        await storage.redeliver(saved[-1])  # at-least-once delivery: nothing more to do
        assert await storage.types(job.stream) == before


async def test_a_limit_of_zero_keeps_every_snapshot(deployment: Deployment) -> None:
    async with deployment(snapshot_keep_last=0) as storage:
        job = RunningJob(storage)
        await job.start()
        saved = [await job.snapshot(iteration) for iteration in (100, 200, 300)]
        for envelope in saved:
            await job.wait_handled(envelope)
        assert await job.stored_iterations() == [100, 200, 300]
        assert await job.pruned() == []


async def test_files_deleted_before_a_crash_are_recorded_when_the_event_comes_again(
    deployment: Deployment,
) -> None:
    async with deployment(snapshot_keep_last=0) as storage:  # the running service leaves this job alone
        job = RunningJob(storage)
        await job.start()
        saved = [await job.snapshot(iteration) for iteration in (100, 200, 300)]
        for envelope in saved:
            await job.wait_handled(envelope)
        await storage.backends.blobs.delete(storage.tenant_id, f"jobs/{job.job_id}/snapshots/100.caffemodel")

        settings = storage.settings.model_copy(update={"snapshot_keep_last": 1})
        retention = SnapshotRetention(StorageContext.from_settings(settings, storage.backends.store,
                                                                   storage.publisher, storage.backends.blobs))
        await retention.on_snapshot_saved(saved[-1], registry.decode(saved[-1]))

        assert await job.pruned() == [100, 200]
        assert await job.stored_iterations() == [300]
