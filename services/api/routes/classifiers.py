"""Classifiers: a training job's snapshot made into a model that labels images; create, list, classify, download.

Every lookup is in the caller's tenant only (another tenant's classifier or job is 404 like one
that never existed). A classify request reads its images first (multipart uploads or URLs, with
the per-image size and per-request count limits), then hands them to the synchronous path
(`services.api.classify.now.classify_now`), which answers with the top-k labels per image.
"""

from __future__ import annotations

import contextlib

from aiohttp import web

from services.api.classify.archive import base_name, members, tar_gz
from services.api.classify.create import CreateRefused, NewClassifier, create_classifier
from services.api.classify.inputs import InputLimits, fetch_urls, read_uploads
from services.api.classify.layout import classifier_prefix
from services.api.classify.now import classify_now
from services.api.classify.staging import StagedImages
from services.api.classify.submit import runs_as_job, submit_classify_job
from services.api.keys import BACKENDS, CLASSIFIERS, PUBLISHER, READ_MODEL, SETTINGS
from services.api.principal import require_user
from services.api.problems import ApiProblem
from services.api.projections.classifiers import ClassifierRecord, Classifiers
from services.api.projections.jobs import JobsView
from services.api.routing import RouteTable, read_body, read_query, reply
from services.api.schemas.classifiers import (
    Classifier,
    ClassifierList,
    ClassifyQuery,
    ClassifyResponse,
    ClassifyUrlsRequest,
    CreateClassifierRequest,
    InputTransform,
)
from services.api.schemas.jobs import JobAccepted
from services.api.tokens import is_id, new_id
from services.api.validation import json_body, validated
from shared.blobs import BlobNotFound
from shared.domain import classifier, streams
from shared.domain.classifier import ClassifierRuleViolation
from shared.events import Event

table = RouteTable("classifiers")

UPLOAD_TYPES = ("multipart/form-data",)


@table.post("/v1/classifiers", summary="Make a classifier of a training job's snapshot", auth="tenant",
            body=CreateClassifierRequest, response=Classifier, status=201, errors=(409,))
async def create_classifier_route(request: web.Request) -> web.Response:
    """The deploy net is derived from the job's training net (data layers become an Input of the
    dataset's shape, loss and accuracy a Softmax `prob`), with the dataset's labels, resize mode and
    mean. 404: not the caller's training job; 409: the job has not succeeded (without `iteration`),
    or its dataset or weights are gone; 422: no snapshot of `iteration`, or no deploy net derivable."""
    user = require_user(request)
    body = await read_body(request, CreateClassifierRequest)
    view = await request.app[READ_MODEL].catch_up(user.tenant_id)
    record = view.get(JobsView).get(body.training_job_id)
    if record is None or record.job.kind != "training":
        raise ApiProblem(404, f"no training job {body.training_job_id}")
    backends = request.app[BACKENDS]
    wanted = NewClassifier(classifier_id=new_id(), name=body.name, iteration=body.iteration, created_by=user.user_id)
    try:
        created = await create_classifier(backends.store, backends.blobs, request.app[PUBLISHER],
                                          tenant_id=user.tenant_id, job=record.job, request=wanted)
    except CreateRefused as e:
        raise ApiProblem(e.status, e.detail) from None
    request.app[CLASSIFIERS].put(user.tenant_id, wanted.classifier_id, created.model)
    view = await request.app[READ_MODEL].written(user.tenant_id, created.envelopes)
    return reply(_public(_find(view.get(Classifiers), wanted.classifier_id)), status=201)


@table.get("/v1/classifiers", summary="The tenant's classifiers, oldest first", auth="tenant",
           response=ClassifierList)
async def list_classifiers(request: web.Request) -> web.Response:
    user = require_user(request)
    view = await request.app[READ_MODEL].catch_up(user.tenant_id)
    return reply(ClassifierList(items=[_public(r) for r in view.get(Classifiers)]))


@table.get("/v1/classifiers/{id}", summary="One classifier: its job, snapshot, labels and preprocessing",
           auth="tenant", response=Classifier)
async def get_classifier(request: web.Request) -> web.Response:
    user = require_user(request)
    view = await request.app[READ_MODEL].catch_up(user.tenant_id)
    return reply(_public(_find(view.get(Classifiers), request.match_info["id"])))


@table.delete("/v1/classifiers/{id}", summary="Delete a classifier and its files", auth="tenant", status=204)
async def delete_classifier(request: web.Request) -> web.Response:
    """The snapshot it was made of stays with its training job."""
    user = require_user(request)
    classifier_id = request.match_info["id"]
    if not is_id(classifier_id):
        raise _missing(classifier_id)
    backends = request.app[BACKENDS]

    def decide(state: classifier.Classifier | None) -> list[Event]:
        return classifier.decide_delete(state, classifier_id=classifier_id, deleted_by=user.user_id)

    try:
        envelopes = await streams.execute(backends.store, request.app[PUBLISHER], tenant_id=user.tenant_id,
                                          stream_id=classifier.classifier_stream(classifier_id),
                                          evolve=classifier.evolve, decide=decide)
    except ClassifierRuleViolation:
        raise _missing(classifier_id) from None
    request.app[CLASSIFIERS].evict(user.tenant_id, classifier_id)
    await backends.blobs.delete_prefix(user.tenant_id, classifier_prefix(classifier_id))
    await request.app[READ_MODEL].written(user.tenant_id, envelopes)
    return web.Response(status=204)


