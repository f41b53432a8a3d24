"""Job records of the read model as the API shows them, with their places in the queue."""

from __future__ import annotations

from services.api.projections.jobs import JobRecord, JobsView
from services.api.schemas.jobs import PublicState, QueuedJob, TrainingJob
from services.scheduler.queue import queue_positions
from services.scheduler.state import SchedulerState
from shared.domain.job import Status


def tenant_positions(tenant_id: str, view: JobsView) -> dict[str, int]:
    """Each queued job's place among its tenant's queued jobs, by the scheduler's own ordering rule.

    The scheduler's `queue_positions` over a state holding this tenant's jobs only: the order its
    jobs will be served in (priority, then FIFO; a requeued job keeps its place). The place in the
    deployment-wide order is not shown: it would tell one tenant how busy the others are, and would
    need every tenant's log on every read.
    """
    jobs = {(tenant_id, r.job_id): r.job for r in view.jobs.values() if not r.job.status.terminal}
    return {p.job_id: p.tenant_position for p in queue_positions(SchedulerState(jobs=jobs), tenant_id)}


def public_state(status: Status) -> PublicState:
    state: PublicState = status.public  # type: ignore[assignment]  # Status.public only yields these five
    return state


def training_job(record: JobRecord, positions: dict[str, int]) -> TrainingJob:
    job = record.job
    return TrainingJob(
        id=job.job_id, state=public_state(job.status), solver_id=job.solver_id, dataset_id=job.dataset_id,
        engine=job.engine_choice,
        engine_used=job.engine, gpus=job.gpus_requested, assigned_gpus=list(job.gpus), priority=job.priority,
        queue_position=positions.get(job.job_id), iteration=job.iteration, max_iter=job.max_iter,
        train_outputs=dict(job.train_outputs), test_outputs=dict(job.test_outputs), lr=job.lr,
        worker_id=job.worker_id, attempt=job.attempt, cancel_requested=job.cancel_requested,
        error=job.reason if job.status is Status.FAILED else None, snapshots=len(job.snapshots),
        submitted_by=job.submitted_by, submitted_at=job.submitted_at, queued_at=record.queued_at,
        assigned_at=record.assigned_at, started_at=record.started_at, ended_at=job.ended_at,
    )


def queued_jobs(view: JobsView, positions: dict[str, int]) -> list[QueuedJob]:
    found = [
        QueuedJob(id=r.job_id, kind=r.job.kind, position=positions[r.job_id], priority=r.job.priority,
                  engine=r.job.engine_choice,
                  gpus=r.job.gpus_requested, submitted_at=r.job.submitted_at, queued_at=r.queued_at)
        for r in view.jobs.values() if r.job_id in positions
    ]
    return sorted(found, key=lambda q: q.position)
