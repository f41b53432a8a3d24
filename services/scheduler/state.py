"""What the scheduler knows: the workers and the unfinished jobs, folded from their streams' events.

Pure, no I/O. Job streams fold through the job aggregate (`shared.domain.job.evolve`), so the
scheduler reads a job exactly as every other writer does (fencing, requeue, cancel rules exist
once). Events apply once each: one at or below the version known is a duplicate (bus redelivery,
replay overlap), and live, one that skips a version is reported as a gap for the caller to fill
from the store (`Applied.GAP`), so the state never moves past an event it has not seen.

Ended jobs leave `jobs` and keep only their last version in `finished`, so the state stays small
while a late copy of an old event can never bring an ended job back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.scheduler import workers
from shared.domain import job as job_domain
from shared.domain.job import Job, Status
from shared.events import Envelope, Event
from shared.events.classify import ClassifyJobSubmitted, ClassifyJobSucceeded
from shared.events.training import (
    TrainingJobAssigned,
    TrainingJobCancelled,
    TrainingJobCancelRequested,
    TrainingJobFailed,
    TrainingJobRequeued,
    TrainingJobStarted,
    TrainingJobSubmitted,
    TrainingJobSucceeded,
)

JobKey = tuple[str, str]
"""(tenant_id, job_id): job ids are only unique within a tenant's log."""

# The job-stream types that decide queue membership and held capacity. A rebuild scans only these
# (not the bulk of log and progress events); live, every job event is applied to keep versions whole.
# Classify jobs share the lifecycle: only their first and last events differ.
JOB_TYPES = tuple(t.type_name for t in (
    TrainingJobSubmitted, TrainingJobAssigned, TrainingJobStarted, TrainingJobSucceeded, TrainingJobFailed,
    TrainingJobCancelRequested, TrainingJobCancelled, TrainingJobRequeued, ClassifyJobSubmitted, ClassifyJobSucceeded,
))
# Of those, the ones after which a new plan may assign something (capacity freed, job queued).
PLANNING_TYPES = frozenset(JOB_TYPES) - {TrainingJobStarted.type_name, TrainingJobAssigned.type_name}

HOLDING = (Status.ASSIGNED, Status.RUNNING)
"""Statuses in which a job holds a slot (and its GPUs) of its worker."""


class Applied(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # at or below the version known: nothing to do
    GAP = "gap"  # an earlier version is missing: read the stream from `next_version` and apply in order


@dataclass
class SchedulerState:
    """Mutable on purpose: it takes thousands of events per drain, and copying dicts per event would not pay."""

    workers: workers.Registry = field(default_factory=dict)
    jobs: dict[JobKey, Job] = field(default_factory=dict)
    finished: dict[JobKey, int] = field(default_factory=dict)
    last_served: dict[str, datetime] = field(default_factory=dict)
    """Per tenant, when it last got a job assigned: the round-robin order among equally busy tenants."""
    memberships: dict[JobKey, int] = field(default_factory=dict)
    """Per assigned job, the `WorkerOnline` version of the worker membership it was assigned to."""

    def next_version(self, key: JobKey) -> int:
        """The job-stream version this state expects next (1 for a job never seen)."""
        found = self.jobs.get(key)
        if found is not None:
            return found.version + 1
        return self.finished.get(key, 0) + 1

    def apply_job(self, envelope: Envelope, event: Event, *, in_order: bool = True) -> Applied:
        """Fold one job-stream event.

        `in_order=False` is for a replay of selected types in stream order (`store.scan`): versions
        may skip the types not scanned, so a higher version is applied instead of reported as a gap.
        """
        key = job_key(envelope)
        expected = self.next_version(key)
        if envelope.stream_version < expected:
            return Applied.DUPLICATE
        if in_order and envelope.stream_version > expected:
            return Applied.GAP
        if key in self.finished:
            self.finished[key] = envelope.stream_version  # nothing after the end changes the queue
            return Applied.APPLIED
        job = job_domain.evolve(self.jobs.get(key), envelope, event)
        if job is None:  # the stream does not begin with its submission: only a replay of a damaged log
            return Applied.GAP if in_order else Applied.DUPLICATE
        self._store(key, job)
        if isinstance(event, TrainingJobAssigned):
            self._assigned(key, envelope, event)
        return Applied.APPLIED

    def apply_worker(self, envelope: Envelope, event: Event, *, seen_at: datetime) -> bool:
        """Fold one worker event; True when the worker's membership or capacity changed."""
        worker_id = envelope.stream_id.removeprefix("worker-")
        before = self.workers.get(worker_id)
        self.workers = workers.evolve(self.workers, envelope, event, seen_at=seen_at)
        after = self.workers.get(worker_id)
        return after is not None and (before is None or _capacity_view(before) != _capacity_view(after))

    def holding(self) -> list[Job]:
        """Jobs that hold capacity (assigned to a worker, not ended), whatever their worker's status."""
        return [job for job in self.jobs.values() if job.status in HOLDING]

    def queued(self) -> list[Job]:
        """Jobs waiting for a worker (a cancel asked for stops them from being assigned)."""
        return [job for job in self.jobs.values() if job.status is Status.QUEUED and not job.cancel_requested]

    def _store(self, key: JobKey, job: Job) -> None:
        if job.status.terminal:
            self.jobs.pop(key, None)
            self.memberships.pop(key, None)
            self.finished[key] = job.version
        else:
            self.jobs[key] = job

    def _assigned(self, key: JobKey, envelope: Envelope, event: TrainingJobAssigned) -> None:
        served = self.last_served.get(key[0])
        self.last_served[key[0]] = envelope.occurred_at if served is None else max(served, envelope.occurred_at)
        if event.worker_online_version is None:
            self.memberships.pop(key, None)
        else:
            self.memberships[key] = event.worker_online_version


def job_key(envelope: Envelope) -> JobKey:
    return envelope.tenant_id, envelope.stream_id.removeprefix("job-")


def _capacity_view(worker: workers.Worker) -> tuple[object, ...]:
    return worker.status, worker.slots, worker.gpus, worker.engines, worker.online_version
