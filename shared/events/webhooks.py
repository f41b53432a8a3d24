"""Webhook and webhook-delivery events (tenant logs; streams `webhook-<id>` and `delivery-<id>`).

A webhook is a tenant's URL that receives the tenant's events as signed HTTP POSTs. Each
(webhook, event) pair is one delivery with a stream of its own, so the attempts of thousands of
deliveries never contend for one stream version, and a delivery's id is derived from the pair, so
a redelivered bus message cannot schedule it twice.

The signing secret is not in these events: every user of a tenant reads its log (`/v1/events`) and
trusted integrations read the events exchange, so the secret lives in the tenant's blob store
(`secret_path`), written before `WebhookRegistered` is appended.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from shared.events.base import Event
from shared.events.registry import registry

MAX_URL_LENGTH = 2000


@registry.event("WebhookRegistered", version=1)
class WebhookRegistered(Event):
    webhook_id: str
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    events: list[str] = Field(min_length=1, max_length=100)  # type names or `*` patterns
    secret_path: str  # the signing secret's blob key in the tenant's blob store
    created_by: str


@registry.event("WebhookDeleted", version=1)
class WebhookDeleted(Event):
    deleted_by: str


@registry.event("WebhookDeliveryScheduled", version=1)
class WebhookDeliveryScheduled(Event):
    """One event to post to one webhook; the event itself is read from its stream when sent."""

    delivery_id: str
    webhook_id: str
    event_id: uuid.UUID
    event_type: str
    event_stream_id: str
    event_stream_version: int = Field(ge=1)
    event_position: int = Field(ge=1)  # its place in the tenant log: read back with one indexed query


@registry.event("WebhookDeliveryAttempted", version=1)
class WebhookDeliveryAttempted(Event):
    """One POST: the receiver's status code, or why there was none; when the next attempt is due."""

    attempt: int = Field(ge=1)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=1000)
    duration_s: float = Field(ge=0)
    next_attempt_at: datetime | None = None  # None: no retry follows (succeeded, or given up)


@registry.event("WebhookDeliverySucceeded", version=1)
class WebhookDeliverySucceeded(Event):
    attempt: int = Field(ge=1)


@registry.event("WebhookDeliveryFailed", version=1)
class WebhookDeliveryFailed(Event):
    """Retries are over; the delivery stays listed as failed until someone asks for a redelivery."""

    attempts: int = Field(ge=0)
    reason: str = Field(max_length=1000)


@registry.event("WebhookRedeliveryRequested", version=1)
class WebhookRedeliveryRequested(Event):
    """Send again from now, with a fresh retry schedule (after a failure, or to repeat a success)."""

    requested_by: str


WEBHOOK_TYPES = frozenset(cls.type_name for cls in (WebhookRegistered, WebhookDeleted))
DELIVERY_TYPES = frozenset(cls.type_name for cls in (
    WebhookDeliveryScheduled, WebhookDeliveryAttempted, WebhookDeliverySucceeded, WebhookDeliveryFailed,
    WebhookRedeliveryRequested,
))
