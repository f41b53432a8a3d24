"""Create a classifier from a training job's snapshot: check, copy its files, prove it loads, record it.

The rules, checked before anything is written: the job is a training job of the caller's tenant
(the route answers 404 otherwise); without an `iteration` it must have succeeded and saved a
snapshot (409), with one it must hold a snapshot of that iteration whatever its state (422 listing
the ones it has); its dataset must still be there (409: its labels and mean are needed); a deploy
net must be derivable from the training net (422 saying why).

Then the snapshot's weights (and the dataset's mean, when the net subtracts it) are copied under the
classifier's own prefix, because snapshot retention or a deleted dataset must not take them away
later. The model is loaded once from those copies, which proves the weights fit the deploy net and
warms the cache for the first classify call. Only then is `ClassifierCreated` appended; if anything
fails on the way the copies are deleted again, so a refused create leaves nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError

from services.api.classify.layout import classifier_prefix, mean_path, weights_path
from services.worker.classify.deploy import DeployError, InputTransform, derive_deploy, input_transform
from services.worker.classify.errors import ClassifierLoadError
from shared.blobs import BlobError, BlobNotFound, BlobStore
from shared.bus.outbox import EventPublisher
from shared.domain import classifier, dataset, solver, streams
from shared.domain.dataset import Dataset, DatasetState
from shared.domain.job import Job, Status
from shared.events import Envelope, Event
from shared.events.classify import ClassifierCreated
from shared.events.training import SnapshotRef
from shared.eventstore import EventStore

log = structlog.get_logger(__name__)


class CreateRefused(Exception):
    """Why no classifier can be made of this job (status and detail of the API's answer)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def __repr__(self) -> str:
        return f"CreateRefused({self.status}, {self.detail!r})"


@dataclass(frozen=True)
class NewClassifier:
    """What a create asks for."""

    classifier_id: str
    name: str
    iteration: int | None
    created_by: str


@dataclass(frozen=True)
class Created:
    event: ClassifierCreated
    envelopes: list[Envelope]
    model: Any  # the loaded ClassifierModel, for the cache


def choose_snapshot(job: Job, iteration: int | None) -> SnapshotRef:
    """The snapshot a classifier is made of: the one asked for, or a succeeded job's last."""
    if iteration is None:
        if job.status is not Status.SUCCEEDED:
            raise CreateRefused(409, f"training job {job.job_id} is {job.status.public}: a classifier needs a "
                                     "succeeded job, or an `iteration` the job saved a snapshot of")
        if job.last_snapshot is None:
            raise CreateRefused(409, f"training job {job.job_id} saved no snapshot to make a classifier of")
        return job.last_snapshot
    for snapshot in reversed(job.snapshots):
        if snapshot.iteration == iteration:
            return snapshot
    saved = ", ".join(str(s.iteration) for s in job.snapshots)
    have = f"it has snapshots of iterations {saved}" if saved else "it has saved no snapshot yet"
    raise CreateRefused(422, f"training job {job.job_id} has no snapshot of iteration {iteration}: {have}")


def usable_dataset(found: Dataset | None, dataset_id: str) -> Dataset:
    if found is None or found.state is DatasetState.DELETED or found.shape is None:
        raise CreateRefused(409, f"dataset {dataset_id} of the training job is gone: a classifier needs its labels "
                                 "and image settings")
    return found


def derive(net_text: str, shape: tuple[int, int, int]) -> tuple[str, InputTransform]:
    """The deploy prototxt and the input transform (CPU work: run it in a thread)."""
    channels, height, width = shape
    try:
        return derive_deploy(net_text, channels=channels, height=height, width=width), input_transform(net_text)
    except DeployError as e:
        raise CreateRefused(422, f"no deploy net can be derived from the training net: {e.reason}") from None


async def create_classifier(store: EventStore, blobs: BlobStore, publisher: EventPublisher, *, tenant_id: str,
                            job: Job, request: NewClassifier) -> Created:
    snapshot = choose_snapshot(job, request.iteration)
    found_solver, _ = await streams.load(store, tenant_id, solver.solver_stream(job.solver_id), solver.evolve)
    if found_solver is None:
        raise CreateRefused(409, f"solver {job.solver_id} of the training job is gone")
    found = usable_dataset((await streams.load(store, tenant_id, dataset.dataset_stream(job.dataset_id),
                                               dataset.evolve))[0], job.dataset_id)
    assert found.shape is not None  # usable_dataset checked
    deploy, transform = await asyncio.to_thread(derive, found_solver.net_prototxt, found.shape)
    dataset_mean = (found.files or {}).get("mean") if transform.mean_file else None
    if transform.mean_file and dataset_mean is None:
        raise CreateRefused(409, f"the training net subtracts a mean file, but dataset {found.dataset_id} has none")
    classifier_id = request.classifier_id
    try:
        await _copy(blobs, tenant_id, snapshot.caffemodel_path, weights_path(classifier_id),
                    f"the caffemodel of iteration {snapshot.iteration}")
        if dataset_mean is not None:
            await _copy(blobs, tenant_id, dataset_mean, mean_path(classifier_id),
                        f"the mean file of dataset {found.dataset_id}")
        event = _describe(request, job, snapshot, found, deploy, transform, has_mean=dataset_mean is not None)
        model = await _load(blobs, tenant_id, event)
        envelopes = await streams.execute(store, publisher, tenant_id=tenant_id,
                                          stream_id=classifier.classifier_stream(classifier_id),
                                          evolve=classifier.evolve, decide=lambda state: _new(state, event))
    except BaseException:
        await _remove(blobs, tenant_id, classifier_id)
        raise
    return Created(event, envelopes, model)


def _describe(request: NewClassifier, job: Job, snapshot: SnapshotRef, found: Dataset, deploy: str,
              transform: InputTransform, *, has_mean: bool) -> ClassifierCreated:
    try:
        return ClassifierCreated(
            classifier_id=request.classifier_id, name=request.name, training_job_id=job.job_id,
            iteration=snapshot.iteration, dataset_id=found.dataset_id, labels=list(found.labels), image=found.image,
            mean_path=mean_path(request.classifier_id) if has_mean else None, mean_values=list(transform.mean_values),
            input_scale=transform.scale, crop_size=transform.crop_size,
            caffemodel_path=weights_path(request.classifier_id), deploy_prototxt=deploy, created_by=request.created_by)
    except ValidationError as e:
        problem = e.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise CreateRefused(422, f"the classifier cannot be recorded: {where}: {problem['msg']}") from None


async def _load(blobs: BlobStore, tenant_id: str, event: ClassifierCreated) -> Any:
    from services.worker.classify.model import load_classifier  # torch: only where models are loaded

    try:
        return await load_classifier(blobs, tenant_id, event)
    except ClassifierLoadError as e:
        raise CreateRefused(422, f"the snapshot does not load as a classifier: {e.reason}") from None


def _new(state: classifier.Classifier | None, event: ClassifierCreated) -> list[Event]:
    return classifier.decide_create(state, event)


async def _copy(blobs: BlobStore, tenant_id: str, source: str, target: str, what: str) -> None:
    try:
        await blobs.stat(tenant_id, source)
    except BlobNotFound:
        raise CreateRefused(409, f"{what} is no longer stored") from None
    await blobs.put(tenant_id, target, blobs.get(tenant_id, source))


async def _remove(blobs: BlobStore, tenant_id: str, classifier_id: str) -> None:
    """Best effort, shielded from the cancellation that may be the reason we are here."""
    try:
        await asyncio.shield(blobs.delete_prefix(tenant_id, classifier_prefix(classifier_id)))
    except BlobError as e:
        log.warning("classifier_files_not_removed", classifier_id=classifier_id, error=repr(e))
