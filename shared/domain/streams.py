"""Read-decide-append with optimistic concurrency, for any aggregate stream.

Several services write to one stream (the API cancels a job while its worker reports progress and
the scheduler requeues it). Each writer folds the stream, decides, and appends with the version it
read; when another writer got there first the store raises `ConcurrencyError` and we decide again
on the fresh state, so every decision is made on the state it is appended after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from shared.bus.outbox import EventPublisher
from shared.events import Envelope, Event, registry
from shared.eventstore import ConcurrencyError, EventStore

S = TypeVar("S")

Evolve = Callable[[S | None, Envelope, Event], S | None]
Decide = Callable[[S | None], list[Event]]


class StreamBusy(Exception):
    """Every retry lost the race: the stream is being written too fast to decide on."""

    def __init__(self, tenant_id: str, stream_id: str, attempts: int) -> None:
        self.tenant_id = tenant_id
        self.stream_id = stream_id
        super().__init__(f"stream {stream_id} of {tenant_id}: still contended after {attempts} attempts")


async def load(store: EventStore, tenant_id: str, stream_id: str, evolve: Evolve[S]) -> tuple[S | None, int]:
    """The aggregate folded from its stream, and the stream's version."""
    state: S | None = None
    version = 0
    for envelope in await store.read_stream(tenant_id, stream_id):
        state = evolve(state, envelope, registry.decode(envelope))
        version = envelope.stream_version
    return state, version


async def execute(
    store: EventStore,
    publisher: EventPublisher,
    *,
    tenant_id: str,
    stream_id: str,
    evolve: Evolve[S],
    decide: Decide[S],
    causation: Envelope | None = None,
    recipient: str | None = None,
    attempts: int = 8,
) -> list[Envelope]:
    """Fold, decide, append at the version folded; on a lost race, do it all again.

    `decide` raises to refuse (its exception propagates); an empty decision appends nothing.
    """
    for _ in range(attempts):
        state, version = await load(store, tenant_id, stream_id, evolve)
        events = decide(state)
        if not events:
            return []
        envelopes = [
            registry.envelope(event, tenant_id=tenant_id, stream_id=stream_id, stream_version=version + i,
                              causation=causation, recipient=recipient)
            for i, event in enumerate(events, start=1)
        ]
        try:
            return await publisher.append_and_publish(envelopes, expected_version=version)
        except ConcurrencyError:
            continue
    raise StreamBusy(tenant_id, stream_id, attempts)


class StreamWriter(Generic[S]):
    """`execute` for a writer that appends to one stream again and again, keeping its fold between appends.

    `execute` folds the whole stream before every decision, which is right for a one-off command but
    quadratic for a writer that appends all the time: a worker reporting a chatty trainer's log adds
    several events a second to the job's stream, and folding thousands of them per append (pydantic
    decoding each) would make every append slower than the last. This writer folds only what was
    appended since its last look, its own appends included (`read_stream` from the next version), so
    other writers' events (a cancel, a requeue) are still seen before each decision. Not safe for
    concurrent use: one writer, one decision at a time.
    """

    def __init__(self, store: EventStore, publisher: EventPublisher, *, tenant_id: str, stream_id: str,
                 evolve: Evolve[S], causation: Envelope | None = None, recipient: str | None = None) -> None:
        self.store = store
        self.publisher = publisher
        self.tenant_id = tenant_id
        self.stream_id = stream_id
        self.evolve = evolve
        self.causation = causation
        self.recipient = recipient
        self.state: S | None = None
        self.version = 0

    async def catch_up(self) -> None:
        """Fold the events appended since the last look."""
        for envelope in await self.store.read_stream(self.tenant_id, self.stream_id, from_version=self.version + 1):
            self.state = self.evolve(self.state, envelope, registry.decode(envelope))
            self.version = envelope.stream_version

    async def execute(self, decide: Decide[S], *, attempts: int = 8) -> list[Envelope]:
        """Catch up, decide, append at the version known; on a lost race, catch up and decide again."""
        for _ in range(attempts):
            await self.catch_up()
            events = decide(self.state)
            if not events:
                return []
            envelopes = [
                registry.envelope(event, tenant_id=self.tenant_id, stream_id=self.stream_id,
                                  stream_version=self.version + i, causation=self.causation, recipient=self.recipient)
                for i, event in enumerate(events, start=1)
            ]
            try:
                stored = await self.publisher.append_and_publish(envelopes, expected_version=self.version)
            except ConcurrencyError:
                continue
            for envelope, event in zip(stored, events, strict=True):
                self.state = self.evolve(self.state, envelope, event)
                self.version = envelope.stream_version
            return stored
        raise StreamBusy(self.tenant_id, self.stream_id, attempts)
