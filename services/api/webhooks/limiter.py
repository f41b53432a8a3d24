"""Bounded concurrency for deliveries: so many in flight overall, and a share of that per webhook.

A receiver that is slow or hangs until the timeout can fill only its own share of the slots, so
every other webhook's deliveries keep flowing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class DeliveryLimiter:
    def __init__(self, total: int, *, per_webhook: int | None = None) -> None:
        self.total = total
        self.per_webhook = per_webhook or max(1, total // 4)
        self._slots = asyncio.Semaphore(total)
        self._shares: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # webhook -> (share, [users])

    @asynccontextmanager
    async def slot(self, webhook_id: str) -> AsyncIterator[None]:
        """The webhook's share first, then a global slot: waiting for a share holds no global slot."""
        share, users = self._shares.setdefault(webhook_id, (asyncio.Semaphore(self.per_webhook), [0]))
        users[0] += 1
        try:
            async with share, self._slots:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._shares[webhook_id]
