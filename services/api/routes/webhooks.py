"""Webhooks: register a URL for the tenant's events, list and delete them, see and repeat deliveries.

Any user of a tenant may manage its webhooks, as any user may read every event of the tenant
(`/v1/events`): a webhook shows its receiver nothing its creator could not read already. The
secret is returned once, when it was generated, and never listed. Bad input (a malformed or
private URL, an unknown event type) is a 422 naming the field, and nothing is created.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from services.api.keys import BACKENDS, PUBLISHER, READ_MODEL, SETTINGS
from services.api.principal import require_user
from services.api.problems import ApiProblem
from services.api.projections.webhooks import WebhookDeliveries, Webhooks
from services.api.readmodel import TenantView
from services.api.routing import RouteTable, read_body, read_query, reply
from services.api.schemas.webhooks import (
    CreateWebhook,
    DeliveryCounts,
    DeliveryListQuery,
    RedeliveryAccepted,
    Webhook,
    WebhookCreated,
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookList,
)
from services.api.tokens import is_id, new_id
from services.api.webhooks.patterns import UnknownEventPattern, check_patterns, deliverable_types
from services.api.webhooks.secret_store import new_secret, save_secret, secret_path
from services.api.webhooks.urls import UrlRefused, check_url
from shared.domain import delivery, streams, webhook
from shared.domain.delivery import Delivery, DeliveryRuleViolation, DeliveryState
from shared.domain.webhook import WebhookRuleViolation
from shared.events import Event
from shared.events.webhooks import WebhookRegistered

log = structlog.get_logger(__name__)

table = RouteTable("webhooks")


@table.post("/v1/webhooks", summary="Register a webhook: the tenant's events, signed, posted to a URL",
            auth="tenant", body=CreateWebhook, response=WebhookCreated, status=201)
async def create_webhook(request: web.Request) -> web.Response:
    """422 (with `errors` naming `url` or `events`) for a URL that is malformed, not http(s), longer than
    2000 characters or (unless the deployment allows it) pointing to a private, loopback or link-local
    address, and for an event name or pattern that matches no event type (`event_types` lists them)."""
    user = require_user(request)
    body = await read_body(request, CreateWebhook)
    try:
        events = check_patterns(body.events)
    except UnknownEventPattern as e:
        raise _invalid("events", str(e), event_types=deliverable_types()) from None
    try:
        url = await check_url(body.url, allow_private=request.app[SETTINGS].webhook_allow_private)
    except UrlRefused as e:
        raise _invalid("url", str(e)) from None
    webhook_id, secret = new_id(), body.secret or new_secret()
    blobs = request.app[BACKENDS].blobs
    path = await save_secret(blobs, user.tenant_id, webhook_id, secret)
    event = WebhookRegistered(webhook_id=webhook_id, url=url, events=events, secret_path=path,
                              created_by=user.user_id)

    def decide(state: webhook.Webhook | None) -> list[Event]:
        return webhook.decide_register(state, event)

    try:
        envelopes = await streams.execute(request.app[BACKENDS].store, request.app[PUBLISHER],
                                          tenant_id=user.tenant_id, stream_id=webhook.webhook_stream(webhook_id),
                                          evolve=webhook.evolve, decide=decide)
    except Exception:
        await blobs.delete(user.tenant_id, path)  # nothing half-created: no secret without its webhook
        raise
    view = await request.app[READ_MODEL].written(user.tenant_id, envelopes)
    hook = _found(view, webhook_id)
    return reply(WebhookCreated(**_public(hook).model_dump(), secret=None if body.secret else secret), status=201)


@table.get("/v1/webhooks", summary="The tenant's webhooks, oldest first (never their secrets)", auth="tenant",
           response=WebhookList)
async def list_webhooks(request: web.Request) -> web.Response:
    user = require_user(request)
    view = await request.app[READ_MODEL].catch_up(user.tenant_id)
    return reply(WebhookList(items=[_public(hook) for hook in view.get(Webhooks)]))


@table.get("/v1/webhooks/{id}", summary="One webhook, with its deliveries counted by state", auth="tenant",
           response=Webhook)
async def get_webhook(request: web.Request) -> web.Response:
    user = require_user(request)
    view = await request.app[READ_MODEL].catch_up(user.tenant_id)
    hook = _found(view, request.match_info["id"])
    counts = DeliveryCounts(**view.get(WebhookDeliveries).counts(hook.webhook_id))
    return reply(_public(hook).model_copy(update={"deliveries": counts}))


@table.delete("/v1/webhooks/{id}", summary="Delete a webhook; its pending deliveries are not sent", auth="tenant",
              status=204)
async def delete_webhook(request: web.Request) -> web.Response:
    user = require_user(request)
    webhook_id = request.match_info["id"]
    if not is_id(webhook_id):
        raise _missing(webhook_id)

    def decide(state: webhook.Webhook | None) -> list[Event]:
        return webhook.decide_delete(state, webhook_id=webhook_id, deleted_by=user.user_id)

    store, blobs = request.app[BACKENDS].store, request.app[BACKENDS].blobs
    try:
        envelopes = await streams.execute(store, request.app[PUBLISHER], tenant_id=user.tenant_id,
                                          stream_id=webhook.webhook_stream(webhook_id), evolve=webhook.evolve,
                                          decide=decide)
    except WebhookRuleViolation:
        raise _missing(webhook_id) from None
    view = await request.app[READ_MODEL].written(user.tenant_id, envelopes)
    try:
        await blobs.delete(user.tenant_id, secret_path(webhook_id))
    except Exception:  # the webhook is deleted; a leftover secret is never read again
        log.exception("webhook_secret_delete_failed", tenant_id=view.tenant_id, webhook_id=webhook_id)
    return web.Response(status=204)


@table.get("/v1/webhooks/{id}/deliveries", summary="The webhook's deliveries, newest first", auth="tenant",
           query=DeliveryListQuery, response=WebhookDeliveryList)
async def list_deliveries(request: web.Request) -> web.Response:
    """State, attempts, the last status code or error, and while pending when the next attempt is due.
    A failed delivery stays listed until it is redelivered."""
    user = require_user(request)
    query = read_query(request, DeliveryListQuery)
    view = await request.app[READ_MODEL].catch_up(user.tenant_id)
    hook = _found(view, request.match_info["id"])
    state = DeliveryState(query.state) if query.state is not None else None
    found = view.get(WebhookDeliveries).listed(hook.webhook_id, state=state, limit=query.limit)
    return reply(WebhookDeliveryList(items=[_delivery(d) for d in found]))


@table.post("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", auth="tenant", status=202,
            summary="Send a delivery again now, with a fresh retry schedule", response=RedeliveryAccepted)
async def redeliver(request: web.Request) -> web.Response:
    """For a failed delivery, or to repeat a successful one; the receiver gets the same event id and
    delivery id again."""
    user = require_user(request)
    view = await request.app[READ_MODEL].catch_up(user.tenant_id)
    hook = _found(view, request.match_info["id"])
    delivery_id = request.match_info["delivery_id"]
    if not is_id(delivery_id):
        raise _no_delivery(delivery_id)

    def decide(state: Delivery | None) -> list[Event]:
        if state is not None and state.webhook_id != hook.webhook_id:
            state = None  # another webhook's delivery is not this one's to repeat
        return delivery.decide_redeliver(state, delivery_id=delivery_id, requested_by=user.user_id)

    try:
        envelopes = await streams.execute(request.app[BACKENDS].store, request.app[PUBLISHER],
                                          tenant_id=user.tenant_id, stream_id=delivery.delivery_stream(delivery_id),
                                          evolve=delivery.evolve, decide=decide)
    except DeliveryRuleViolation:
        raise _no_delivery(delivery_id) from None
    await request.app[READ_MODEL].written(user.tenant_id, envelopes)
    return reply(RedeliveryAccepted(id=delivery_id, state="pending"), status=202)


def _found(view: TenantView, webhook_id: str) -> webhook.Webhook:
    found = view.get(Webhooks).get(webhook_id) if is_id(webhook_id) else None
    if found is None:
        raise _missing(webhook_id)
    return found


def _missing(webhook_id: str) -> ApiProblem:
    return ApiProblem(404, f"no webhook {webhook_id}")


def _no_delivery(delivery_id: str) -> ApiProblem:
    return ApiProblem(404, f"no delivery {delivery_id} of this webhook")


def _invalid(field: str, message: str, **extra: Any) -> ApiProblem:
    return ApiProblem(422, message, title="Unprocessable Content", errors=[{"field": field, "message": message}],
                      **extra)


def _public(hook: webhook.Webhook) -> Webhook:
    return Webhook(id=hook.webhook_id, url=hook.url, events=list(hook.events), created_at=hook.created_at,
                   created_by=hook.created_by)


def _delivery(d: Delivery) -> WebhookDelivery:
    return WebhookDelivery(id=d.delivery_id, event_id=str(d.event_id), event_type=d.event_type, state=d.state.value,
                           attempts=d.attempts, created_at=d.created_at, last_attempt_at=d.last_attempt_at,
                           last_status_code=d.last_status_code, last_error=d.last_error,
                           next_attempt_at=d.next_attempt_at if d.pending else None, failure_reason=d.failure_reason)
