"""Webhooks: register, list, show, delete; their deliveries, and sending one again."""

from __future__ import annotations

from collections.abc import Sequence

from elasticthought.client.calls import Call, Plan, fetch, fetch_items, nothing, query, segment
from elasticthought.client.models.webhooks import RedeliveryAccepted, Webhook, WebhookCreated, WebhookDelivery


def create_webhook(url: str, events: Sequence[str], *, secret: str | None = None) -> Plan[WebhookCreated]:
    """Post the tenant's events whose type matches `events` (names or `*` patterns) to `url`, signed.

    Without `secret` the server makes one and returns it this once (`WebhookCreated.secret`)."""
    body: dict[str, object] = {"url": url, "events": list(events)}
    if secret is not None:
        body["secret"] = secret
    return fetch(Call("POST", "/v1/webhooks", json=body), WebhookCreated)


def list_webhooks() -> Plan[list[Webhook]]:
    """The tenant's webhooks (never their secrets)."""
    return fetch_items(Call("GET", "/v1/webhooks"), Webhook)


def get_webhook(webhook_id: str) -> Plan[Webhook]:
    """One webhook, with its deliveries counted by state."""
    return fetch(Call("GET", f"/v1/webhooks/{segment(webhook_id)}"), Webhook)


def delete_webhook(webhook_id: str) -> Plan[None]:
    """Delete a webhook; its pending deliveries are not sent."""
    return nothing(Call("DELETE", f"/v1/webhooks/{segment(webhook_id)}", expect="empty"))


def list_deliveries(webhook_id: str, *, state: str | None = None,
                    limit: int | None = None) -> Plan[list[WebhookDelivery]]:
    """The webhook's deliveries, newest first: state, attempts, last status or error, next attempt."""
    return fetch_items(Call("GET", f"/v1/webhooks/{segment(webhook_id)}/deliveries",
                            params=query(state=state, limit=limit)), WebhookDelivery)


def redeliver(webhook_id: str, delivery_id: str) -> Plan[RedeliveryAccepted]:
    """Send a delivery again now, with a fresh retry schedule."""
    return fetch(Call("POST", f"/v1/webhooks/{segment(webhook_id)}/deliveries/{segment(delivery_id)}/redeliver"),
                 RedeliveryAccepted)
