"""The jobs of one tenant (training and classify), folded from its log with the job aggregate's `evolve`.

The job's state is exactly what `shared.domain.job` says it is (the rules exist once); this view
only adds what the API shows besides it: when the job was queued, assigned and started, and a
histogram of dispatch latency (queued -> assigned) for `/metrics`. Log lines and parsed outputs
are not kept here (they would grow memory with every job ever run): the log and metrics routes read
the one job stream they need. Both kinds share the queue, so one view holds both; each route
lists and finds only its own kind (`listed(kind=...)`, `JobRecord.job.kind`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.api.projections.histogram import Histogram
from services.api.readmodel.projection import Projection
from shared.domain.job import Job, JobKind, Status, evolve
from shared.events import Envelope, Event, classify, retention, training
from shared.events.training import TrainingJobAssigned, TrainingJobRequeued, TrainingJobStarted

JOB_STREAM_PREFIX = "job-"


@dataclass(frozen=True)
class JobRecord:
    job: Job
    queued_at: datetime  # submitted, or requeued after a lost worker
    assigned_at: datetime | None = None  # of the current attempt
    started_at: datetime | None = None  # of the current attempt

    @property
    def job_id(self) -> str:
        return self.job.job_id


JOB_EVENT_TYPES = frozenset(cls.type_name for cls in (
    training.TrainingJobSubmitted, training.TrainingJobAssigned, training.TrainingJobStarted,
    training.TrainingProgressed, training.TrainingLogAppended, training.SnapshotSaved,
    training.TrainingJobSucceeded, training.TrainingJobFailed, training.TrainingJobCancelRequested,
    training.TrainingJobCancelled, training.TrainingJobRequeued,
    classify.ClassifyJobSubmitted, classify.ClassifyJobSucceeded, retention.SnapshotsPruned,
))


class JobsView(Projection):
    """Every job of one tenant by id; fed in log order, each event once."""

    types = JOB_EVENT_TYPES

    def __init__(self) -> None:
        self.jobs: dict[str, JobRecord] = {}
        self.dispatch_latency = Histogram()

    def apply(self, envelope: Envelope, event: Event) -> None:
        if not envelope.stream_id.startswith(JOB_STREAM_PREFIX):
            return
        job_id = envelope.stream_id.removeprefix(JOB_STREAM_PREFIX)
        known = self.jobs.get(job_id)
        job = evolve(known.job if known else None, envelope, event)
        if job is None:
            return
        if known is None:
            self.jobs[job_id] = JobRecord(job, queued_at=envelope.occurred_at)
            return
        self.jobs[job_id] = self._times(known, replace(known, job=job), envelope, event)

    def _times(self, before: JobRecord, after: JobRecord, envelope: Envelope, event: Event) -> JobRecord:
        """Timestamps that changed with this event (only when the aggregate accepted the change)."""
        at = envelope.occurred_at
        if isinstance(event, TrainingJobAssigned) and after.job.status is Status.ASSIGNED \
                and before.job.status is Status.QUEUED:
            self.dispatch_latency.observe(max(0.0, (at - before.queued_at).total_seconds()))
            return replace(after, assigned_at=at, started_at=None)
        if isinstance(event, TrainingJobStarted) and after.job.status is Status.RUNNING and after.started_at is None:
            return replace(after, started_at=at)
        if isinstance(event, TrainingJobRequeued) and after.job.status is Status.QUEUED:
            return replace(after, queued_at=at, assigned_at=None, started_at=None)
        return after

    def get(self, job_id: str) -> JobRecord | None:
        return self.jobs.get(job_id)

    def listed(self, *, public_state: str | None = None, kind: JobKind | None = None) -> list[JobRecord]:
        """Newest first; `public_state` filters on the state users see (assigned counts as running)."""
        found = [r for r in self.jobs.values() if (public_state is None or r.job.status.public == public_state)
                 and (kind is None or r.job.kind == kind)]
        return sorted(found, key=lambda r: (r.job.submitted_at, r.job_id), reverse=True)

    def queued(self) -> list[Job]:
        return [r.job for r in self.jobs.values() if r.job.status is Status.QUEUED]

    def count_by_state(self, kind: JobKind = "training") -> dict[str, int]:
        counts = {status.public: 0 for status in Status}
        for record in self.jobs.values():
            if record.job.kind == kind:
                counts[record.job.status.public] += 1
        return counts
