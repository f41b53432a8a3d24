"""Which events a webhook receives: type names (`TrainingJobSucceeded`) or `*` patterns (`Dataset*`, `*`).

A pattern must match at least one type a webhook can receive, so a typo is a 422 at registration
instead of a webhook that silently never fires. The webhook and delivery events themselves are not
deliverable: a webhook on `*` would otherwise be sent the record of its own deliveries, each of which
would schedule another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

import shared.events.catalog  # noqa: F401  (every type registered before the known types are listed)
from shared.events import registry
from shared.events.webhooks import DELIVERY_TYPES, WEBHOOK_TYPES

PATTERN = re.compile(r"^[A-Za-z*][A-Za-z0-9*]{0,99}$")
NOT_DELIVERED = WEBHOOK_TYPES | DELIVERY_TYPES
NOT_DELIVERED_KINDS = frozenset({"webhook", "delivery"})  # stream kinds never sent anywhere


class UnknownEventPattern(ValueError):
    """A pattern that is malformed or matches no deliverable type."""

    def __init__(self, pattern: str, why: str) -> None:
        self.pattern = pattern
        self.why = why
        super().__init__(f"events: {pattern!r} {why}")

    def __repr__(self) -> str:
        return f"UnknownEventPattern({self.pattern!r}, {self.why!r})"


def deliverable_types() -> list[str]:
    return [name for name in registry.known_types() if name not in NOT_DELIVERED]


def check_patterns(patterns: Iterable[str]) -> list[str]:
    """The patterns without duplicates, in the order given; raises `UnknownEventPattern`."""
    known = deliverable_types()
    kept: list[str] = []
    for pattern in patterns:
        if not PATTERN.match(pattern):
            raise UnknownEventPattern(pattern, "is not an event type name or a pattern of letters, digits and *")
        if not any(fnmatchcase(name, pattern) for name in known):
            raise UnknownEventPattern(pattern, "matches no event type a webhook can receive")
        if pattern not in kept:
            kept.append(pattern)
    return kept


def matches(patterns: Sequence[str], event_type: str) -> bool:
    """Whether an event of `event_type` goes to a webhook registered with `patterns`."""
    if event_type in NOT_DELIVERED:
        return False
    return any(fnmatchcase(event_type, pattern) for pattern in patterns)
