"""Training jobs: submit, list, show, cancel, and the tenant's queue.

Any user of a tenant may submit and cancel its jobs; every lookup is in the caller's tenant only,
so another tenant's job id is 404 like one that never existed.
"""

from __future__ import annotations

from aiohttp import web

from services.api.keys import BACKENDS, PUBLISHER, READ_MODEL
from services.api.principal import TenantUser, require_user
from services.api.problems import ApiProblem
from services.api.projections.jobs import JobRecord, JobsView
from services.api.readmodel import TenantView
from services.api.routing import RouteTable, read_body, read_query, reply
from services.api.schemas.jobs import (
    JobAccepted,
    JobListQuery,
    Queue,
    SubmitTrainingJob,
    TrainingJob,
    TrainingJobList,
)
from services.api.tokens import new_id
from services.api.training.submit import SubmissionRefused, decide_submit
from services.api.training.views import public_state, queued_jobs, tenant_positions, training_job
from services.worker.events import worker_recipient
from shared.domain import dataset, job, solver, streams
from shared.domain.job import JobKind, JobRuleViolation
from shared.events import Envelope, Event

table = RouteTable("training-jobs")

CANCEL_ATTEMPTS = 8


@table.post("/v1/training-jobs", summary="Queue a training job", auth="tenant", body=SubmitTrainingJob,
            response=JobAccepted, status=202, errors=(409,))
async def submit_training_job(request: web.Request) -> web.Response:
    """The solver and dataset must be the caller's tenant's (404), the dataset built (409), and the
    net's output count equal to the dataset's class count (422 naming both)."""
    user = require_user(request)
    body = await read_body(request, SubmitTrainingJob)
    store = request.app[BACKENDS].store
    found_solver, _ = await streams.load(store, user.tenant_id, solver.solver_stream(body.solver_id), solver.evolve)
    found_dataset, _ = await streams.load(store, user.tenant_id, dataset.dataset_stream(body.dataset_id),
                                          dataset.evolve)
    job_id = new_id()
    try:
        submitted = decide_submit(job_id=job_id, solver_id=body.solver_id, solver=found_solver,
                                  dataset_id=body.dataset_id, dataset=found_dataset, engine=body.engine,
                                  gpus=body.gpus, priority=body.priority, submitted_by=user.user_id)
    except SubmissionRefused as e:
        raise ApiProblem(e.status, e.detail) from None

    def decide(state: job.Job | None) -> list[Event]:
        return [submitted] if state is None else []  # a fresh random id: never taken in practice

    envelopes = await streams.execute(store, request.app[PUBLISHER], tenant_id=user.tenant_id,
                                      stream_id=job.job_stream(job_id), evolve=job.evolve, decide=decide)
    await request.app[READ_MODEL].written(user.tenant_id, envelopes)
    return reply(JobAccepted(id=job_id, state="queued"), status=202)


@table.get("/v1/training-jobs", summary="The tenant's training jobs, newest first", auth="tenant",
           query=JobListQuery, response=TrainingJobList)
async def list_training_jobs(request: web.Request) -> web.Response:
    user = require_user(request)
    query = read_query(request, JobListQuery)
    jobs = await jobs_view(request, user)
    positions = tenant_positions(user.tenant_id, jobs)
    items = [training_job(r, positions) for r in jobs.listed(public_state=query.state, kind="training")]
    return reply(TrainingJobList(items=items))


@table.get("/v1/training-jobs/{id}", summary="One training job: state, progress, queue place", auth="tenant",
           response=TrainingJob)
async def get_training_job(request: web.Request) -> web.Response:
    user = require_user(request)
    jobs = await jobs_view(request, user)
    record = job_record(jobs, request.match_info["id"])
    return reply(training_job(record, tenant_positions(user.tenant_id, jobs)))


@table.post("/v1/training-jobs/{id}/cancel", summary="Cancel a training job", auth="tenant",
            response=JobAccepted, status=202, errors=(409, 503))
async def cancel_training_job(request: web.Request) -> web.Response:
    """A queued job is cancelled at once and leaves the queue; a running one is stopped by its worker
    (the request is addressed to it), and ends `cancelled` when the worker confirms. 409 once ended."""
    user = require_user(request)
    record = job_record(await jobs_view(request, user), request.match_info["id"])
    try:
        envelopes = await cancel_job(request, user, record.job.stream_id)
    except JobRuleViolation as e:
        raise ApiProblem(409, str(e)) from None
    view = await request.app[READ_MODEL].written(user.tenant_id, envelopes)
    updated = job_record(view.get(JobsView), record.job_id)
    return reply(JobAccepted(id=updated.job_id, state=public_state(updated.job.status)), status=202)


async def cancel_job(request: web.Request, user: TenantUser, stream_id: str) -> list[Envelope]:
    """Cancel (a job of either kind), addressed to the worker that holds the job in the state the
    decision is made on; raises `JobRuleViolation` once it has ended.

    `execute` decides again on a lost race, but with the recipient it was given; so each try here
    is one `execute` attempt, and a lost race reloads to address the worker the job has by then.
    """
    store, publisher = request.app[BACKENDS].store, request.app[PUBLISHER]
    for _ in range(CANCEL_ATTEMPTS):
        state, _version = await streams.load(store, user.tenant_id, stream_id, job.evolve)
        if state is None:
            raise ApiProblem(404, f"no job {stream_id.removeprefix('job-')}")
        holder = state.worker_id if state.status in (job.Status.ASSIGNED, job.Status.RUNNING) else None
        try:
            return await streams.execute(
                store, publisher, tenant_id=user.tenant_id, stream_id=stream_id, evolve=job.evolve,
                decide=lambda current: job.decide_cancel(_known(current), requested_by=user.user_id),
                recipient=worker_recipient(holder) if holder else None, attempts=1)
        except streams.StreamBusy:
            continue
    raise ApiProblem(503, "the job is changing too fast to cancel now; try again", headers={"Retry-After": "1"})


def _known(state: job.Job | None) -> job.Job:
    assert state is not None  # the stream had its submission a moment ago and streams only grow
    return state


@table.get("/v1/queue", summary="The tenant's queued jobs, next to run first", auth="tenant", response=Queue)
async def get_queue(request: web.Request) -> web.Response:
    """`position` is the place among this tenant's own queued jobs in the order the scheduler serves
    them (priority, then submission); tenants are served fairly by turns across the deployment.
    Training and classify jobs share the queue; `kind` tells them apart."""
    user = require_user(request)
    jobs = await jobs_view(request, user)
    return reply(Queue(items=queued_jobs(jobs, tenant_positions(user.tenant_id, jobs))))


async def jobs_view(request: web.Request, user: TenantUser) -> JobsView:
    view: TenantView = await request.app[READ_MODEL].catch_up(user.tenant_id)
    return view.get(JobsView)


def job_record(jobs: JobsView, job_id: str, kind: JobKind = "training") -> JobRecord:
    """The tenant's job of this kind: a job of the other kind is not found here either."""
    record = jobs.get(job_id)
    if record is None or record.job.kind != kind:
        raise ApiProblem(404, f"no {kind} job {job_id}")
    return record
