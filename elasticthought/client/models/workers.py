"""Workers of the deployment (administrator only)."""

from __future__ import annotations

from datetime import datetime

from elasticthought.client.models.base import ClientModel


class RunningJob(ClientModel):
    tenant_id: str
    job_id: str
    state: str
    gpus: list[str]


class Worker(ClientModel):
    id: str
    status: str  # online, offline, lost
    host: str
    slots: int
    busy_slots: int
    free_slots: int
    gpus: list[str]
    free_gpus: list[str]
    engines: list[str]
    running_jobs: list[RunningJob]
    changed_at: datetime
