"""The server itself: liveness, readiness, its OpenAPI document, Prometheus metrics, and the event stream."""

from __future__ import annotations

from typing import Any

from elasticthought.client.calls import Call, Plan, fetch, send, text
from elasticthought.client.errors import UnexpectedAnswer
from elasticthought.client.models.events import ServerEvent
from elasticthought.client.models.meta import Health, Readiness
from elasticthought.client.sse import SseDecoder
from elasticthought.client.streams import StreamSpec


def healthz() -> Plan[Health]:
    """Liveness: the process serves HTTP."""
    return fetch(Call("GET", "/healthz"), Health)


def readyz() -> Plan[Readiness]:
    """Readiness: whether every backend (event store, bus, blob store) answered just now."""
    reply = yield from send(Call("GET", "/readyz", ok=(503,)))
    body: dict[str, Any] = reply.body if isinstance(reply.body, dict) else {}
    checks = body.get("checks") if isinstance(body.get("checks"), dict) else {}
    return Readiness(ready=reply.status == 200, checks={str(k): str(v) for k, v in (checks or {}).items()},
                     failed=[str(name) for name in body.get("failed", [])])


def openapi() -> Plan[dict[str, Any]]:
    """The API's OpenAPI 3.1 document."""
    reply = yield from send(Call("GET", "/v1/openapi.json"))
    if not isinstance(reply.body, dict):
        raise UnexpectedAnswer("GET /v1/openapi.json", "not a JSON object")
    return reply.body


def prometheus_metrics() -> Plan[str]:
    """The deployment's Prometheus metrics as exposition text (administrator only)."""
    return text(Call("GET", "/metrics", expect="text"))


def events(last_event_id: int | None = None) -> StreamSpec[ServerEvent]:
    """The tenant's events from after `last_event_id` (or the first), then live; never ends by itself.

    A broken connection is resumed with `Last-Event-ID`, so no event is missed or repeated."""
    return StreamSpec(Call("GET", "/v1/events", expect="text"), lambda: SseDecoder(last_event_id), resumable=True)
