"""One delivery attempt: read what to send from the log, post it, record the outcome.

The delivery's stream says whether it is still pending and due; the webhook's stream gives the URL
and where the secret is; the event itself is read back by its log position (one indexed read). The
outcome is recorded through read-decide-append, so a redelivery requested while the request was in
flight is decided on, not overwritten. A delivery that can never be sent (its webhook deleted, its event
gone) fails with that reason instead of staying pending forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import structlog

from services.api.webhooks.backoff import RetrySchedule
from services.api.webhooks.payload import body_of, headers_of
from services.api.webhooks.secret_store import SecretCache
from services.api.webhooks.sender import Sender
from shared.blobs import BlobNotFound
from shared.bus.outbox import EventPublisher
from shared.domain import delivery, streams, webhook
from shared.domain.delivery import AttemptOutcome, Delivery
from shared.events import Envelope, Event, now_utc
from shared.eventstore import EventStore

log = structlog.get_logger(__name__)

Decide = Callable[[Delivery | None], list[Event]]


class Attempts:
    def __init__(self, store: EventStore, publisher: EventPublisher, secrets: SecretCache, sender: Sender,
                 schedule: RetrySchedule, *, clock: Callable[[], datetime] = now_utc) -> None:
        self.store = store
        self.publisher = publisher
        self.secrets = secrets
        self.sender = sender
        self.schedule = schedule
        self.clock = clock

    async def load(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        found, _ = await streams.load(self.store, tenant_id, delivery.delivery_stream(delivery_id), delivery.evolve)
        return found

    async def attempt(self, tenant_id: str, pending: Delivery) -> datetime | None:
        """Send `pending` once and record it; returns when it is due next (None: no longer pending)."""
        decide = await self._send(tenant_id, pending)
        stream = delivery.delivery_stream(pending.delivery_id)
        await streams.execute(self.store, self.publisher, tenant_id=tenant_id, stream_id=stream,
                              evolve=delivery.evolve, decide=decide)
        after = await self.load(tenant_id, pending.delivery_id)
        return after.next_attempt_at if after is not None and after.pending else None

    async def _send(self, tenant_id: str, pending: Delivery) -> Decide:
        hook, _ = await streams.load(self.store, tenant_id, webhook.webhook_stream(pending.webhook_id),
                                     webhook.evolve)
        if hook is None or hook.deleted:
            return _give_up("the webhook was deleted")
        source = await self._source(tenant_id, pending)
        if source is None:
            return _give_up(f"event {pending.event_id} is no longer in the log")
        try:
            secret = await self.secrets.get(tenant_id, hook.secret_path)
        except BlobNotFound:
            return _give_up("the webhook's secret is gone (the webhook was deleted)")
        body = body_of(source)
        headers = headers_of(event_type=source.type, delivery_id=pending.delivery_id, secret=secret, body=body,
                             timestamp=int(time.time()))
        outcome = await self.sender.post(hook.url, body, headers)
        log.info("webhook_attempted", tenant_id=tenant_id, delivery_id=pending.delivery_id,
                 webhook_id=hook.webhook_id, attempt=pending.attempts + 1, status_code=outcome.status_code,
                 error=outcome.error, duration_s=outcome.duration_s)
        return _record(outcome, self.clock(), self.schedule)

    async def _source(self, tenant_id: str, pending: Delivery) -> Envelope | None:
        found = await self.store.read_log(tenant_id, after_position=pending.event_position - 1, limit=1)
        if found and found[0].event_id == pending.event_id:
            return found[0]
        return None


def _record(outcome: AttemptOutcome, now: datetime, schedule: RetrySchedule) -> Decide:
    def decide(state: Delivery | None) -> list[Event]:
        return delivery.decide_attempted(state, outcome, now=now, schedule=schedule)

    return decide


def _give_up(reason: str) -> Decide:
    def decide(state: Delivery | None) -> list[Event]:
        return delivery.decide_give_up(state, reason=reason)

    return decide
