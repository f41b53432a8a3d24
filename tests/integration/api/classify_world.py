"""Classify jobs in the API's test world, written as the classify route and a worker write them.

`submit_classify` leaves what `POST /v1/classifiers/{id}/classify?async=true` leaves (staged images,
then the submission); `succeed_classify` what a worker leaves (results blob, then the attempt's
start and success, fenced by the job aggregate).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from services.api.tokens import new_id
from services.worker.classify_jobs.results import (
    ClassifiedImage,
    ClassifyResults,
    LabelProbability,
    input_path,
    results_path,
)
from shared.events.classify import ClassifyImageRef, ClassifyJobSubmitted, ClassifyJobSucceeded
from shared.events.training import TrainingJobStarted
from tests.integration.api.jobs_world import TenantUsers, World


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def submit_classify(world: World, tenant: TenantUsers, *, images: int = 2, classifier_id: str = "c1") -> str:
    job_id = new_id()
    for n in range(images):
        await world.backends.blobs.put(tenant.tenant_id, input_path(job_id, n), _bytes(b"png"))
    await world.append(tenant.tenant_id, f"job-{job_id}", [ClassifyJobSubmitted(
        job_id=job_id, classifier_id=classifier_id, top_k=2, submitted_by=tenant.member_id,
        images=[ClassifyImageRef(name=f"{n}.png", path=input_path(job_id, n)) for n in range(images)])])
    return job_id


async def succeed_classify(world: World, tenant_id: str, job_id: str) -> ClassifyResults:
    results = ClassifyResults(job_id=job_id, classifier_id="c1", top_k=1, count=2, failed=1, results=[
        ClassifiedImage(name="0.png", predictions=[LabelProbability(label="7", probability=0.99)]),
        ClassifiedImage(name="1.png", predictions=[], error="not an image")])
    path = results_path(job_id, 1)
    await world.backends.blobs.put(tenant_id, path, _bytes(results.model_dump_json().encode()))
    await world.worker_writes(tenant_id, job_id, [TrainingJobStarted(worker_id="w1", attempt=1, pid=1),
                                                  ClassifyJobSucceeded(attempt=1, results_path=path, count=2)])
    return results


async def staged(world: World, tenant_id: str, job_id: str) -> list[str]:
    return [info.path async for info in world.backends.blobs.list(tenant_id, f"jobs/{job_id}/inputs/")]
