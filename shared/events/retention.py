"""Snapshot retention events (tenant logs; stream `job-<id>`).

A job writes a snapshot every `snapshot` iterations; the storage service keeps only the newest
ones (`snapshot_keep_last`) and records the ones whose files it deleted, so the job aggregate, the
API's snapshot list and downloads stop offering them. It carries no attempt: retention is not the
worker's doing, and it applies whatever state the job is in.
"""

from __future__ import annotations

from pydantic import Field

from shared.events.base import Event
from shared.events.registry import registry


@registry.event("SnapshotsPruned", version=1)
class SnapshotsPruned(Event):
    """The snapshot files (caffemodel and solverstate) of these iterations are deleted."""

    iterations: list[int] = Field(min_length=1, max_length=10_000)
