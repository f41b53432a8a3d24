"""Webhooks and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from services.api.schemas.common import ApiModel
from shared.events.webhooks import MAX_URL_LENGTH

DeliveryStateName = Literal["pending", "succeeded", "failed"]


class CreateWebhook(ApiModel):
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, description=(
        "http or https; its host must resolve to public addresses unless the deployment allows private ones"))
    events: list[str] = Field(min_length=1, max_length=50, description=(
        'event type names or patterns with `*`: "TrainingJobSucceeded", "Dataset*", "*"'))
    secret: str | None = Field(default=None, min_length=16, max_length=200, description=(
        "the HMAC-SHA256 key of the signature; omitted: one is generated and returned once"))


class DeliveryCounts(ApiModel):
    pending: int
    succeeded: int
    failed: int


class Webhook(ApiModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime
    created_by: str
    deliveries: DeliveryCounts | None = Field(default=None, description="only in GET /v1/webhooks/{id}")


class WebhookCreated(Webhook):
    secret: str | None = Field(description="the generated secret, shown this once; null when the request gave one")


class WebhookList(ApiModel):
    items: list[Webhook]


class DeliveryListQuery(ApiModel):
    state: DeliveryStateName | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class WebhookDelivery(ApiModel):
    id: str
    event_id: str
    event_type: str
    state: DeliveryStateName
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="while pending: when the next attempt is due")
    failure_reason: str | None


class WebhookDeliveryList(ApiModel):
    items: list[WebhookDelivery] = Field(description=(
        "newest first: every pending and failed delivery, and the latest 100 successful ones"))


class RedeliveryAccepted(ApiModel):
    id: str
    state: Literal["pending"]
