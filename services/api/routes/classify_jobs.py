"""Classify jobs: list, show, results, cancel. They are submitted by `POST /v1/classifiers/{id}/classify`.

A classify job shares the job lifecycle and the queue with training jobs, and the read model holds
both; these routes see classify jobs only (a training job's id is 404 here, and the reverse on
`/v1/training-jobs`). Every lookup is in the caller's tenant: another tenant's id is 404.
"""

from __future__ import annotations

from aiohttp import web

from services.api.classify.submit import remove_staged_images
from services.api.classify.views import classify_job
from services.api.keys import BACKENDS, READ_MODEL
from services.api.principal import require_user
from services.api.problems import ApiProblem
from services.api.projections.jobs import JobsView
from services.api.routes.jobs import cancel_job, job_record, jobs_view
from services.api.routing import RouteTable, read_query, reply
from services.api.schemas.classify_jobs import ClassifyJob, ClassifyJobList, ClassifyJobListQuery, ClassifyResults
from services.api.schemas.jobs import JobAccepted
from services.api.training.views import public_state, tenant_positions
from shared.blobs import BlobNotFound
from shared.domain.job import JobRuleViolation, Status

table = RouteTable("classify-jobs")


@table.get("/v1/classify-jobs", summary="The tenant's classify jobs, newest first", auth="tenant",
           query=ClassifyJobListQuery, response=ClassifyJobList)
async def list_classify_jobs(request: web.Request) -> web.Response:
    user = require_user(request)
    query = read_query(request, ClassifyJobListQuery)
    jobs = await jobs_view(request, user)
    positions = tenant_positions(user.tenant_id, jobs)
    items = [classify_job(r, positions) for r in jobs.listed(public_state=query.state, kind="classify")
             if query.classifier_id is None or r.job.classifier_id == query.classifier_id]
    return reply(ClassifyJobList(items=items))


@table.get("/v1/classify-jobs/{id}", summary="One classify job: state, queue place, worker, attempt",
           auth="tenant", response=ClassifyJob)
async def get_classify_job(request: web.Request) -> web.Response:
    user = require_user(request)
    jobs = await jobs_view(request, user)
    record = job_record(jobs, request.match_info["id"], "classify")
    return reply(classify_job(record, tenant_positions(user.tenant_id, jobs)))


@table.get("/v1/classify-jobs/{id}/results", summary="The job's results, one entry per image in input order",
           auth="tenant", response=ClassifyResults)
async def get_classify_results(request: web.Request) -> web.StreamResponse:
    """404 until the job has succeeded. An image that could not be read has an `error` and no
    predictions; the others are answered all the same."""
    user = require_user(request)
    record = job_record(await jobs_view(request, user), request.match_info["id"], "classify")
    path = record.job.results_path
    if record.job.status is not Status.SUCCEEDED or path is None:
        raise ApiProblem(404, f"classify job {record.job_id} has no results: it is {public_state(record.job.status)}")
    blobs = request.app[BACKENDS].blobs
    try:
        info = await blobs.stat(user.tenant_id, path)
    except BlobNotFound:
        raise ApiProblem(404, f"the results of classify job {record.job_id} are no longer stored") from None
    response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": str(info.size)})
    await response.prepare(request)
    async for chunk in blobs.get(user.tenant_id, path):
        await response.write(chunk)
    await response.write_eof()
    return response


@table.post("/v1/classify-jobs/{id}/cancel", summary="Cancel a classify job", auth="tenant",
            response=JobAccepted, status=202, errors=(409, 503))
async def cancel_classify_job(request: web.Request) -> web.Response:
    """A queued job is cancelled at once and leaves the queue (its staged images are removed); a
    running one is stopped by its worker between two batches and ends `cancelled`. 409 once ended."""
    user = require_user(request)
    record = job_record(await jobs_view(request, user), request.match_info["id"], "classify")
    try:
        envelopes = await cancel_job(request, user, record.job.stream_id)
    except JobRuleViolation as e:
        raise ApiProblem(409, str(e)) from None
    view = await request.app[READ_MODEL].written(user.tenant_id, envelopes)
    updated = job_record(view.get(JobsView), record.job_id, "classify")
    if updated.job.status is Status.CANCELLED:  # cancelled while queued: no worker will read them
        await remove_staged_images(request.app[BACKENDS].blobs, user.tenant_id, record.job_id)
    return reply(JobAccepted(id=updated.job_id, state=public_state(updated.job.status)), status=202)
