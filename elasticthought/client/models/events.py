"""One server-sent event of the tenant's log, as `GET /v1/events` streams it."""

from __future__ import annotations

from typing import Any

from elasticthought.client.models.base import ClientModel


class ServerEvent(ClientModel):
    """`id` is the event's position in the tenant's log (what a reconnect resumes after); `envelope`
    is the stored event: `type`, `stream_id`, `occurred_at`, `data`, ..."""

    id: int | None
    type: str
    envelope: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        found = self.envelope.get("data")
        return found if isinstance(found, dict) else {}

    @property
    def stream_id(self) -> str:
        return str(self.envelope.get("stream_id", ""))
