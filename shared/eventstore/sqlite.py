"""The embedded event store: one SQLite file in WAL mode.

Writes (appends, published and handled marks) go through one `GroupCommitWriter`, which commits
many of them per transaction. Reads use a separate connection; WAL lets them run while the writer
commits, and each read sees the last committed state, so a caller reads its own appends. Positions
are assigned inside the writing transaction and transactions commit one at a time, so `read_log`
never meets a hole: what it returns is final.

Several store objects may open the same file (tests do); SQLite's file lock then serialises their
writers, each waiting up to 30 s for the lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from shared.events import Envelope
from shared.eventstore.batch import check_batch
from shared.eventstore.errors import StoreUnavailable
from shared.eventstore.sqlite_schema import AppendJob, MarkHandledJob, MarkPublishedJob, create_schema
from shared.eventstore.sqlite_writer import GroupCommitWriter

_SCAN_PAGE = 500


class SqliteEventStore:
    """`EventStore` on a SQLite file. Create it with `open_sqlite_event_store`."""

    def __init__(self, writer: GroupCommitWriter, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._closed = False

    @property
    def writer(self) -> GroupCommitWriter:
        """The group-commit writer, whose counters show how well appends were batched."""
        return self._writer

    async def append(self, events: Sequence[Envelope], *, expected_version: int) -> list[Envelope]:
        check_batch(events, expected_version)
        if not events:
            return []
        first_position = await self._writer.submit(AppendJob(events, expected_version))
        return [event.with_position(first_position + i) for i, event in enumerate(events)]

    async def read_stream(self, tenant_id: str, stream_id: str, *, from_version: int = 1) -> list[Envelope]:
        return await self._envelopes(
            "SELECT body, position FROM events WHERE tenant_id = ? AND stream_id = ? AND stream_version >= ?"
            " ORDER BY stream_version",
            (tenant_id, stream_id, from_version),
        )

    async def stream_version(self, tenant_id: str, stream_id: str) -> int:
        rows = await self._fetch(
            "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE tenant_id = ? AND stream_id = ?",
            (tenant_id, stream_id),
        )
        return int(rows[0][0])

    async def read_log(self, tenant_id: str, *, after_position: int = 0, limit: int = 1000) -> list[Envelope]:
        return await self._envelopes(
            "SELECT body, position FROM events WHERE tenant_id = ? AND position > ? ORDER BY position LIMIT ?",
            (tenant_id, after_position, limit),
        )

    async def scan(self, *, types: Collection[str] | None = None) -> AsyncIterator[Envelope]:
        """Pages by `(tenant_id, position)` so no cursor stays open across the caller's awaits."""
        type_filter = ""
        type_params: tuple[str, ...] = ()
        if types is not None:
            if not types:
                return
            type_list = sorted(types)
            type_filter = f" AND type IN ({', '.join('?' * len(type_list))})"
            type_params = tuple(type_list)
        tenant, position = "", 0
        while True:
            page = await self._fetch(
                "SELECT body, position, tenant_id FROM events WHERE (tenant_id, position) > (?, ?)"
                f"{type_filter} ORDER BY tenant_id, position LIMIT ?",
                (tenant, position, *type_params, _SCAN_PAGE),
            )
            for body, event_position, _ in page:
                yield _decode(body, event_position)
            if len(page) < _SCAN_PAGE:
                return
            _, position, tenant = page[-1]

    async def unpublished(self, *, limit: int = 500, min_age_s: float = 0.0) -> list[Envelope]:
        return await self._envelopes(
            "SELECT body, position FROM events WHERE published = 0 AND appended_at <= ?"
            " ORDER BY appended_at, tenant_id, position LIMIT ?",
            (time.time() - min_age_s, limit),
        )

    async def mark_published(self, event_ids: Sequence[uuid.UUID]) -> None:
        if event_ids:
            await self._writer.submit(MarkPublishedJob(event_ids))

    async def was_handled(self, consumer: str, event_id: uuid.UUID) -> bool:
        rows = await self._fetch(
            "SELECT 1 FROM handled WHERE consumer = ? AND event_id = ?", (consumer, str(event_id))
        )
        return bool(rows)

    async def mark_handled(self, consumer: str, event_id: uuid.UUID) -> None:
        await self._writer.submit(MarkHandledJob(consumer, event_id))

    async def close(self) -> None:
        self._closed = True
        try:
            await self._writer.close()
        finally:
            await self._reader.close()

    async def _envelopes(self, sql: str, params: tuple[Any, ...]) -> list[Envelope]:
        return [_decode(body, position) for body, position in await self._fetch(sql, params)]

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._closed:  # aiosqlite would raise a bare ValueError: to callers the store is away
            raise StoreUnavailable("the SQLite event store is closed")
        with _translated("read"):
            async with self._reader.execute(sql, params) as cursor:
                return [tuple(row) for row in await cursor.fetchall()]


async def open_sqlite_event_store(
    path: Path | str, *, synchronous: str = "FULL", max_batch: int = 1000
) -> SqliteEventStore:
    """Open (creating if needed) the event store file at `path`.

    `synchronous` is SQLite's: FULL (the default) syncs the WAL on every commit, so a committed
    append survives a power cut; NORMAL survives a crash of the process but not of the machine.
    Group commit shares one sync among all the appends of a batch.
    """
    path = Path(path)
    writer = GroupCommitWriter(path, synchronous=synchronous, max_batch=max_batch)
    with _translated("open"):
        await asyncio.to_thread(writer.start)
    try:
        await writer.submit(create_schema)
        with _translated("open"):
            reader = await aiosqlite.connect(path)
    except BaseException:
        await writer.close()
        raise
    store = SqliteEventStore(writer, reader)
    try:
        with _translated("open"):
            await reader.execute("PRAGMA query_only = ON")  # reads can never write by mistake
    except BaseException:
        await store.close()
        raise
    return store


def _decode(body: str, position: int) -> Envelope:
    return Envelope.from_json(body).with_position(position)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as e:
        raise StoreUnavailable(f"SQLite event store {action} failed: {e}") from e
