"""Delivery state: the aggregate's rules, the listing view, the sender's timer and its concurrency bounds."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.api.projections.webhooks import WebhookDeliveries
from services.api.webhooks.backoff import RetrySchedule
from services.api.webhooks.due import DueTable
from services.api.webhooks.limiter import DeliveryLimiter
from shared.domain import delivery
from shared.domain.delivery import AttemptOutcome, DeliveryRuleViolation, DeliveryState
from shared.events import Event, registry
from shared.events.webhooks import (
    WebhookDeleted,
    WebhookDeliveryAttempted,
    WebhookDeliveryFailed,
    WebhookDeliveryScheduled,
    WebhookDeliverySucceeded,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SCHEDULE = RetrySchedule(base_s=10.0, jitter=0.0)
OK = AttemptOutcome(status_code=204, error=None, duration_s=0.02)
REFUSED = AttemptOutcome(status_code=None, error="cannot connect to 127.0.0.1:9", duration_s=0.01)
SERVER_ERROR = AttemptOutcome(status_code=503, error="answered 503 Service Unavailable", duration_s=0.1)


class Log:
    """One delivery's stream, folded as the aggregate and as the listing view see it."""

    def __init__(self, webhook_id: str = "a" * 16, delivery_id: str | None = None) -> None:
        self.webhook_id = webhook_id
        self.delivery_id = delivery_id or uuid.uuid4().hex[:16]
        self.state: delivery.Delivery | None = None
        self.version = 0

    def append(self, events: list[Event], at: datetime, view: WebhookDeliveries | None = None) -> None:
        for event in events:
            self.version += 1
            envelope = registry.envelope(event, tenant_id="acme", stream_id=delivery.delivery_stream(self.delivery_id),
                                         stream_version=self.version).model_copy(update={"occurred_at": at})
            self.state = delivery.evolve(self.state, envelope, event)
            if view is not None:
                view.apply(envelope, event)

    def schedule(self, at: datetime = T0, view: WebhookDeliveries | None = None) -> None:
        self.append([WebhookDeliveryScheduled(
            delivery_id=self.delivery_id, webhook_id=self.webhook_id, event_id=uuid.uuid4(),
            event_type="TrainingJobSucceeded", event_stream_id="job-1", event_stream_version=3, event_position=7,
        )], at, view)


def test_a_scheduled_delivery_is_due_at_once_and_a_success_settles_it() -> None:
    log = Log()
    log.schedule()
    assert log.state is not None and log.state.pending and log.state.next_attempt_at == T0
    events = delivery.decide_attempted(log.state, OK, now=T0, schedule=SCHEDULE)
    assert [type(e) for e in events] == [WebhookDeliveryAttempted, WebhookDeliverySucceeded]
    log.append(events, T0)
    assert log.state.state is DeliveryState.SUCCEEDED and log.state.attempts == 1
    assert log.state.last_status_code == 204 and log.state.next_attempt_at is None
    assert delivery.decide_attempted(log.state, OK, now=T0, schedule=SCHEDULE) == []


def test_a_failed_attempt_records_why_and_when_the_next_one_is_due() -> None:
    log = Log()
    log.schedule()
    log.append(delivery.decide_attempted(log.state, SERVER_ERROR, now=T0, schedule=SCHEDULE), T0)
    assert log.state is not None and log.state.pending
    assert (log.state.last_status_code, log.state.last_error) == (503, "answered 503 Service Unavailable")
    assert log.state.next_attempt_at == T0 + timedelta(seconds=10)
    later = T0 + timedelta(seconds=10)
    log.append(delivery.decide_attempted(log.state, REFUSED, now=later, schedule=SCHEDULE), later)
    assert log.state.next_attempt_at == later + timedelta(seconds=30)
    assert log.state.attempts == 2 and log.state.last_status_code is None


def test_after_the_window_a_failure_gives_up_and_a_redelivery_starts_a_new_round() -> None:
    log = Log()
    log.schedule()
    late = T0 + timedelta(hours=1)
    events = delivery.decide_attempted(log.state, REFUSED, now=late, schedule=SCHEDULE)
    assert isinstance(events[-1], WebhookDeliveryFailed) and "cannot connect" in events[-1].reason
    log.append(events, late)
    assert log.state is not None and log.state.state is DeliveryState.FAILED and log.state.next_attempt_at is None
    again = late + timedelta(minutes=5)
    log.append(delivery.decide_redeliver(log.state, delivery_id=log.delivery_id, requested_by="u1"), again)
    assert log.state.pending and log.state.next_attempt_at == again and log.state.round_attempts == 0
    log.append(delivery.decide_attempted(log.state, REFUSED, now=again, schedule=SCHEDULE), again)
    assert log.state.pending and log.state.attempts == 2, "the new round retries instead of failing at once"


