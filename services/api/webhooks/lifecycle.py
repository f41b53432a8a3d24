"""Starts and stops the webhook machinery with the API app (a `cleanup_ctx`).

On start: the matcher's subscription to the shared `webhooks` queue, the sender's connection pool,
and the dispatcher in a task of its own (standby until it holds the lease). On stop, in reverse:
the matcher stops taking events, the dispatcher finishes the attempts in flight (bounded by the
attempt timeout) and releases its lease so another instance takes over at once. A dispatcher
that failed is reported here, at shutdown, rather than vanishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
from aiohttp import web

from services.api.keys import BACKENDS, PUBLISHER, READ_MODEL, SETTINGS
from services.api.webhooks import dispatcher, matcher
from services.api.webhooks.attempts import Attempts
from services.api.webhooks.backoff import RetrySchedule
from services.api.webhooks.limiter import DeliveryLimiter
from services.api.webhooks.secret_store import SecretCache
from services.api.webhooks.sender import Sender
from services.scheduler.lease_keeper import LeaseKeeper
from shared.bus.outbox import EventPublisher
from shared.runtime import Backends
from shared.settings import Settings

log = structlog.get_logger(__name__)


async def webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, backends = app[SETTINGS], app[BACKENDS]
    async with contextlib.AsyncExitStack() as stack:
        matching = matcher.EventMatcher(app[PUBLISHER], app[READ_MODEL])
        subscription = await backends.bus.subscribe(settings.queue_prefix + matcher.QUEUE, matching,
                                                    topics=matcher.TOPICS, prefetch=settings.amqp_prefetch)
        stack.push_async_callback(subscription.stop)
        sender = await stack.enter_async_context(Sender(
            timeout_s=settings.webhook_timeout_s, allow_private=settings.webhook_allow_private,
            max_connections=settings.webhook_concurrency))
        sending = build_dispatcher(settings, backends, app[PUBLISHER], sender)
        stopping = asyncio.Event()
        task = asyncio.create_task(sending.run(stopping), name=sending.name)
        # Within the process's shutdown grace: an attempt cut short stays pending and is sent again.
        stack.push_async_callback(_finish, task, min(settings.webhook_timeout_s + 1.0, settings.shutdown_grace_s / 4))
        stack.callback(stopping.set)  # exits run first: stop, then wait for the attempts in flight
        yield


def build_dispatcher(settings: Settings, backends: Backends, publisher: EventPublisher,
                     sender: Sender) -> dispatcher.DeliveryDispatcher:
    owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    keeper = LeaseKeeper(backends.store, publisher, owner, timedelta(seconds=settings.webhook_lease_s),
                         stream=dispatcher.LEASE_STREAM)
    attempts = Attempts(backends.store, publisher, SecretCache(backends.blobs), sender,
                        RetrySchedule(base_s=settings.webhook_retry_base_s))
    return dispatcher.DeliveryDispatcher(backends.store, backends.bus, keeper, attempts,
                                         DeliveryLimiter(settings.webhook_concurrency),
                                         queue=settings.queue_prefix + dispatcher.QUEUE)


async def _finish(task: asyncio.Task[None], grace_s: float) -> None:
    done, _ = await asyncio.wait([task], timeout=grace_s)
    if not done:
        log.warning("webhook_dispatcher_stop_timed_out", grace_s=grace_s)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return
    error = task.exception()
    if error is not None:
        log.error("webhook_dispatcher_failed", exc_info=error)
