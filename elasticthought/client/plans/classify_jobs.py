"""Classify jobs (many images classified through the queue): list, show, results, cancel, wait."""

from __future__ import annotations

from elasticthought.client.calls import Call, Plan, fetch, fetch_items, query, segment
from elasticthought.client.models.classify import ClassifyJob, ClassifyResults
from elasticthought.client.models.jobs import JOB_ENDS, JobAccepted
from elasticthought.client.plans.waiting import DEFAULT_POLL_S, wait_until


def list_classify_jobs(state: str | None = None, classifier_id: str | None = None) -> Plan[list[ClassifyJob]]:
    """The tenant's classify jobs, newest first; optionally only those in `state` or of one classifier."""
    return fetch_items(Call("GET", "/v1/classify-jobs", params=query(state=state, classifier_id=classifier_id)),
                       ClassifyJob)


def get_classify_job(job_id: str) -> Plan[ClassifyJob]:
    """One classify job: state, queue place, worker, attempt."""
    return fetch(Call("GET", f"/v1/classify-jobs/{segment(job_id)}"), ClassifyJob)


def get_classify_results(job_id: str) -> Plan[ClassifyResults]:
    """The results, one entry per image in input order (`NotFound` until the job has succeeded)."""
    return fetch(Call("GET", f"/v1/classify-jobs/{segment(job_id)}/results"), ClassifyResults)


def cancel_classify_job(job_id: str) -> Plan[JobAccepted]:
    """Cancel a classify job (`Conflict` once it has ended)."""
    return fetch(Call("POST", f"/v1/classify-jobs/{segment(job_id)}/cancel"), JobAccepted)


def wait_for_classify_job(job_id: str, *, timeout_s: float | None = None,
                          poll_s: float = DEFAULT_POLL_S) -> Plan[ClassifyJob]:
    """Poll until the job succeeded, failed or was cancelled; `WaitTimeout` after `timeout_s`."""
    return wait_until(lambda: get_classify_job(job_id), JOB_ENDS, resource="classify job", resource_id=job_id,
                      timeout_s=timeout_s, poll_s=poll_s)
