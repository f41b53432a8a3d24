"""The retry schedule: 10 s, 30 s, 1 min, ... with jitter, retrying for at least the window (an hour)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.api.webhooks.backoff import RetrySchedule
from shared.domain import delivery
from shared.domain.delivery import AttemptOutcome, DeliveryState
from shared.events import Event, registry
from shared.events.webhooks import WebhookDeliveryFailed, WebhookDeliveryScheduled

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DOWN = AttemptOutcome(status_code=None, error="cannot connect", duration_s=0.01)


def test_default_schedule_is_10s_30s_1m_2m_5m_10m_20m_30m_then_every_30m_for_an_hour() -> None:
    schedule = RetrySchedule()
    minutes = [schedule.nominal(n).total_seconds() / 60 for n in range(1, 11)]
    assert minutes == pytest.approx([1 / 6, 0.5, 1, 2, 5, 10, 20, 30, 30, 30])
    assert schedule.window == timedelta(hours=1)


def test_everything_scales_with_the_base() -> None:
    schedule = RetrySchedule(base_s=0.01)
    assert schedule.nominal(2) == timedelta(seconds=0.03)
    assert schedule.window == timedelta(seconds=3.6)


@pytest.mark.parametrize(("draw", "scale"), [(0.0, 0.8), (0.5, 1.0), (0.999999, 1.2)])
def test_jitter_stays_within_twenty_percent(draw: float, scale: float) -> None:
    schedule = RetrySchedule(random=_constant(draw))
    assert schedule.delay(3).total_seconds() == pytest.approx(60 * scale, rel=1e-4)


def test_a_receiver_that_stays_down_is_retried_for_at_least_the_window_then_the_delivery_fails() -> None:
    for draw in (0.0, 1.0):  # the shortest and the longest jitter
        schedule = RetrySchedule(random=_constant(draw))
        state: delivery.Delivery | None = _scheduled()
        now, events = T0, list[Event]()
        while state is not None and state.pending:
            now = state.next_attempt_at or now
            events = delivery.decide_attempted(state, DOWN, now=now, schedule=schedule)
            state = _fold(state, events, now)
        assert state is not None and state.state is DeliveryState.FAILED
        assert now - T0 >= timedelta(hours=1)
        assert now - T0 < timedelta(hours=1, minutes=40)
        assert isinstance(events[-1], WebhookDeliveryFailed) and "gave up after" in events[-1].reason
        assert 9 <= state.attempts <= 12


def _constant(value: float) -> Callable[[], float]:
    return lambda: value


def _scheduled() -> delivery.Delivery:
    event = WebhookDeliveryScheduled(delivery_id="d" * 16, webhook_id="w" * 16, event_id=uuid.uuid4(),
                                     event_type="TrainingJobSucceeded", event_stream_id="job-1",
                                     event_stream_version=9, event_position=42)
    state = _fold(None, [event], T0)
    assert state is not None
    return state


def _fold(state: delivery.Delivery | None, events: list[Event], at: datetime) -> delivery.Delivery | None:
    version = state.version if state is not None else 0
    for event in events:
        version += 1
        envelope = registry.envelope(event, tenant_id="acme", stream_id="delivery-" + "d" * 16,
                                     stream_version=version).model_copy(update={"occurred_at": at})
        state = delivery.evolve(state, envelope, event)
    return state
