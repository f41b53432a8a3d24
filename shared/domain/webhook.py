"""The webhook aggregate (stream `webhook-<id>`): a tenant's URL for its events, until deleted.

Pure functions, no I/O. The API registers and deletes webhooks; which events a webhook receives
is decided by `services.api.webhooks.patterns` on the `events` it was registered with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.events import Envelope, Event
from shared.events.webhooks import WebhookDeleted, WebhookRegistered


class WebhookRuleViolation(Exception):
    def __init__(self, webhook_id: str, action: str, why: str) -> None:
        self.webhook_id = webhook_id
        self.action = action
        self.why = why
        super().__init__(f"webhook {webhook_id}: cannot {action}: {why}")

    def __repr__(self) -> str:
        return f"WebhookRuleViolation({self.webhook_id!r}, {self.action!r}, {self.why!r})"


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    url: str
    events: tuple[str, ...]
    secret_path: str
    created_by: str
    created_at: datetime
    registered_position: int  # the registration's place in the tenant log: earlier events are not sent
    version: int
    deleted: bool = False


def webhook_stream(webhook_id: str) -> str:
    return f"webhook-{webhook_id}"


def evolve(webhook: Webhook | None, envelope: Envelope, event: Event) -> Webhook | None:
    if isinstance(event, WebhookRegistered):
        return Webhook(event.webhook_id, event.url, tuple(event.events), event.secret_path, event.created_by,
                       envelope.occurred_at, envelope.position or 0, envelope.stream_version)
    if webhook is None:
        return None
    if isinstance(event, WebhookDeleted):
        return replace(webhook, deleted=True, version=envelope.stream_version)
    return replace(webhook, version=envelope.stream_version)


def decide_register(webhook: Webhook | None, event: WebhookRegistered) -> list[Event]:
    if webhook is not None:
        raise WebhookRuleViolation(event.webhook_id, "register", "it exists already")
    return [event]


def decide_delete(webhook: Webhook | None, *, webhook_id: str, deleted_by: str) -> list[Event]:
    """Deleting a missing or deleted webhook is refused (the API answers 404 for both)."""
    if webhook is None or webhook.deleted:
        raise WebhookRuleViolation(webhook_id, "delete", "there is no such webhook")
    return [WebhookDeleted(deleted_by=deleted_by)]
