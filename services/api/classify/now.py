"""Classify a few images at once, with the classifier this API process keeps loaded.

The synchronous path of `POST /v1/classifiers/{id}/classify`. The model comes from the process's
`ClassifierCache` (loaded on the first call, from the classifier's stream and files; a burst of
first calls loads it once); decoding and the forward pass run in a thread, so the event loop keeps
serving while the CPU works. Any image that is not usable refuses the whole request with a 422
naming it: a synchronous caller gets an answer for every image or an error, never half of both.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.api.classify.staging import StagedImages
from services.api.problems import ApiProblem
from services.api.schemas.classifiers import ClassifiedImage, ClassifyResponse, LabelProbability
from services.worker.classify.cache import ClassifierCache
from services.worker.classify.errors import ClassifierLoadError
from services.worker.classify.preprocess import ImageUnusable
from shared.blobs import BlobStore
from shared.domain import classifier, streams
from shared.eventstore import EventStore


async def classify_now(cache: ClassifierCache[Any], store: EventStore, blobs: BlobStore, *, tenant_id: str,
                       classifier_id: str, images: StagedImages, top_k: int) -> ClassifyResponse:
    """Top-k labels for every staged image, in order; 404 unknown classifier, 422 unusable image."""
    model = await cache.get(tenant_id, classifier_id, lambda: load(store, blobs, tenant_id, classifier_id))
    names = images.names

    def run() -> Any:  # reading a staged image may touch the disk: in the thread too
        return model.classify([image.data() for image in images.items], top_k, names=names)

    try:
        predictions = await asyncio.to_thread(run)
    except ImageUnusable as e:
        raise ApiProblem(422, f"image {e.name!r} cannot be classified: {e.reason}", image=e.name) from None
    return ClassifyResponse(results=[
        ClassifiedImage(name=name, predictions=[LabelProbability(label=p.label, probability=p.probability)
                                                for p in found])
        for name, found in zip(names, predictions, strict=True)])


async def load(store: EventStore, blobs: BlobStore, tenant_id: str, classifier_id: str) -> Any:
    """The classifier's model from its stream and files (what the cache calls on a miss)."""
    from services.worker.classify.model import load_classifier  # torch: only where models are loaded

    state, _ = await streams.load(store, tenant_id, classifier.classifier_stream(classifier_id), classifier.evolve)
    if state is None or state.deleted:
        raise ApiProblem(404, f"no classifier {classifier_id}")
    try:
        return await load_classifier(blobs, tenant_id, state.created)
    except ClassifierLoadError as e:
        raise ApiProblem(409, f"classifier {classifier_id} cannot be loaded: {e.reason}") from None
