"""The webhook delivery aggregate (stream `delivery-<id>`): one event on its way to one webhook.

Pure functions, no I/O, time and the retry schedule passed in. A delivery is pending from the moment
it is scheduled; each attempt is recorded with its result and, when it failed, the time of the next
one. Retries go on until the schedule's window has passed since the round began, then the delivery
fails and stays failed (listed, never dropped) until a redelivery starts a new round.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from shared.events import Envelope, Event
from shared.events.webhooks import (
    WebhookDeliveryAttempted,
    WebhookDeliveryFailed,
    WebhookDeliveryScheduled,
    WebhookDeliverySucceeded,
    WebhookRedeliveryRequested,
)


class DeliveryState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DeliveryRuleViolation(Exception):
    def __init__(self, delivery_id: str, action: str, why: str) -> None:
        self.delivery_id = delivery_id
        self.action = action
        self.why = why
        super().__init__(f"delivery {delivery_id}: cannot {action}: {why}")

    def __repr__(self) -> str:
        return f"DeliveryRuleViolation({self.delivery_id!r}, {self.action!r}, {self.why!r})"


class Schedule(Protocol):
    """When to retry: the delay after the n-th failed attempt of a round, and how long a round lasts."""

    @property
    def window(self) -> timedelta: ...

    def delay(self, failed_attempts: int) -> timedelta: ...


@dataclass(frozen=True)
class AttemptOutcome:
    """What one POST came to: the receiver's status code, or the error that kept it from answering."""

    status_code: int | None
    error: str | None
    duration_s: float

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    webhook_id: str
    event_id: uuid.UUID
    event_type: str
    event_stream_id: str
    event_stream_version: int
    event_position: int
    created_at: datetime
    version: int
    round_started_at: datetime  # when the current round (the first one, or a redelivery) began
    next_attempt_at: datetime | None  # set while pending
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0  # over every round
    round_attempts: int = 0
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    failure_reason: str | None = None

    @property
    def pending(self) -> bool:
        return self.state is DeliveryState.PENDING


def delivery_stream(delivery_id: str) -> str:
    return f"delivery-{delivery_id}"


def delivery_id_for(webhook_id: str, event_id: uuid.UUID) -> str:
    """The one delivery of an event to a webhook: the same id however often the event is consumed."""
    return hashlib.sha256(f"{webhook_id}/{event_id}".encode()).hexdigest()[:16]


def evolve(delivery: Delivery | None, envelope: Envelope, event: Event) -> Delivery | None:
    at = envelope.occurred_at
    if isinstance(event, WebhookDeliveryScheduled):
        return Delivery(event.delivery_id, event.webhook_id, event.event_id, event.event_type, event.event_stream_id,
                        event.event_stream_version, event.event_position, at, envelope.stream_version,
                        round_started_at=at, next_attempt_at=at)
    if delivery is None:
        return None
    delivery = replace(delivery, version=envelope.stream_version)
    if isinstance(event, WebhookDeliveryAttempted):
        return replace(delivery, attempts=event.attempt, round_attempts=delivery.round_attempts + 1,
                       last_attempt_at=at, last_status_code=event.status_code, last_error=event.error,
                       next_attempt_at=event.next_attempt_at)
    if isinstance(event, WebhookDeliverySucceeded):
        return replace(delivery, state=DeliveryState.SUCCEEDED, next_attempt_at=None, failure_reason=None)
    if isinstance(event, WebhookDeliveryFailed):
        return replace(delivery, state=DeliveryState.FAILED, next_attempt_at=None, failure_reason=event.reason)
    if isinstance(event, WebhookRedeliveryRequested):
        return replace(delivery, state=DeliveryState.PENDING, round_started_at=at, round_attempts=0,
                       next_attempt_at=at, failure_reason=None)
    return delivery


def decide_attempted(delivery: Delivery | None, outcome: AttemptOutcome, *, now: datetime,
                     schedule: Schedule) -> list[Event]:
    """Record an attempt: success, a retry at the schedule's next time, or (window over) failure.

    Nothing is recorded for a delivery that is no longer pending: another sender finished it.
    """
    if delivery is None or not delivery.pending:
        return []
    attempt = delivery.attempts + 1
    if outcome.succeeded:
        return [WebhookDeliveryAttempted(attempt=attempt, status_code=outcome.status_code, error=outcome.error,
                                         duration_s=outcome.duration_s),
                WebhookDeliverySucceeded(attempt=attempt)]
    if now - delivery.round_started_at >= schedule.window:
        attempted = WebhookDeliveryAttempted(attempt=attempt, status_code=outcome.status_code, error=outcome.error,
                                             duration_s=outcome.duration_s)
        return [attempted, WebhookDeliveryFailed(attempts=attempt, reason=_gave_up(delivery, outcome, schedule))]
    next_at = now + schedule.delay(delivery.round_attempts + 1)
    return [WebhookDeliveryAttempted(attempt=attempt, status_code=outcome.status_code, error=outcome.error,
                                     duration_s=outcome.duration_s, next_attempt_at=next_at)]


def decide_give_up(delivery: Delivery | None, *, reason: str) -> list[Event]:
    """Fail a pending delivery that can never be sent (its webhook or its event is gone)."""
    if delivery is None or not delivery.pending:
        return []
    return [WebhookDeliveryFailed(attempts=delivery.attempts, reason=reason[:1000])]


def decide_redeliver(delivery: Delivery | None, *, delivery_id: str, requested_by: str) -> list[Event]:
    if delivery is None:
        raise DeliveryRuleViolation(delivery_id, "redeliver", "there is no such delivery")
    return [WebhookRedeliveryRequested(requested_by=requested_by)]


def _gave_up(delivery: Delivery, outcome: AttemptOutcome, schedule: Schedule) -> str:
    last = outcome.error or f"the receiver answered {outcome.status_code}"
    hours = schedule.window.total_seconds() / 3600
    return (f"gave up after {delivery.round_attempts + 1} attempts over {hours:g} h; last: {last}")[:1000]
