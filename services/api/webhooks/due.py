"""The sender's timer: pending deliveries by the time their next attempt is due.

A heap ordered by due time with lazy removal (a re-tracked delivery leaves its old entry behind,
skipped when it surfaces). A delivery being attempted is "in flight": tracking it meanwhile is a
no-op, and its attempt tracks it again with what the log says once the outcome is recorded, so one
delivery is never attempted twice at once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import datetime

Key = tuple[str, str]  # (tenant id, delivery id)


class DueTable:
    def __init__(self) -> None:
        self._due: dict[Key, datetime] = {}
        self._heap: list[tuple[datetime, int, Key]] = []
        self._order = itertools.count()
        self._in_flight: set[Key] = set()
        self.changed = asyncio.Event()

    def track(self, key: Key, due: datetime | None) -> None:
        """Attempt `key` at `due`; None forgets it (no longer pending)."""
        if key in self._in_flight:
            return
        if due is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) == due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._order), key))
        self.changed.set()

    def take_due(self, now: datetime) -> list[Key]:
        """Every delivery due by `now`, marked in flight."""
        taken: list[Key] = []
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            if self._due.get(key) != due:
                continue  # superseded by a later `track`
            del self._due[key]
            self._in_flight.add(key)
            taken.append(key)
        return taken

    def done(self, key: Key, due: datetime | None) -> None:
        """The attempt of `key` is over; it is due again at `due` (None: no longer pending)."""
        self._in_flight.discard(key)
        self.track(key, due)

    def next_due(self) -> datetime | None:
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    @property
    def pending(self) -> int:
        return len(self._due) + len(self._in_flight)
