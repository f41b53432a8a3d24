"""The webhook sender: one API instance at a time (a lease) posts every due delivery.

Standby, an instance tries for the lease every third of its duration. Holding it, it subscribes to
its queue (new deliveries and redelivery requests), rebuilds every pending delivery of every tenant
from the log (what a crashed or stopped sender left is picked up here, nothing is dropped), and
runs the timer: each due delivery is attempted in a task of its own under the limiter. It renews
the lease every third of its duration and stops sending as soon as a renewal fails: two senders
must not post the same attempt. An attempt that fails for a reason of ours (the store away) is
tried again a retry base later instead of being lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from services.api.webhooks.attempts import Attempts
from services.api.webhooks.due import DueTable, Key
from services.api.webhooks.limiter import DeliveryLimiter
from services.scheduler.lease_keeper import LeaseKeeper
from shared.bus import Bus
from shared.events import Envelope, EventError, now_utc, registry
from shared.events.webhooks import (
    DELIVERY_TYPES,
    WebhookDeliveryAttempted,
    WebhookDeliveryScheduled,
    WebhookRedeliveryRequested,
)
from shared.eventstore import EventStore
from shared.runner import sleep_until_stopping

log = structlog.get_logger(__name__)

QUEUE = "webhook-deliveries"
TOPICS = (f"*.delivery.{WebhookDeliveryScheduled.type_name}", f"*.delivery.{WebhookRedeliveryRequested.type_name}")
LEASE_STREAM = "lease-webhooks"


class DeliveryDispatcher:
    name = "webhook-dispatcher"

    def __init__(self, store: EventStore, bus: Bus, keeper: LeaseKeeper, attempts: Attempts, limiter: DeliveryLimiter,
                 *, queue: str, clock: Callable[[], datetime] = now_utc) -> None:
        self.store = store
        self.bus = bus
        self.keeper = keeper
        self.attempts = attempts
        self.limiter = limiter
        self.queue = queue
        self.clock = clock
        self.tick_s = keeper.duration.total_seconds() / 3
        self.table = DueTable()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def run(self, stopping: asyncio.Event) -> None:
        """Standby or sending until `stopping`; a failure (store or broker away) is logged and retried."""
        try:
            while not stopping.is_set():
                try:
                    if await self.keeper.acquire():
                        await self._lead(stopping)
                        continue
                except Exception:
                    log.exception("webhook_dispatcher_failed", owner=self.keeper.owner)
                if await sleep_until_stopping(stopping, self.tick_s):
                    break
        finally:
            if self.keeper.held():
                with contextlib.suppress(Exception):
                    await self.keeper.release()

    async def _lead(self, stopping: asyncio.Event) -> None:
        log.info("webhook_dispatcher_active", owner=self.keeper.owner)
        self.table = DueTable()
        self._closing = False
        subscription = await self.bus.subscribe(self.queue, self._on_event, topics=TOPICS, prefetch=64)
        try:
            await self._rebuild()
            await self._serve(stopping)
        finally:
            self._closing = True  # attempts still waiting for a slot give up theirs at once
            await subscription.stop()
            await self._drain()
            log.info("webhook_dispatcher_standby", owner=self.keeper.owner)

    async def _drain(self) -> None:
        """Let the attempts in flight record their outcome; cut short, they stay pending in the log."""
        if not self._tasks:
            return
        try:
            await asyncio.wait(set(self._tasks))
        except asyncio.CancelledError:
            for task in self._tasks:
                task.cancel()
            raise

    async def _serve(self, stopping: asyncio.Event) -> None:
        renew_at = time.monotonic() + self.tick_s
        while not stopping.is_set():
            for key in self.table.take_due(self.clock()):
                self._launch(key)
            await self._wait(stopping, min(renew_at - time.monotonic(), self._until_next_due()))
            if time.monotonic() >= renew_at:
                if not await self._renew():
                    log.warning("webhook_lease_lost", owner=self.keeper.owner)
                    return
                renew_at = time.monotonic() + self.tick_s

    async def _renew(self) -> bool:
        try:
            return await self.keeper.renew()
        except Exception:
            log.exception("webhook_lease_renew_failed")
            return False

    def _until_next_due(self) -> float:
        due = self.table.next_due()
        return self.tick_s if due is None else max(0.0, (due - self.clock()).total_seconds())

    async def _wait(self, stopping: asyncio.Event, timeout_s: float) -> None:
        """Until the timeout, a newly tracked delivery, or shutdown."""
        self.table.changed.clear()
        waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(self.table.changed.wait())]
        try:
            await asyncio.wait(waits, timeout=max(0.0, timeout_s), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    def _launch(self, key: Key) -> None:
        task = asyncio.create_task(self._attempt(key), name=f"webhook-{key[1]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, key: Key) -> None:
        tenant_id, delivery_id = key
        due: datetime | None = None
        try:
            found = await self.attempts.load(tenant_id, delivery_id)
            if found is None or not found.pending:
                return
            due = found.next_attempt_at
            if due is not None and due > self.clock():
                return
            async with self.limiter.slot(found.webhook_id):
                if self._closing or not self.keeper.held():
                    due = None  # this term is over: the next holder rebuilds it from the log
                    return
                due = await self.attempts.attempt(tenant_id, found)
        except Exception:
            log.exception("webhook_attempt_failed", tenant_id=tenant_id, delivery_id=delivery_id)
            due = self.clock() + timedelta(seconds=self.attempts.schedule.base_s)
        finally:
            self.table.done(key, due)

    async def _on_event(self, envelope: Envelope) -> None:
        """A new delivery or a redelivery request: due at once (the attempt reads the rest from the log)."""
        if envelope.stream_kind == "delivery" and envelope.type in (WebhookDeliveryScheduled.type_name,
                                                                    WebhookRedeliveryRequested.type_name):
            self.table.track((envelope.tenant_id, envelope.stream_id.removeprefix("delivery-")), envelope.occurred_at)

    async def _rebuild(self) -> None:
        """Every pending delivery of every tenant, with when it is due, from the delivery events."""
        due: dict[Key, datetime] = {}
        async for envelope in self.store.scan(types=DELIVERY_TYPES):
            key = (envelope.tenant_id, envelope.stream_id.removeprefix("delivery-"))
            try:
                after = _due_after(envelope)
            except EventError:
                log.exception("webhook_delivery_event_unreadable", tenant_id=envelope.tenant_id,
                              position=envelope.position)
                continue
            if after is None:
                due.pop(key, None)
            else:
                due[key] = after
        for key, at in due.items():
            self.table.track(key, at)
        log.info("webhook_deliveries_rebuilt", pending=len(due))


def _due_after(envelope: Envelope) -> datetime | None:
    """When a delivery is due after this event of its stream; None once it is settled."""
    if envelope.type in (WebhookDeliveryScheduled.type_name, WebhookRedeliveryRequested.type_name):
        return envelope.occurred_at
    if envelope.type == WebhookDeliveryAttempted.type_name:
        event = registry.decode(envelope)
        assert isinstance(event, WebhookDeliveryAttempted)
        return event.next_attempt_at
    return None  # succeeded or failed
