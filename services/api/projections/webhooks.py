"""The tenant's webhooks, and the recent deliveries of each, folded with their aggregates' `evolve`.

Deliveries grow with every event a webhook receives, so the view keeps what users act on and lets
the rest go: every pending and failed delivery, and the last `KEEP_SUCCEEDED` successful ones per
webhook (the log keeps them all). Counts per state cover every delivery ever folded. A deleted
webhook's deliveries are dropped with it.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import ClassVar

from services.api.readmodel.projection import AggregateIndex, Projection
from shared.domain import delivery, webhook
from shared.domain.delivery import Delivery, DeliveryState
from shared.events import Envelope, Event
from shared.events.webhooks import DELIVERY_TYPES, WEBHOOK_TYPES, WebhookDeleted, WebhookDeliveryScheduled

DELIVERY_PREFIX = "delivery-"


class Webhooks(AggregateIndex[webhook.Webhook]):
    types = WEBHOOK_TYPES
    stream_kind = "webhook"

    def fold(self, state: webhook.Webhook | None, envelope: Envelope, event: Event) -> webhook.Webhook | None:
        return webhook.evolve(state, envelope, event)

    def is_gone(self, state: webhook.Webhook) -> bool:
        return state.deleted


class WebhookDeliveries(Projection):
    types = DELIVERY_TYPES | {WebhookDeleted.type_name}
    KEEP_SUCCEEDED: ClassVar[int] = 100

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Delivery]] = {}  # webhook id -> delivery id -> delivery (scheduling order)
        self._webhook_of: dict[str, str] = {}
        self._succeeded: dict[str, OrderedDict[str, None]] = {}  # per webhook, oldest success first
        self._counts: dict[str, Counter[str]] = {}
        self._gone: set[str] = set()

    def apply(self, envelope: Envelope, event: Event) -> None:
        if isinstance(event, WebhookDeleted):
            self._drop(envelope.stream_id.removeprefix("webhook-"))
            return
        if envelope.stream_kind != "delivery":
            return
        delivery_id = envelope.stream_id.removeprefix(DELIVERY_PREFIX)
        webhook_id = event.webhook_id if isinstance(event, WebhookDeliveryScheduled) else \
            self._webhook_of.get(delivery_id)
        if webhook_id is None or webhook_id in self._gone:
            return
        items = self._items.setdefault(webhook_id, {})
        before = items.get(delivery_id)
        after = delivery.evolve(before, envelope, event)
        if after is None:
            return
        items[delivery_id] = after
        self._webhook_of[delivery_id] = webhook_id
        self._count(webhook_id, before, after)
        if after.state is DeliveryState.SUCCEEDED:
            self._remember_success(webhook_id, delivery_id)

    def get(self, webhook_id: str, delivery_id: str) -> Delivery | None:
        return self._items.get(webhook_id, {}).get(delivery_id)

    def listed(self, webhook_id: str, *, state: DeliveryState | None = None, limit: int = 100) -> list[Delivery]:
        """Newest first."""
        found = []
        for item in reversed(list(self._items.get(webhook_id, {}).values())):
            if state is None or item.state is state:
                found.append(item)
                if len(found) >= limit:
                    break
        return found

    def counts(self, webhook_id: str) -> dict[str, int]:
        counter = self._counts.get(webhook_id, Counter())
        return {state.value: counter[state.value] for state in DeliveryState}

    def _count(self, webhook_id: str, before: Delivery | None, after: Delivery) -> None:
        counter = self._counts.setdefault(webhook_id, Counter())
        if before is not None:
            counter[before.state.value] -= 1
        counter[after.state.value] += 1

    def _remember_success(self, webhook_id: str, delivery_id: str) -> None:
        order = self._succeeded.setdefault(webhook_id, OrderedDict())
        order.pop(delivery_id, None)
        order[delivery_id] = None
        items = self._items[webhook_id]
        while len(order) > self.KEEP_SUCCEEDED:
            oldest, _ = order.popitem(last=False)
            found = items.get(oldest)
            if found is not None and found.state is DeliveryState.SUCCEEDED:
                del items[oldest]
                self._webhook_of.pop(oldest, None)

    def _drop(self, webhook_id: str) -> None:
        self._gone.add(webhook_id)
        for delivery_id in self._items.pop(webhook_id, {}):
            self._webhook_of.pop(delivery_id, None)
        self._succeeded.pop(webhook_id, None)
        self._counts.pop(webhook_id, None)