def test_redelivering_a_missing_delivery_is_refused_and_a_gone_event_fails_the_delivery() -> None:
    with pytest.raises(DeliveryRuleViolation):
        delivery.decide_redeliver(None, delivery_id="0" * 16, requested_by="u1")
    log = Log()
    log.schedule()
    events = delivery.decide_give_up(log.state, reason="the webhook was deleted")
    log.append(events, T0)
    assert log.state is not None and log.state.state is DeliveryState.FAILED
    assert log.state.failure_reason == "the webhook was deleted"


def test_the_delivery_id_is_the_same_for_the_same_webhook_and_event_only() -> None:
    event_id = uuid.uuid4()
    assert delivery.delivery_id_for("w1", event_id) == delivery.delivery_id_for("w1", event_id)
    assert delivery.delivery_id_for("w1", event_id) != delivery.delivery_id_for("w2", event_id)
    assert len(delivery.delivery_id_for("w1", event_id)) == 16


def test_the_listing_keeps_pending_and_failed_deliveries_and_only_the_latest_successes() -> None:
    view = WebhookDeliveries()
    failed = Log()
    failed.schedule(view=view)
    failed.append(delivery.decide_give_up(failed.state, reason="event gone"), T0, view)
    pending = Log()
    pending.schedule(view=view)
    for _ in range(WebhookDeliveries.KEEP_SUCCEEDED + 5):
        ok = Log()
        ok.schedule(view=view)
        ok.append(delivery.decide_attempted(ok.state, OK, now=T0, schedule=SCHEDULE), T0, view)
    listed = view.listed("a" * 16, limit=1000)
    assert len(listed) == WebhookDeliveries.KEEP_SUCCEEDED + 2
    assert view.get("a" * 16, failed.delivery_id) is not None and view.get("a" * 16, pending.delivery_id) is not None
    assert [d.delivery_id for d in view.listed("a" * 16, state=DeliveryState.FAILED)] == [failed.delivery_id]
    assert view.counts("a" * 16) == {"pending": 1, "succeeded": WebhookDeliveries.KEEP_SUCCEEDED + 5, "failed": 1}
    assert listed[0].state is DeliveryState.SUCCEEDED, "newest first"


def test_a_deleted_webhooks_deliveries_leave_the_listing() -> None:
    view = WebhookDeliveries()
    log = Log()
    log.schedule(view=view)
    gone = registry.envelope(WebhookDeleted(deleted_by="u1"), tenant_id="acme", stream_id="webhook-" + "a" * 16,
                             stream_version=2)
    view.apply(gone, WebhookDeleted(deleted_by="u1"))
    assert view.listed("a" * 16) == [] and view.counts("a" * 16)["pending"] == 0
    log.append(delivery.decide_attempted(log.state, OK, now=T0, schedule=SCHEDULE), T0, view)
    assert view.listed("a" * 16) == []


def test_the_timer_hands_out_due_deliveries_once_and_never_one_in_flight_twice() -> None:
    table = DueTable()
    a, b = ("acme", "a" * 16), ("acme", "b" * 16)
    table.track(a, T0 + timedelta(seconds=5))
    table.track(a, T0)  # re-tracked earlier: the old entry is stale
    table.track(b, T0 + timedelta(seconds=10))
    assert table.next_due() == T0
    assert table.take_due(T0 + timedelta(seconds=6)) == [a]
    table.track(a, T0)  # a redelivery message while it is in flight changes nothing
    assert table.take_due(T0 + timedelta(seconds=6)) == []
    table.done(a, T0 + timedelta(seconds=30))
    assert table.take_due(T0 + timedelta(seconds=11)) == [b]
    table.done(b, None)
    assert table.next_due() == T0 + timedelta(seconds=30) and table.pending == 1


async def test_one_slow_webhook_cannot_take_every_slot() -> None:
    limiter = DeliveryLimiter(8)  # a quarter each: 2 per webhook
    release = asyncio.Event()
    inside = {"slow": 0, "fast": 0}

    async def hold(webhook_id: str) -> None:
        async with limiter.slot(webhook_id):
            inside[webhook_id] += 1
            if webhook_id == "slow":
                await release.wait()

    slow = [asyncio.create_task(hold("slow")) for _ in range(10)]
    await asyncio.sleep(0.01)
    fast = [asyncio.create_task(hold("fast")) for _ in range(5)]
    await asyncio.wait_for(asyncio.gather(*fast), 1.0)
    assert inside == {"slow": 2, "fast": 5}
    release.set()
    await asyncio.gather(*slow)
    assert inside["slow"] == 10
