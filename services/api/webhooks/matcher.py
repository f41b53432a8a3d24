"""Schedules deliveries: each tenant event, matched against the tenant's webhooks, once.

The handler of the shared `webhooks` queue, which every API instance consumes (competing
consumers: each event is handled by one instance). The delivery id is derived from (webhook, event)
and its stream must be new, so an event consumed twice (a sweeper republish, a redelivery after a
crash) schedules nothing twice: the second append finds the stream taken. A webhook receives only
events after its registration in the tenant's log, and never the webhook and delivery events.
"""

from __future__ import annotations

import structlog

from services.api.projections.webhooks import Webhooks
from services.api.readmodel import ReadModel, ReadModelLagging
from services.api.webhooks.patterns import NOT_DELIVERED_KINDS, matches
from shared.bus import RetryableError
from shared.bus.outbox import EventPublisher
from shared.domain.delivery import delivery_id_for, delivery_stream
from shared.domain.webhook import Webhook
from shared.events import SYSTEM_TENANT, Envelope, registry
from shared.events.webhooks import WebhookDeliveryScheduled
from shared.eventstore import ConcurrencyError, StoreUnavailable

log = structlog.get_logger(__name__)

QUEUE = "webhooks"
TOPICS = ("*.*.*",)  # every event: which ones a tenant's webhooks want is known only after a read


class EventMatcher:
    def __init__(self, publisher: EventPublisher, read_model: ReadModel) -> None:
        self.publisher = publisher
        self.read_model = read_model

    async def __call__(self, envelope: Envelope) -> None:
        position = envelope.position
        if position is None or envelope.tenant_id == SYSTEM_TENANT or envelope.stream_kind in NOT_DELIVERED_KINDS:
            return  # bus-only messages are not facts; deployment events belong to no tenant's webhooks
        try:
            view = await self.read_model.catch_up(envelope.tenant_id, min_position=position)
            for hook in view.get(Webhooks):
                if hook.registered_position < position and matches(hook.events, envelope.type):
                    await self._schedule(hook, envelope, position)
        except (ReadModelLagging, StoreUnavailable) as e:
            raise RetryableError(f"cannot match event {envelope.event_id} against webhooks now: {e}") from e

    async def _schedule(self, hook: Webhook, envelope: Envelope, position: int) -> None:
        delivery_id = delivery_id_for(hook.webhook_id, envelope.event_id)
        event = WebhookDeliveryScheduled(delivery_id=delivery_id, webhook_id=hook.webhook_id,
                                         event_id=envelope.event_id, event_type=envelope.type,
                                         event_stream_id=envelope.stream_id,
                                         event_stream_version=envelope.stream_version, event_position=position)
        scheduled = registry.envelope(event, tenant_id=envelope.tenant_id, stream_id=delivery_stream(delivery_id),
                                      stream_version=1, causation=envelope)
        try:
            await self.publisher.append_and_publish([scheduled], expected_version=0)
        except ConcurrencyError:
            log.info("webhook_delivery_already_scheduled", delivery_id=delivery_id, webhook_id=hook.webhook_id)
            return
        log.info("webhook_delivery_scheduled", delivery_id=delivery_id, webhook_id=hook.webhook_id,
                 tenant_id=envelope.tenant_id, event_type=envelope.type)
