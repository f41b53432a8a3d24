"""One attempt's reporter: its appends take turns (the log flusher and the snapshot uploader of a
job share it, and must not race each other for the stream's next version), and each append folds
only what was appended since the last one, while still seeing other writers' events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from services.worker.training.decisions import AttemptFenced
from services.worker.training.reporter import AttemptReporter
from shared.bus.memory import MemoryBus
from shared.bus.outbox import EventPublisher
from shared.domain.job import job_stream
from shared.events import Envelope, Event, registry
from shared.events.training import (
    SnapshotRef,
    SnapshotSaved,
    TrainingJobAssigned,
    TrainingJobCancelRequested,
    TrainingJobRequeued,
    TrainingJobStarted,
    TrainingJobSubmitted,
    TrainingLogAppended,
)
from shared.eventstore import ConcurrencyError
from shared.eventstore.sqlite import SqliteEventStore, open_sqlite_event_store

TENANT, JOB = "t1", "j1"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    opened = await open_sqlite_event_store(tmp_path / "events.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


async def append(store: SqliteEventStore, events: list[Event]) -> None:
    """Append as another writer would (the API, the scheduler)."""
    version = await store.stream_version(TENANT, job_stream(JOB))
    envelopes = [registry.envelope(e, tenant_id=TENANT, stream_id=job_stream(JOB), stream_version=version + i)
                 for i, e in enumerate(events, start=1)]
    await store.append(envelopes, expected_version=version)


async def running_job(store: SqliteEventStore) -> None:
    """A job whose attempt 1 runs: what the API, the scheduler and the worker appended before."""
    await append(store, [
        TrainingJobSubmitted(job_id=JOB, solver_id="s1", dataset_id="d1", engine="caffe", max_iter=10,
                             submitted_by="u1"),
        TrainingJobAssigned(worker_id="w1", attempt=1, engine="caffe", gpus=[]),
        TrainingJobStarted(worker_id="w1", attempt=1, pid=4242),
    ])


def reporter_of(store: SqliteEventStore) -> AttemptReporter:
    return AttemptReporter(store, EventPublisher(store, MemoryBus()), tenant_id=TENANT, job_id=JOB, attempt=1,
                           causation=None)


def log_line(n: int) -> TrainingLogAppended:
    return TrainingLogAppended(attempt=1, first_line=n + 1, lines=[f"line {n}"])


async def test_a_log_batch_and_a_snapshot_reported_at_once_never_conflict(
    store: SqliteEventStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await running_job(store)
    conflicts = 0
    append = store.append

    async def counting(envelopes: Sequence[Envelope], *, expected_version: int) -> list[Envelope]:
        nonlocal conflicts
        try:
            return await append(envelopes, expected_version=expected_version)
        except ConcurrencyError:
            conflicts += 1
            raise

    monkeypatch.setattr(store, "append", counting)
    reporter = reporter_of(store)
    for n in range(10):
        snapshot = SnapshotRef(iteration=n, caffemodel_path=f"{n}.caffemodel", solverstate_path=f"{n}.solverstate")
        await asyncio.gather(
            reporter.report([log_line(n)]),
            reporter.report([SnapshotSaved(attempt=1, snapshot=snapshot)]),
        )
    stored = await store.read_stream(TENANT, job_stream(JOB))
    assert [e.type for e in stored].count("TrainingLogAppended") == 10
    assert [e.type for e in stored].count("SnapshotSaved") == 10
    assert conflicts == 0


async def test_each_report_reads_only_the_events_appended_since_the_last_one(
    store: SqliteEventStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await running_job(store)
    read: list[int] = []
    read_stream = store.read_stream

    async def counting(tenant_id: str, stream_id: str, *, from_version: int = 1) -> list[Envelope]:
        found = await read_stream(tenant_id, stream_id, from_version=from_version)
        read.append(len(found))
        return found

    monkeypatch.setattr(store, "read_stream", counting)
    reporter = reporter_of(store)
    for n in range(30):
        await reporter.report([log_line(n)])
    assert len(await read_stream(TENANT, job_stream(JOB))) == 33
    assert read[0] == 3 and sum(read[1:]) == 0  # the stream once, then nothing it had not appended itself


async def test_a_cancel_appended_by_another_writer_is_seen_at_the_next_report(store: SqliteEventStore) -> None:
    await running_job(store)
    reporter = reporter_of(store)
    await reporter.report([log_line(0)])
    assert not reporter.cancel_requested
    await append(store, [TrainingJobCancelRequested(requested_by="u1")])
    await reporter.report([log_line(1)])
    assert reporter.cancel_requested
    stored = await store.read_stream(TENANT, job_stream(JOB))
    assert [e.type for e in stored][-2:] == ["TrainingJobCancelRequested", "TrainingLogAppended"]


async def test_a_requeue_appended_by_the_scheduler_fences_the_next_report(store: SqliteEventStore) -> None:
    await running_job(store)
    reporter = reporter_of(store)
    await reporter.report([log_line(0)])
    await append(store, [TrainingJobRequeued(attempt=1, reason="worker w1 lost")])
    with pytest.raises(AttemptFenced):
        await reporter.report([log_line(1)])
    assert [e.type for e in await store.read_stream(TENANT, job_stream(JOB))][-1] == "TrainingJobRequeued"
