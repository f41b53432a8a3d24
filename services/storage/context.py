"""What the storage handlers share: backends, scratch space, limits, and the bound on heavy work.

Ingests and dataset builds are CPU-, disk- and network-heavy; `heavy` lets at most
`storage_concurrency` of them run at once in a process, whatever the bus prefetch, so a burst of
uploads queues up instead of thrashing. Deletions are cheap and not bounded by it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from services.storage.cache import DatafileCache
from services.storage.fetch_policy import FetchPolicy
from services.storage.limits import ArchiveLimits
from shared.blobs import BlobError, BlobNotFound, BlobStore
from shared.blobs.packs import DEFAULT_PACK_BYTES
from shared.bus import RetryableError
from shared.bus.outbox import EventPublisher
from shared.eventstore import EventStore, StoreUnavailable
from shared.settings import Settings


@dataclass
class StorageContext:
    store: EventStore
    publisher: EventPublisher
    blobs: BlobStore
    settings: Settings
    work_dir: Path
    fetch_policy: FetchPolicy
    limits: ArchiveLimits
    transfer_concurrency: int
    cache: DatafileCache
    heavy: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    pack_bytes: int = DEFAULT_PACK_BYTES

    @classmethod
    def from_settings(cls, settings: Settings, store: EventStore, publisher: EventPublisher,
                      blobs: BlobStore) -> StorageContext:
        work_dir = settings.storage_work_dir or settings.data_dir / "storage-work"
        return cls(store=store, publisher=publisher, blobs=blobs, settings=settings, work_dir=work_dir,
                   fetch_policy=FetchPolicy.from_settings(settings),
                   limits=ArchiveLimits(),
                   transfer_concurrency=settings.storage_transfer_concurrency,
                   cache=DatafileCache(work_dir / "cache", max_bytes=settings.storage_cache_bytes),
                   heavy=asyncio.Semaphore(settings.storage_concurrency))


def is_transient(error: BaseException) -> bool:
    """Infrastructure that is away (blob store, event store): worth trying again later."""
    return isinstance(error, (BlobError, StoreUnavailable, ConnectionError)) and not isinstance(error, BlobNotFound)


@contextlib.contextmanager
def transient_failures() -> Iterator[None]:
    """Turn transient infrastructure failures into `RetryableError`, so the bus retries with backoff."""
    try:
        yield
    except Exception as e:
        if is_transient(e):
            raise RetryableError(f"storage backend unavailable: {e}") from e
        raise
