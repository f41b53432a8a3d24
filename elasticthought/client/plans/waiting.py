"""Polling until a resource reaches an end state, bounded by a timeout; one loop for every `wait_for_*`."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Protocol, TypeVar

from elasticthought.client.calls import Plan, pause
from elasticthought.client.errors import WaitTimeout

DEFAULT_POLL_S = 1.0


class Stateful(Protocol):
    @property
    def state(self) -> str: ...


S = TypeVar("S", bound=Stateful)


def wait_until(get: Callable[[], Plan[S]], ends: Collection[str], *, resource: str, resource_id: str,
               timeout_s: float | None, poll_s: float) -> Plan[S]:
    """Get the resource until its state is one of `ends`; `WaitTimeout` after `timeout_s` (None: no limit)."""
    if poll_s <= 0:
        raise ValueError(f"poll_s must be positive, not {poll_s}")
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        found = yield from get()
        if found.state in ends:
            return found
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(resource, resource_id, found.state, timeout_s or 0.0)
            yield from pause(min(poll_s, left))
        else:
            yield from pause(poll_s)
