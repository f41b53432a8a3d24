"""Webhooks (the tenant's events posted, signed, to a URL) and their deliveries."""

from __future__ import annotations

from datetime import datetime

from elasticthought.client.models.base import ClientModel


class DeliveryCounts(ClientModel):
    pending: int
    succeeded: int
    failed: int


class Webhook(ClientModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime
    created_by: str
    deliveries: DeliveryCounts | None = None  # only from get_webhook


class WebhookCreated(Webhook):
    """`secret` is the generated signing key, shown this once (None when you gave one)."""

    secret: str | None = None


class WebhookDelivery(ClientModel):
    id: str
    event_id: str
    event_type: str
    state: str  # pending, succeeded, failed
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    failure_reason: str | None = None


class RedeliveryAccepted(ClientModel):
    id: str
    state: str
