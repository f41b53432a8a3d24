"""The job aggregate: its state folded from the job stream, and the decisions on it.

Pure functions, no I/O. Every service that writes to a job stream decides through here, so the
rules (fencing by attempt, what cancel means in each state, what a requeue resumes from) exist once.

A job is of one of two kinds. A training job starts with `TrainingJobSubmitted` and ends with
`TrainingJobSucceeded`; a classify job (`shared.events.classify`) starts with `ClassifyJobSubmitted`
and ends with `ClassifyJobSucceeded` (its results in the blob store). Everything in between
(assignment, start, failure, cancel, requeue) is the same lifecycle, so the scheduler and the
workers treat both alike. A classify job runs on our torch engine (inference needs no Caffe) with
no GPUs, and keeps only its image count here: its inputs are read from its submission when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from shared.events import Envelope, Event
from shared.events.classify import ClassifyJobSubmitted, ClassifyJobSucceeded
from shared.events.retention import SnapshotsPruned
from shared.events.training import (
    Engine,
    SnapshotRef,
    SnapshotSaved,
    TrainingJobAssigned,
    TrainingJobCancelled,
    TrainingJobCancelRequested,
    TrainingJobFailed,
    TrainingJobRequeued,
    TrainingJobStarted,
    TrainingJobSubmitted,
    TrainingJobSucceeded,
    TrainingLogAppended,
    TrainingProgressed,
)

JobKind = Literal["training", "classify"]


class Status(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"  # sent to a worker, not started yet; shown to users as running
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    @property
    def public(self) -> str:
        return Status.RUNNING.value if self is Status.ASSIGNED else self.value


class JobRuleViolation(Exception):
    """A command that the job's state does not allow (the API answers 409)."""

    def __init__(self, job_id: str, status: Status, action: str) -> None:
        self.job_id = job_id
        self.status = status
        self.action = action
        super().__init__(f"job {job_id} is {status.public}: cannot {action}")


@dataclass(frozen=True)
class Job:
    tenant_id: str
    job_id: str
    solver_id: str
    dataset_id: str
    engine_choice: str
    gpus_requested: int
    priority: int
    max_iter: int
    submitted_by: str
    submitted_at: datetime
    version: int
    status: Status = Status.QUEUED
    attempt: int = 0
    worker_id: str | None = None
    engine: Engine | None = None
    gpus: tuple[str, ...] = ()
    cancel_requested: bool = False
    iteration: int = 0
    train_outputs: dict[str, float] = field(default_factory=dict)
    test_outputs: dict[str, float] = field(default_factory=dict)
    lr: float | None = None
    snapshots: tuple[SnapshotRef, ...] = ()
    log_lines: int = 0
    reason: str | None = None
    ended_at: datetime | None = None
    kind: JobKind = "training"
    classifier_id: str | None = None  # classify jobs: the classifier, how many images, how many labels each
    image_count: int = 0
    top_k: int = 0
    results_path: str | None = None  # classify jobs: the results' blob key, once succeeded

    @property
    def stream_id(self) -> str:
        return job_stream(self.job_id)

    @property
    def last_snapshot(self) -> SnapshotRef | None:
        return self.snapshots[-1] if self.snapshots else None

    def accepts(self, attempt: int | None) -> bool:
        """Whether an event from the worker running `attempt` may still change this job."""
        return attempt == self.attempt and self.status in (Status.ASSIGNED, Status.RUNNING)


def job_stream(job_id: str) -> str:
    return f"job-{job_id}"


def evolve(job: Job | None, envelope: Envelope, event: Event) -> Job | None:
    """Apply one event of the job stream. Events of a stale attempt change nothing."""
    if isinstance(event, TrainingJobSubmitted):
        return Job(
            tenant_id=envelope.tenant_id, job_id=event.job_id, solver_id=event.solver_id,
            dataset_id=event.dataset_id, engine_choice=event.engine, gpus_requested=event.gpus,
            priority=event.priority, max_iter=event.max_iter, submitted_by=event.submitted_by,
            submitted_at=envelope.occurred_at, version=envelope.stream_version,
        )
    if isinstance(event, ClassifyJobSubmitted):
        return _classify_job(envelope, event)
    if job is None:
        return None
    job = replace(job, version=envelope.stream_version)
    return _apply(job, envelope, event)


