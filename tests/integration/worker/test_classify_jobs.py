"""The worker runs classify jobs: real digits staged in the blob store, a real classifier, results as JSON.

A worker service in-process on SQLite + the in-process bus + local blobs. The classifier is real:
the deploy net derived from LeNet's training net, with weights from our torch engine's seeded
fillers written as a .caffemodel, loaded through the worker's model cache. The job streams are
written as the API (submission, cancel) and the scheduler (assignment, requeue) write them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

import pytest

from services.worker.classify.deploy import derive_deploy
from services.worker.classify.model import ClassifierModel
from services.worker.classify_jobs.batches import Classifier, Prepared, Scored
from services.worker.classify_jobs.models import WorkerModels
from services.worker.classify_jobs.results import ClassifyResults, input_path, results_path
from services.worker.classify_jobs.run import ClassifyContext
from services.worker.engines.torch.net import TorchNet
from services.worker.engines.torch.prototxt import parse_net_text
from services.worker.service import WorkerService
from shared.events.classify import (
    ClassifierCreated,
    ClassifierDeleted,
    ClassifyImageRef,
    ClassifyJobSubmitted,
    ClassifyJobSucceeded,
)
from shared.events.data import ImageSpec
from shared.events.training import (
    TrainingJobAssigned,
    TrainingJobCancelled,
    TrainingJobCancelRequested,
    TrainingJobFailed,
    TrainingJobRequeued,
)
from tests.integration.worker.harness import NET, TENANT, World, eventually, types
from tests.support.archives import array_png
from tests.support.mnist import MnistSplit

pytestmark = pytest.mark.slow

WEIGHTS = "jobs/t0/snapshots/50.caffemodel"
LABELS = [str(n) for n in range(10)]


class RunningWorker:
    def __init__(self, service: WorkerService) -> None:
        self.service = service
        self.stopping = asyncio.Event()
        self.task = asyncio.create_task(service.run(self.stopping))

    @property
    def classify(self) -> ClassifyContext:
        assert self.service.executor is not None and isinstance(self.service.executor.classify, ClassifyContext)
        return self.service.executor.classify

    def slow_down(self, delay_s: float) -> None:
        """Batches of one image that take `delay_s` each: a job that is still running when we act on it."""
        executor = self.service.executor
        assert executor is not None
        executor.classify = replace(self.classify, models=SlowModels(self.classify.models, delay_s), batch_size=1,
                                    check_s=0.05)


class SlowModel:
    def __init__(self, model: Classifier, delay_s: float) -> None:
        self.model = model
        self.delay_s = delay_s

    def prepare(self, data: bytes, name: str) -> Prepared:
        return self.model.prepare(data, name)

    def predict(self, inputs: Sequence[Prepared], top_k: int = 5) -> Sequence[Sequence[Scored]]:
        time.sleep(self.delay_s)  # runs in the batch's thread, as real inference does
        return self.model.predict(inputs, top_k)


class SlowModels:
    def __init__(self, models: object, delay_s: float) -> None:
        assert isinstance(models, WorkerModels)
        self.models = models
        self.delay_s = delay_s

    async def get(self, tenant_id: str, created: ClassifierCreated) -> Classifier:
        return SlowModel(await self.models.get(tenant_id, created), self.delay_s)


@pytest.fixture
async def worker(world: World) -> AsyncIterator[RunningWorker]:
    running = RunningWorker(world.worker(slots=2))
    await eventually(lambda: _online(world), what="worker online")
    yield running
    if not running.task.done():
        running.stopping.set()
        await asyncio.wait_for(running.task, 30)


async def _online(world: World) -> bool:
    return await world.backends.store.stream_version("_system", "worker-w1") > 0


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def create_classifier(world: World, classifier_id: str = "c1") -> ClassifierCreated:
    """What `POST /v1/classifiers` records for a LeNet snapshot (weights from seeded fillers)."""
    deploy = derive_deploy(NET, channels=1, height=28, width=28)
    weights = TorchNet(parse_net_text(deploy), "TEST", seed=1).to_proto().SerializeToString()
    await world.backends.blobs.put(TENANT, WEIGHTS, _bytes(weights))
    created = ClassifierCreated(
        classifier_id=classifier_id, training_job_id="t0", iteration=50, dataset_id="ds1", labels=LABELS,
        image=ImageSpec(width=28, height=28, resize_mode="squash", color="gray"), input_scale=0.00390625,
        caffemodel_path=WEIGHTS, deploy_prototxt=deploy, created_by="u1")
    await world.append(f"classifier-{classifier_id}", [created])
    return created


async def submit_and_assign(world: World, job_id: str, images: Sequence[tuple[str, bytes]], *,
                            classifier_id: str = "c1", top_k: int = 3) -> None:
    """The API stages the images and appends the submission; the scheduler assigns it to w1."""
    for n, (_, data) in enumerate(images):
        await world.backends.blobs.put(TENANT, input_path(job_id, n), _bytes(data))
    await world.append(f"job-{job_id}", [ClassifyJobSubmitted(
        job_id=job_id, classifier_id=classifier_id, top_k=top_k, submitted_by="u1",
        images=[ClassifyImageRef(name=name, path=input_path(job_id, n)) for n, (name, _) in enumerate(images)])])
    await world.append(f"job-{job_id}", [TrainingJobAssigned(worker_id="w1", attempt=1, engine="torch", gpus=[])],
                       recipient="worker-w1")


def digits(mnist: MnistSplit, count: int) -> list[tuple[str, bytes]]:
    test = mnist.test
    return [(f"digit-{n}.png", array_png(test.images[n])) for n in range(count)]


async def ended(world: World, job_id: str) -> bool:
    return (await world.job(job_id)).status.terminal


async def started(world: World, job_id: str) -> bool:
    return "TrainingJobStarted" in types(await world.events(job_id))


async def stored(world: World, prefix: str) -> list[str]:
    return [info.path async for info in world.backends.blobs.list(TENANT, prefix)]


async def test_a_classify_job_classifies_its_staged_images_with_the_classifier_and_stores_the_results(
    world: World, worker: RunningWorker, mnist: MnistSplit,
) -> None:
    created = await create_classifier(world)
    images = digits(mnist, 70)
    images.insert(3, ("notes.txt", b"this is not an image"))
    await submit_and_assign(world, "j1", images)
    await eventually(lambda: ended(world, "j1"), 60, "classify job end")
    events = await world.events("j1")
    job = await world.job("j1")
    assert job.status.value == "succeeded", job.reason
    assert types(events) == ["ClassifyJobSubmitted", "TrainingJobAssigned", "TrainingJobStarted",
                             "ClassifyJobSucceeded"]
    assert events[-1] == ClassifyJobSucceeded(attempt=1, results_path=results_path("j1", 1), count=71)
    raw = b"".join([c async for c in world.backends.blobs.get(TENANT, results_path("j1", 1))])
    results = ClassifyResults.model_validate(json.loads(raw))
    assert (results.job_id, results.classifier_id, results.top_k, results.count, results.failed) == ("j1", "c1", 3,
                                                                                                      71, 1)
    assert [r.name for r in results.results] == [name for name, _ in images]
    bad = results.results[3]
    assert bad.predictions == [] and bad.error is not None and "image" in bad.error
    # The same answers as the classifier gives when asked directly (the synchronous path's model).
    weights = b"".join([c async for c in world.backends.blobs.get(TENANT, WEIGHTS)])
    direct = ClassifierModel.from_created(created, weights, None).classify(
        [data for name, data in images if name != "notes.txt"], 3)
    got = [r.predictions for r in results.results if r.error is None]
    assert [[p.label for p in row] for row in got] == [[p.label for p in row] for row in direct]
    assert all(abs(a.probability - b.probability) < 1e-5 for row, ref in zip(got, direct, strict=True)
               for a, b in zip(row, ref, strict=True))
    assert all(row[0].probability >= row[1].probability >= row[2].probability for row in got)
    await eventually(lambda: _idle(worker), 10, "run finished")
    assert await stored(world, "jobs/j1/inputs/") == []  # the job has ended: its staged images are removed


async def test_the_model_stays_loaded_for_the_next_classify_job(
    world: World, worker: RunningWorker, mnist: MnistSplit,
) -> None:
    await create_classifier(world)
    for job_id in ("j1", "j2"):
        await submit_and_assign(world, job_id, digits(mnist, 5))
        await eventually(lambda: ended(world, job_id), 60, "classify job end")  # noqa: B023 (awaited at once)
        assert (await world.job(job_id)).status.value == "succeeded"
    models = worker.classify.models
    assert isinstance(models, WorkerModels) and models.cache.loads == 1


async def test_cancelling_a_running_classify_job_stops_it_between_batches(
    world: World, worker: RunningWorker, mnist: MnistSplit,
) -> None:
    await create_classifier(world)
    worker.slow_down(0.2)
    await submit_and_assign(world, "j1", digits(mnist, 100))  # 20 s of batches if it ran to the end
    await eventually(lambda: started(world, "j1"), 30, "job start")
    asked = time.monotonic()
    await world.append("job-j1", [TrainingJobCancelRequested(requested_by="u1")], recipient="worker-w1")
    await eventually(lambda: ended(world, "j1"), 10, "cancel")
    assert time.monotonic() - asked < 5
    events = await world.events("j1")
    assert events[-1] == TrainingJobCancelled(attempt=1)
    await eventually(lambda: _idle(worker), 10, "run finished")
    assert await stored(world, "jobs/j1/results/") == []
    assert await stored(world, "jobs/j1/inputs/") == []


async def test_a_requeued_classify_job_is_fenced_and_its_late_attempt_writes_nothing(
    world: World, worker: RunningWorker, mnist: MnistSplit,
) -> None:
    """The scheduler wrote this worker off (requeue, not addressed to it): it must notice and stop."""
    await create_classifier(world)
    worker.slow_down(0.2)
    await submit_and_assign(world, "j1", digits(mnist, 100))
    await eventually(lambda: started(world, "j1"), 30, "job start")
    await world.append("job-j1", [TrainingJobRequeued(attempt=1, reason="worker w1 lost")])
    await eventually(lambda: _idle(worker), 10, "run stopped")
    await asyncio.sleep(0.5)
    assert types(await world.events("j1"))[-1] == "TrainingJobRequeued"  # nothing more from attempt 1
    assert await stored(world, "jobs/j1/results/") == []
    assert len(await stored(world, "jobs/j1/inputs/")) == 100  # kept for the next attempt


async def test_a_job_whose_images_are_all_unreadable_or_whose_classifier_is_gone_fails_saying_why(
    world: World, worker: RunningWorker, mnist: MnistSplit,
) -> None:
    await create_classifier(world)
    await submit_and_assign(world, "j1", [("a.txt", b"text"), ("b.png", array_png(mnist.test.images[0])[:40])])
    await create_classifier(world, "c2")
    await world.append("classifier-c2", [ClassifierDeleted(deleted_by="u1")])
    await submit_and_assign(world, "j2", digits(mnist, 2), classifier_id="c2")
    for job_id in ("j1", "j2"):
        await eventually(lambda: ended(world, job_id), 60, "job end")  # noqa: B023 (awaited at once)
    first, second = (await world.events("j1"))[-1], (await world.events("j2"))[-1]
    assert isinstance(first, TrainingJobFailed) and first.attempt == 1
    assert first.reason.startswith("none of the 2 images could be classified; a.txt: ")
    assert second == TrainingJobFailed(attempt=1, reason="classifier c2 was deleted")


async def _idle(worker: RunningWorker) -> bool:
    executor = worker.service.executor
    return executor is not None and not executor.runs
