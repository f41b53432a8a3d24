"""The aiohttp application: middlewares, routes, and the clients it opens and closes.

Backends not handed in are opened in a `cleanup_ctx` when the app starts and closed in reverse
order when it stops; handed-in ones (embedded mode shares one set between all services) are used
and left to their owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from services.api.auth import TokenVerifier, auth_middleware
from services.api.keys import (
    BACKENDS,
    BUS_PROBE,
    CLASSIFIERS,
    LOG_TAIL,
    PUBLISHER,
    READ_MODEL,
    SETTINGS,
    SOLVER_CHECKS,
    VERIFIER,
)
from services.api.problems import problem_middleware
from services.api.readiness import BusProbe
from services.api.readmodel import ReadModel
from services.api.readmodel.registry import PROJECTIONS
from services.api.routes import add_routes
from services.api.training.tail import LogTail
from services.api.webhooks.lifecycle import webhooks_ctx
from services.worker.classify.cache import ClassifierCache
from shared.blobs import BlobStore
from shared.bus import Bus
from shared.bus.outbox import EventPublisher
from shared.eventstore import EventStore
from shared.runtime import open_backends
from shared.settings import Settings

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def create_app(
    settings: Settings, *, store: EventStore | None = None, bus: Bus | None = None, blobs: BlobStore | None = None,
) -> web.Application:
    app = web.Application(middlewares=[problem_middleware, auth_middleware(lambda r: r.app[VERIFIER])])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_backends(store, bus, blobs))
    app.cleanup_ctx.append(_bus_probe)
    app.cleanup_ctx.append(_pipeline)
    app.cleanup_ctx.append(_log_tail)
    app.cleanup_ctx.append(webhooks_ctx)
    app.on_shutdown.append(_end_streams)
    add_routes(app)
    return app


def _backends(store: EventStore | None, bus: Bus | None, blobs: BlobStore | None) -> CleanupCtx:
    async def backends_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_backends(app[SETTINGS], store=store, bus=bus, blobs=blobs) as backends:
            app[BACKENDS] = backends
            yield

    return backends_ctx


async def _bus_probe(app: web.Application) -> AsyncIterator[None]:
    probe = BusProbe(app[BACKENDS].bus, queue_prefix=app[SETTINGS].queue_prefix)
    await probe.start()
    app[BUS_PROBE] = probe
    try:
        yield
    finally:
        await probe.stop()


async def _pipeline(app: web.Application) -> AsyncIterator[None]:
    """What the v1 routes share: the outbox publisher, the read model and the token verifier."""
    settings, backends = app[SETTINGS], app[BACKENDS]
    admin = settings.admin_token.get_secret_value() if settings.admin_token is not None else None
    app[PUBLISHER] = EventPublisher(backends.store, backends.bus)
    app[READ_MODEL] = ReadModel(backends.store, PROJECTIONS, max_tenants=settings.api_read_model_tenants)
    app[VERIFIER] = TokenVerifier(backends.store, admin, ttl_s=settings.api_token_cache_s)
    app[SOLVER_CHECKS] = asyncio.Semaphore(2)
    app[CLASSIFIERS] = ClassifierCache(settings.classifier_cache_size)
    yield


async def _log_tail(app: web.Application) -> AsyncIterator[None]:
    """Wake-ups for the live streams (SSE, followed job logs), polled through the read model."""
    read_model = app[READ_MODEL]

    async def head_of(tenant_id: str) -> int:
        return (await read_model.catch_up(tenant_id)).checkpoint

    tail = LogTail(head_of, poll_s=app[SETTINGS].api_stream_poll_s)
    app[LOG_TAIL] = tail
    try:
        yield
    finally:
        await tail.close()


async def _end_streams(app: web.Application) -> None:
    """On shutdown, before requests are drained: live streams end now instead of at the drain timeout."""
    tail = app.get(LOG_TAIL)
    if tail is not None:
        tail.shut_down()