@table.post("/v1/classifiers/{id}/classify", summary="Classify images: top-k labels with probabilities",
            auth="tenant", query=ClassifyQuery, body=ClassifyUrlsRequest, raw_body=UPLOAD_TYPES,
            response=ClassifyResponse, errors=(409, 413, 503),
            also=((202, JobAccepted, "Queued as a classify job (`async=true`, or more images than answer at once)"),))
async def classify_images(request: web.Request) -> web.Response:
    """Images as multipart/form-data fields `image` or `images` (any number of either), or JSON
    `{"urls": [...]}` (http/https, fetched by the API; private addresses refused unless the deployment
    allows them). Per image at most `ET_CLASSIFY_MAX_IMAGE_BYTES`, per request at most
    `ET_CLASSIFY_JOB_MAX_IMAGES` images (413). An image that is not a decodable image: 422 naming it.
    With `async=true`, or more than `ET_CLASSIFY_SYNC_MAX_IMAGES` images, the images are queued as a
    classify job instead: 202 `{"id", "state": "queued"}`, then `/v1/classify-jobs/{id}` (state,
    `/results` once succeeded; an image the worker cannot decode gets an `error` in its entry)."""
    user = require_user(request)
    query = read_query(request, ClassifyQuery)
    view = await request.app[READ_MODEL].catch_up(user.tenant_id)
    record = _find(view.get(Classifiers), request.match_info["id"])
    with await _read_images(request) as images:
        if runs_as_job(request.app[SETTINGS], count=len(images), asked_async=query.run_async):
            return await submit_classify_job(request, user, classifier_id=record.created.classifier_id,
                                             images=images, top_k=query.top_k)
        backends = request.app[BACKENDS]
        answer = await classify_now(request.app[CLASSIFIERS], backends.store, backends.blobs,
                                    tenant_id=user.tenant_id, classifier_id=record.created.classifier_id,
                                    images=images, top_k=query.top_k)
    return reply(answer)


@table.get("/v1/classifiers/{id}/download", summary="Download the classifier as a tar.gz Caffe loads",
           auth="tenant", media="application/gzip", errors=(409,))
async def download_classifier(request: web.Request) -> web.StreamResponse:
    """`deploy.prototxt`, `<name>.caffemodel`, `labels.txt`, `mean.binaryproto` (when the net subtracts
    the mean) and `classifier.json` (how to prepare an image), streamed."""
    user = require_user(request)
    view = await request.app[READ_MODEL].catch_up(user.tenant_id)
    record = _find(view.get(Classifiers), request.match_info["id"])
    backends = request.app[BACKENDS]
    state, _ = await streams.load(backends.store, user.tenant_id,
                                  classifier.classifier_stream(record.created.classifier_id), classifier.evolve)
    if state is None or state.deleted:
        raise _missing(record.created.classifier_id)
    created = state.created
    try:
        weights = await backends.blobs.stat(user.tenant_id, created.caffemodel_path)
        mean = await backends.blobs.stat(user.tenant_id, created.mean_path) if created.mean_path else None
    except BlobNotFound:
        raise ApiProblem(409, f"the files of classifier {created.classifier_id} are no longer stored") from None
    parts = members(created, weights_size=weights.size, mean_size=mean.size if mean else None)
    response = web.StreamResponse(headers={
        "Content-Type": "application/gzip",
        "Content-Disposition": f'attachment; filename="{base_name(created)}.tar.gz"'})
    response.enable_chunked_encoding()
    await response.prepare(request)
    async with contextlib.aclosing(tar_gz(backends.blobs, user.tenant_id, parts)) as chunks:
        async for chunk in chunks:
            if chunk:
                await response.write(chunk)
    await response.write_eof()
    return response


async def _read_images(request: web.Request) -> StagedImages:
    settings = request.app[SETTINGS]
    limits = InputLimits.from_settings(settings)
    if request.content_type == "application/json":
        body = validated(ClassifyUrlsRequest, await json_body(request))
        return await fetch_urls(body.urls, settings, limits)
    if request.content_type in UPLOAD_TYPES:
        return await read_uploads(request, limits)
    raise ApiProblem(415, "send the images as multipart/form-data (fields 'image' or 'images') or JSON "
                          f"{{\"urls\": [...]}}; got {request.content_type or 'no body'}")


def _find(index: Classifiers, classifier_id: str) -> ClassifierRecord:
    found = index.get(classifier_id) if is_id(classifier_id) else None
    if found is None:
        raise _missing(classifier_id)
    return found


def _missing(classifier_id: str) -> ApiProblem:
    return ApiProblem(404, f"no classifier {classifier_id}")


def _public(record: ClassifierRecord) -> Classifier:
    created = record.created
    channels = 1 if created.image.color == "gray" else 3
    side = created.crop_size
    return Classifier(
        id=created.classifier_id, name=created.name, training_job_id=created.training_job_id,
        iteration=created.iteration, dataset_id=created.dataset_id, labels=list(created.labels), image=created.image,
        input=InputTransform(shape=[channels, side or created.image.height, side or created.image.width],
                             scale=created.input_scale, mean="mean.binaryproto" if created.mean_path else None,
                             mean_values=list(created.mean_values), crop_size=created.crop_size),
        created_by=created.created_by, created_at=record.state.created_at,
        download=f"/v1/classifiers/{created.classifier_id}/download")
