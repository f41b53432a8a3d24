"""Classify-job records of the read model as the API shows them."""

from __future__ import annotations

from services.api.projections.jobs import JobRecord
from services.api.schemas.classify_jobs import ClassifyJob
from services.api.training.views import public_state
from shared.domain.job import Status


def classify_job(record: JobRecord, positions: dict[str, int]) -> ClassifyJob:
    job = record.job
    succeeded = job.status is Status.SUCCEEDED
    return ClassifyJob(
        id=job.job_id, state=public_state(job.status), classifier_id=job.classifier_id or "", count=job.image_count,
        top_k=job.top_k, priority=job.priority, queue_position=positions.get(job.job_id), worker_id=job.worker_id,
        attempt=job.attempt, cancel_requested=job.cancel_requested,
        error=job.reason if job.status is Status.FAILED else None,
        results=f"/v1/classify-jobs/{job.job_id}/results" if succeeded else None,
        submitted_by=job.submitted_by, submitted_at=job.submitted_at, queued_at=record.queued_at,
        assigned_at=record.assigned_at, started_at=record.started_at, ended_at=job.ended_at,
    )
