"""Submit a classify job: stage every image in the blob store, then append `ClassifyJobSubmitted`.

The classify route (`POST /v1/classifiers/{id}/classify`) hands over here when the request asks for
`async=true` or carries more images than `classify_sync_max_images` (`runs_as_job`). The answer is
202 `{id, state: queued}`; the job then goes through the scheduler like a training job and its
state, results and events are under `/v1/classify-jobs/{id}`.

Order matters for "nothing left behind": the decision is made (and may refuse) before anything is
written; the images are staged under the job's own prefix in the caller's tenant; only then is
the submission appended, so a worker never sees a job whose images are not all there. If staging
or the append fails, the staged images are removed again.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from services.api.classify.decide import decide_classify_job
from services.api.classify.sniff import first_non_image
from services.api.classify.staging import StagedImage, StagedImages
from services.api.keys import BACKENDS, PUBLISHER, READ_MODEL, SETTINGS
from services.api.principal import TenantUser
from services.api.problems import ApiProblem
from services.api.routing import reply
from services.api.schemas.jobs import JobAccepted
from services.api.tokens import new_id
from services.api.training.submit import SubmissionRefused
from services.worker.classify_jobs.results import inputs_prefix
from shared.blobs import BlobError, BlobStore
from shared.domain import classifier, job, streams
from shared.events import Event
from shared.events.classify import ClassifyJobSubmitted
from shared.settings import Settings

log = structlog.get_logger(__name__)

STAGING_CONCURRENCY = 8  # images uploaded to the blob store at once


def runs_as_job(settings: Settings, *, count: int, asked_async: bool) -> bool:
    """Whether a classify request becomes a classify job instead of answering synchronously."""
    return asked_async or count > settings.classify_sync_max_images


async def submit_classify_job(
    request: web.Request, user: TenantUser, *, classifier_id: str, images: StagedImages, top_k: int,
    priority: int = 0,
) -> web.Response:
    """Queue the request's `images` for classifier `classifier_id` of the caller's tenant: 202 `{id, state}`.

    404 for a classifier that is not the caller's (or deleted), 413/422 from `decide_classify_job`,
    422 naming an input that is not an image at all (`sniff`), 503 when the blob store cannot take the
    images (nothing is kept then).
    """
    backends = request.app[BACKENDS]
    found, _ = await streams.load(backends.store, user.tenant_id, classifier.classifier_stream(classifier_id),
                                  classifier.evolve)
    if found is None or found.deleted:
        raise ApiProblem(404, f"no classifier {classifier_id}")
    job_id = new_id()
    try:
        submitted = decide_classify_job(
            job_id=job_id, classifier_id=classifier_id, names=images.names, top_k=top_k,
            priority=priority, submitted_by=user.user_id, max_images=request.app[SETTINGS].classify_job_max_images)
    except SubmissionRefused as e:
        raise ApiProblem(e.status, e.detail) from None
    unusable = await asyncio.to_thread(first_non_image, images.items)
    if unusable is not None:
        raise ApiProblem(422, f"image {unusable[0]!r} cannot be classified: {unusable[1]}", image=unusable[0])
    try:
        await _stage(backends.blobs, user.tenant_id, submitted, images.items)
        envelopes = await streams.execute(backends.store, request.app[PUBLISHER], tenant_id=user.tenant_id,
                                          stream_id=job.job_stream(job_id), evolve=job.evolve,
                                          decide=lambda state: _new(state, submitted))
    except BaseException as e:
        await remove_staged_images(backends.blobs, user.tenant_id, job_id)
        if isinstance(e, BlobError):
            raise ApiProblem(503, f"the images could not be stored: {e}", headers={"Retry-After": "5"}) from e
        raise
    await request.app[READ_MODEL].written(user.tenant_id, envelopes)
    log.info("classify_job_submitted", job_id=job_id, classifier_id=classifier_id, images=len(images))
    return reply(JobAccepted(id=job_id, state="queued"), status=202,
                 headers={"Location": f"/v1/classify-jobs/{job_id}"})


def _new(state: job.Job | None, submitted: ClassifyJobSubmitted) -> list[Event]:
    return [submitted] if state is None else []  # a fresh random id: never taken in practice


async def _stage(blobs: BlobStore, tenant_id: str, submitted: ClassifyJobSubmitted,
                 images: list[StagedImage]) -> None:
    limit = asyncio.Semaphore(STAGING_CONCURRENCY)

    async def put(path: str, image: StagedImage) -> None:
        async with limit:
            await blobs.put(tenant_id, path, image.chunks())

    # Every upload finishes (or fails) before the first error is raised: none is left running
    # behind the cleanup that follows a failure.
    outcomes = await asyncio.gather(*(put(ref.path, image) for ref, image in zip(submitted.images, images,
                                                                                 strict=True)),
                                    return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def remove_staged_images(blobs: BlobStore, tenant_id: str, job_id: str) -> None:
    """Best effort (logged when the blob store refuses): what is left is only unreferenced bytes."""
    try:
        await asyncio.shield(blobs.delete_prefix(tenant_id, inputs_prefix(job_id)))
    except BlobError as e:
        log.warning("classify_inputs_not_removed", job_id=job_id, error=repr(e))