def _apply(job: Job, envelope: Envelope, event: Event) -> Job:
    if isinstance(event, TrainingJobAssigned):
        return replace(job, status=Status.ASSIGNED, attempt=event.attempt, worker_id=event.worker_id,
                       engine=event.engine, gpus=tuple(event.gpus))
    if isinstance(event, TrainingJobCancelRequested):
        return replace(job, cancel_requested=True)
    if isinstance(event, SnapshotsPruned):  # storage's retention: any state, no attempt
        pruned = set(event.iterations)
        return replace(job, snapshots=tuple(s for s in job.snapshots if s.iteration not in pruned))
    if isinstance(event, TrainingJobCancelled):
        return _end(job, envelope, Status.CANCELLED, "cancelled") if _current(job, event.attempt) else job
    if isinstance(event, TrainingJobFailed):
        return _end(job, envelope, Status.FAILED, event.reason) if _current(job, event.attempt) else job
    if not job.accepts(getattr(event, "attempt", None)):
        return job
    return _attempt_event(job, envelope, event)


def _attempt_event(job: Job, envelope: Envelope, event: Event) -> Job:
    """An event of the live attempt: its worker's reports, or the requeue that abandons it."""
    if isinstance(event, TrainingJobStarted):
        return replace(job, status=Status.RUNNING)
    if isinstance(event, TrainingProgressed):
        return _progress(job, event)
    if isinstance(event, TrainingLogAppended):
        return replace(job, log_lines=max(job.log_lines, event.first_line + len(event.lines) - 1))
    if isinstance(event, SnapshotSaved):
        return replace(job, snapshots=(*job.snapshots, event.snapshot))
    if isinstance(event, TrainingJobSucceeded) and job.kind == "training":  # each kind ends by its own event
        return replace(_end(job, envelope, Status.SUCCEEDED, None), iteration=event.iteration)
    if isinstance(event, ClassifyJobSucceeded) and job.kind == "classify":
        return replace(_end(job, envelope, Status.SUCCEEDED, None), results_path=event.results_path)
    if isinstance(event, TrainingJobRequeued):
        return replace(job, status=Status.QUEUED, worker_id=None, engine=None, gpus=())
    return job


def _classify_job(envelope: Envelope, event: ClassifyJobSubmitted) -> Job:
    return Job(
        tenant_id=envelope.tenant_id, job_id=event.job_id, solver_id="", dataset_id="", engine_choice="torch",
        gpus_requested=0, priority=event.priority, max_iter=0, submitted_by=event.submitted_by,
        submitted_at=envelope.occurred_at, version=envelope.stream_version, kind="classify",
        classifier_id=event.classifier_id, image_count=len(event.images), top_k=event.top_k,
    )


def _current(job: Job, attempt: int | None) -> bool:
    """Cancel/fail without an attempt come from the queue side; with one, only the live attempt counts."""
    if job.status.terminal:
        return False
    return attempt is None or job.accepts(attempt)


def _end(job: Job, envelope: Envelope, status: Status, reason: str | None) -> Job:
    return replace(job, status=status, reason=reason, ended_at=envelope.occurred_at)


def _progress(job: Job, event: TrainingProgressed) -> Job:
    iteration = max(job.iteration, event.iteration)
    if event.phase == "test":
        return replace(job, iteration=iteration, test_outputs=dict(event.outputs))
    return replace(job, iteration=iteration, train_outputs=dict(event.outputs),
                   lr=event.lr if event.lr is not None else job.lr)


def fold(envelopes: list[Envelope], events: list[Event]) -> Job | None:
    job: Job | None = None
    for envelope, event in zip(envelopes, events, strict=True):
        job = evolve(job, envelope, event)
    return job


# --- decisions -------------------------------------------------------------------------------


def decide_assign(job: Job, *, worker_id: str, engine: Engine, gpus: list[str]) -> list[Event]:
    if job.status is not Status.QUEUED or job.cancel_requested:
        raise JobRuleViolation(job.job_id, job.status, "assign")
    return [TrainingJobAssigned(worker_id=worker_id, attempt=job.attempt + 1, engine=engine, gpus=gpus,
                                resume_from=job.last_snapshot)]


def decide_requeue(job: Job, *, reason: str) -> list[Event]:
    """A lost worker's job goes back to the queue and resumes from its last snapshot."""
    if job.status not in (Status.ASSIGNED, Status.RUNNING):
        raise JobRuleViolation(job.job_id, job.status, "requeue")
    if job.cancel_requested:  # nobody is left to stop it: the cancel completes here
        return [TrainingJobCancelled(attempt=job.attempt)]
    return [TrainingJobRequeued(attempt=job.attempt, reason=reason, resume_from=job.last_snapshot)]


def decide_cancel(job: Job, *, requested_by: str) -> list[Event]:
    """Queued: cancelled at once. Running: the request goes to its worker, which stops the trainer."""
    if job.status.terminal:
        raise JobRuleViolation(job.job_id, job.status, "cancel")
    if job.status is Status.QUEUED:
        return [TrainingJobCancelRequested(requested_by=requested_by), TrainingJobCancelled(attempt=None)]
    if job.cancel_requested:
        return []
    return [TrainingJobCancelRequested(requested_by=requested_by)]
