"""The classifiers a worker keeps loaded for its classify jobs: the shared bounded cache, loading on demand.

torch is imported only when a classify job first needs a model: a worker that never runs one
(or only trains, in child processes) never pays for it.
"""

from __future__ import annotations

from services.worker.classify.cache import ClassifierCache
from services.worker.classify_jobs.batches import Classifier
from shared.blobs import BlobStore
from shared.events.classify import ClassifierCreated


class WorkerModels:
    def __init__(self, blobs: BlobStore, size: int) -> None:
        self.blobs = blobs
        self.cache: ClassifierCache[Classifier] = ClassifierCache(size)

    async def get(self, tenant_id: str, created: ClassifierCreated) -> Classifier:
        async def load() -> Classifier:
            from services.worker.classify.model import load_classifier  # here, not at the top: torch (see above)

            return await load_classifier(self.blobs, tenant_id, created)

        return await self.cache.get(tenant_id, created.classifier_id, load)
