"""A classify job's staged images are removed by the storage service once the job has ended, however it ended.

The worker removes them itself when it ends a job, but the scheduler can end one where no worker is
(it fails a job that no worker can run; it completes the cancel of a lost worker's job). Real blobs:
the images are put under the job's inputs prefix as the API stages them, the terminal event is
appended to the job stream, and the prefix empties while everything else of the job and of other
jobs stays.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.worker.classify_jobs.results import input_path, inputs_prefix, results_path
from shared.events import Event
from shared.events.classify import ClassifyImageRef, ClassifyJobSubmitted, ClassifyJobSucceeded
from shared.events.training import TrainingJobCancelled, TrainingJobFailed
from tests.integration.storage.conftest import Deployment
from tests.integration.storage.harness import StorageHarness, new_id

IMAGES = 3

ENDINGS = [
    pytest.param(TrainingJobFailed(attempt=None, reason="no worker can run classify jobs"), id="failed-unrunnable"),
    pytest.param(TrainingJobCancelled(attempt=1), id="cancelled-lost-worker"),
    pytest.param(ClassifyJobSucceeded(attempt=1, results_path=results_path("JOB", 1), count=IMAGES), id="succeeded"),
]


async def staged_job(storage: StorageHarness) -> str:
    """A submitted classify job with its images staged, as the API leaves it."""
    job_id = new_id()
    refs = [ClassifyImageRef(name=f"{n}.png", path=input_path(job_id, n)) for n in range(IMAGES)]
    for ref in refs:
        await storage.backends.blobs.put(storage.tenant_id, ref.path, _chunks(b"\x89PNG staged " + ref.path.encode()))
    await storage.append(f"job-{job_id}", ClassifyJobSubmitted(job_id=job_id, classifier_id="c1", images=refs,
                                                               top_k=1, submitted_by="u1"))
    return job_id


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.parametrize("ending", ENDINGS)
async def test_the_staged_images_of_an_ended_classify_job_are_removed_and_nothing_else(
    deployment: Deployment, ending: Event,
) -> None:
    async with deployment() as storage:
        ended, running = await staged_job(storage), await staged_job(storage)
        results = results_path(ended, 1)
        await storage.backends.blobs.put(storage.tenant_id, results, _chunks(b'{"results": []}'))
        assert len(await storage.blob_paths(inputs_prefix(ended))) == IMAGES

        envelope = await storage.append(f"job-{ended}", ending)
        await storage.wait_until_empty(inputs_prefix(ended))
        assert await storage.blob_paths(results) == [results]  # the results outlive the inputs
        assert len(await storage.blob_paths(inputs_prefix(running))) == IMAGES  # another job's stay

        await storage.redeliver(envelope)  # at-least-once: the second time deletes nothing and succeeds
        assert await storage.blob_paths(inputs_prefix(ended)) == []
        assert await storage.blob_paths(results) == [results]
