"""Training jobs: submit, list, show, cancel, wait; the tenant's queue."""

from __future__ import annotations

from elasticthought.client.calls import Call, Plan, fetch, fetch_items, query, segment
from elasticthought.client.models.jobs import JOB_ENDS, JobAccepted, QueuedJob, TrainingJob
from elasticthought.client.plans.waiting import DEFAULT_POLL_S, wait_until


def submit_training_job(solver_id: str, dataset_id: str, *, engine: str = "auto", gpus: int = 0,
                        priority: int = 0) -> Plan[JobAccepted]:
    """Queue a training job (engine auto, torch or caffe; `gpus` 0 runs it on a CPU slot)."""
    body = {"solver_id": solver_id, "dataset_id": dataset_id, "engine": engine, "gpus": gpus, "priority": priority}
    return fetch(Call("POST", "/v1/training-jobs", json=body), JobAccepted)


def list_training_jobs(state: str | None = None) -> Plan[list[TrainingJob]]:
    """The tenant's training jobs, newest first; `state` keeps only those in it."""
    return fetch_items(Call("GET", "/v1/training-jobs", params=query(state=state)), TrainingJob)


def get_training_job(job_id: str) -> Plan[TrainingJob]:
    """One training job: state, progress, queue place."""
    return fetch(Call("GET", f"/v1/training-jobs/{segment(job_id)}"), TrainingJob)


def cancel_training_job(job_id: str) -> Plan[JobAccepted]:
    """Cancel: a queued job at once, a running one when its worker confirms (`Conflict` once ended)."""
    return fetch(Call("POST", f"/v1/training-jobs/{segment(job_id)}/cancel"), JobAccepted)


def wait_for_training_job(job_id: str, *, timeout_s: float | None = None,
                          poll_s: float = DEFAULT_POLL_S) -> Plan[TrainingJob]:
    """Poll until the job succeeded, failed or was cancelled (check `state`); `WaitTimeout` after `timeout_s`."""
    return wait_until(lambda: get_training_job(job_id), JOB_ENDS, resource="training job", resource_id=job_id,
                      timeout_s=timeout_s, poll_s=poll_s)


def get_queue() -> Plan[list[QueuedJob]]:
    """The tenant's queued jobs (training and classify), next to run first."""
    return fetch_items(Call("GET", "/v1/queue"), QueuedJob)
