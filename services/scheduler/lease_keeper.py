"""Holds the scheduler lease in the event store: acquire, renew, release, with expected versions.

The keeper folds the lease stream incrementally (it reads only events after the version it
knows), so renewing every few seconds costs one short read and one append. A `ConcurrencyError`
is the arbitration working, not a failure: someone else wrote first, so we re-read and the lease
is whatever the stream now says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from services.scheduler import lease as domain
from services.scheduler.events import LEASE_STREAM
from shared.bus.outbox import EventPublisher
from shared.events import SYSTEM_TENANT, now_utc, registry
from shared.eventstore import ConcurrencyError, EventStore

log = structlog.get_logger(__name__)


class LeaseKeeper:
    def __init__(
        self, store: EventStore, publisher: EventPublisher, owner: str, duration: timedelta,
        *, clock: Callable[[], datetime] = now_utc, stream: str = LEASE_STREAM,
    ) -> None:
        self.store = store
        self.stream = stream  # another single-active role (the webhook sender) keeps its own lease stream
        self.publisher = publisher
        self.owner = owner
        self.duration = duration
        self.clock = clock
        self.lease = domain.Lease()

    def held(self) -> bool:
        """Whether we hold an unexpired lease by our own clock (checked before acting as leader)."""
        return self.lease.held_by(self.owner, self.clock())

    async def acquire(self) -> bool:
        return await self._carry_out(domain.Acquire(self.owner, self.duration))

    async def renew(self) -> bool:
        return await self._carry_out(domain.Renew(self.owner, self.duration))

    async def release(self) -> None:
        await self._carry_out(domain.Release(self.owner))

    async def refresh(self) -> domain.Lease:
        """Fold the stream's events we have not seen yet."""
        for envelope in await self.store.read_stream(SYSTEM_TENANT, self.stream, from_version=self.lease.version + 1):
            self.lease = domain.evolve(self.lease, registry.decode(envelope))
        return self.lease

    async def _carry_out(self, command: domain.Command) -> bool:
        """Append what `decide` says at the version we read; True when we hold the lease after."""
        await self.refresh()
        events = domain.decide(self.lease, command, self.clock())
        if events:
            envelopes = [
                registry.envelope(event, tenant_id=SYSTEM_TENANT, stream_id=self.stream,
                                  stream_version=self.lease.version + i)
                for i, event in enumerate(events, start=1)
            ]
            try:
                await self.publisher.append_and_publish(envelopes, expected_version=self.lease.version)
            except ConcurrencyError:
                log.info("lease_contended", owner=self.owner)
            await self.refresh()
        return self.held()
