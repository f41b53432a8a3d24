"""Imports every module that registers event types, so the registry knows them all.

Services import this before decoding: an event type that is registered only as a side effect of
some unrelated import would otherwise be "unknown" in one process and known in another.
"""

from __future__ import annotations

import services.scheduler.events
import services.worker.events
import shared.events.classify
import shared.events.data
import shared.events.retention
import shared.events.tenancy
import shared.events.training
import shared.events.webhooks

MODULES = (
    shared.events.tenancy,
    shared.events.data,
    shared.events.training,
    shared.events.retention,
    shared.events.classify,
    shared.events.webhooks,
    services.worker.events,
    services.scheduler.events,
)
