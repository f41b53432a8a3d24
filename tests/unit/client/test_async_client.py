"""`AsyncClient` runs the same operations as `Client`: one plan, two transports."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from elasticthought.client import AsyncClient, Client, NotFound
from elasticthought.client.api import Api
from elasticthought.client.operation import Operation, StreamOperation
from tests.unit.client.fakes import URL, BrokenStream, FakeApi, job, snapshot, sse


async def test_both_clients_have_every_operation_blocking_on_one_and_awaitable_on_the_other() -> None:
    operations = {name: value for name, value in vars(Api).items() if isinstance(value, Operation | StreamOperation)}
    assert len(operations) > 40
    async with AsyncClient(URL) as async_client:
        with Client(URL) as sync_client:
            for name, operation in operations.items():
                blocking, awaitable = getattr(sync_client, name), getattr(async_client, name)
                assert blocking.__doc__ == awaitable.__doc__ == operation.build.__doc__, name
                assert not inspect.iscoroutinefunction(blocking), name
                assert inspect.iscoroutinefunction(awaitable) == isinstance(operation, Operation), name


async def test_async_calls_wait_and_errors_behave_as_the_sync_ones() -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1", httpx.Response(200, json=job(state="running")),
           httpx.Response(200, json=job(state="succeeded")))
    async with api.async_client() as client:
        found = await client.wait_for_training_job("j1", poll_s=0.5)
        with pytest.raises(NotFound):
            await client.get_dataset("nope")
    assert found.state == "succeeded" and api.sleeps == [0.5]


async def test_async_upload_streams_async_chunks_with_progress() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"ab", b"cde"):
            yield part

    api = FakeApi()
    api.on("POST", "/v1/datafiles", httpx.Response(202, json={"id": "df1", "state": "pending"}))
    seen: list[tuple[int, int | None]] = []
    async with api.async_client() as client:
        await client.upload_datafile(chunks(), name="x.tgz", progress=lambda done, total: seen.append((done, total)))
    assert api.sent[0].body == b"abcde" and api.sent[0].request.headers["Content-Type"] == "application/gzip"
    assert seen == [(0, None), (2, None), (5, None)]


async def test_async_upload_of_a_file_reads_it_in_chunks(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    archive.write_bytes(b"t" * 300_000)
    api = FakeApi()
    api.on("POST", "/v1/datafiles", httpx.Response(202, json={"id": "df1", "state": "pending"}))
    async with api.async_client() as client:
        await client.upload_datafile(archive)
    assert api.sent[0].body == archive.read_bytes()
    assert api.sent[0].request.headers["Content-Length"] == "300000"


async def test_async_download_writes_the_latest_snapshot(tmp_path: Path) -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1/snapshots", httpx.Response(200, json={"items": [snapshot(20)]}))
    api.on("GET", "/v1/training-jobs/j1/snapshots/20/caffemodel", httpx.Response(200, content=b"w" * 1000))
    seen: list[int] = []
    async with api.async_client() as client:
        written = await client.download_snapshot("j1", to=tmp_path / "w", progress=lambda done, _: seen.append(done))
    assert written.read_bytes() == b"w" * 1000 and seen[-1] == 1000


async def test_async_events_resume_with_last_event_id() -> None:
    api = FakeApi()
    api.on("GET", "/v1/events", httpx.Response(200, stream=BrokenStream(sse((5, "A", {})))),
           httpx.Response(200, content=sse((6, "B", {}))))
    seen = []
    async with api.async_client() as client:
        async for event in client.events():
            seen.append((event.id, event.type))
            if len(seen) == 2:
                break
    assert seen == [(5, "A"), (6, "B")]
    assert api.sent[1].request.headers["Last-Event-ID"] == "5"
