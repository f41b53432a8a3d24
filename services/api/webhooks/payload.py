"""What a webhook receives: the JSON body of one event and the headers that describe and sign it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.api.webhooks.signing import HEADER as SIGNATURE_HEADER
from services.api.webhooks.signing import signature
from shared.events import Envelope

EVENT_HEADER = "X-ElasticThought-Event"
DELIVERY_HEADER = "X-ElasticThought-Delivery"
USER_AGENT = "ElasticThought-Webhooks/1"


class WebhookBody(BaseModel):
    """`{id, type, tenant_id, stream_id, occurred_at, data}`; `id` is the event id (the same on redelivery)."""

    # A diverged trainer's loss is NaN: sent as the string "NaN", since JSON has no NaN.
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="strings")

    id: uuid.UUID
    type: str
    tenant_id: str
    stream_id: str
    occurred_at: datetime
    data: dict[str, Any]


def body_of(envelope: Envelope) -> bytes:
    return WebhookBody(id=envelope.event_id, type=envelope.type, tenant_id=envelope.tenant_id,
                       stream_id=envelope.stream_id, occurred_at=envelope.occurred_at,
                       data=envelope.data).model_dump_json().encode()


def headers_of(*, event_type: str, delivery_id: str, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event_type,
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: signature(secret, body, timestamp),
    }
