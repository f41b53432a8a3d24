"""The scheduler service runs classify jobs through the same queue as training jobs, on real backends.

Each test runs on SQLite + the in-process bus and on the MongoDB-wire server + RabbitMQ. Classify
jobs are submitted as the API submits them (`ClassifyJobSubmitted`) and ended as a worker ends
them (`ClassifyJobSucceeded` of the attempt); the workers are `FakeWorker`s (see `cluster.py`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from shared.domain import job as job_domain
from shared.domain.job import Status
from shared.domain.streams import execute
from shared.events import registry
from shared.events.classify import ClassifyImageRef, ClassifyJobSubmitted, ClassifyJobSucceeded
from shared.events.training import TrainingJobSucceeded
from tests.integration.scheduler.cluster import Cluster, FakeWorker, Received, eventually

pytestmark = pytest.mark.timeout(90)


async def submit_classify(cluster: Cluster, tenant_id: str) -> str:
    job_id = uuid.uuid4().hex[:16]
    event = ClassifyJobSubmitted(job_id=job_id, classifier_id="c1", top_k=1, submitted_by="u",
                                 images=[ClassifyImageRef(name="a.png", path=f"jobs/{job_id}/inputs/000000")])
    await cluster.publisher.append_and_publish(
        [registry.envelope(event, tenant_id=tenant_id, stream_id=f"job-{job_id}", stream_version=1)],
        expected_version=0)
    return job_id


async def finish(worker: FakeWorker, received: Received) -> None:
    """End the job the way its worker would: by the success event of its kind."""
    kind = (await worker.cluster.job(received.tenant_id, received.job_id)).kind
    worker.running.discard((received.tenant_id, received.job_id))
    event = (ClassifyJobSucceeded(attempt=received.attempt, results_path="r.json", count=1) if kind == "classify"
             else TrainingJobSucceeded(attempt=received.attempt, iteration=10))
    assert await worker.write(received.tenant_id, received.job_id, event)


async def online(cluster: Cluster, worker_id: str) -> bool:
    found = cluster.schedulers["s1"].service.registry.get(worker_id)
    return found is not None and found.status.value == "online"


async def test_classify_and_training_jobs_share_the_slots_fairly_across_tenants(cluster: Cluster) -> None:
    cluster.start_scheduler("s1")
    worker = await cluster.add_worker("w1", slots=2)
    await eventually(lambda: online(cluster, "w1"))
    big = [("big", await submit_classify(cluster, "big")) for _ in range(4)]
    await eventually(lambda: _received(worker, 2))
    late = [("trainer", await cluster.submit("trainer")), ("viewer", await submit_classify(cluster, "viewer"))]
    for received in list(worker.received):  # both slots free up, one at a time
        await finish(worker, received)
    await eventually(lambda: _received(worker, 4))
    # big holds classify jobs: each freed slot goes to a tenant with nothing running first
    assert {r.tenant_id for r in worker.received[2:]} == {"trainer", "viewer"}
    while len(worker.received) < 6 or worker.running:
        pending = [r for r in worker.received if (r.tenant_id, r.job_id) in worker.running]
        if pending:
            await finish(worker, pending[0])
        await eventually(lambda: _settled(worker))
    for tenant_id, job_id in big + late:
        job = await cluster.job(tenant_id, job_id)
        assert (job.status, job.attempt) == (Status.SUCCEEDED, 1), (tenant_id, job_id)
    assert worker.most_running == 2


async def test_a_worker_without_the_torch_engine_is_never_given_a_classify_job(cluster: Cluster) -> None:
    cluster.start_scheduler("s1")
    caffe_only = await cluster.add_worker("caffe-only", engines=("caffe",))
    await eventually(lambda: online(cluster, "caffe-only"))
    job_id = await submit_classify(cluster, "acme")
    torch = await cluster.add_worker("torch", engines=("torch",))
    await eventually(lambda: _received(torch, 1))
    assert (torch.received[0].job_id, torch.received[0].gpus) == (job_id, [])
    assert caffe_only.received == []


async def test_a_lost_workers_classify_job_is_requeued_and_its_old_attempt_fenced(cluster: Cluster) -> None:
    cluster.start_scheduler("s1", lost_after=timedelta(seconds=0.6))
    doomed = await cluster.add_worker("w1", engines=("torch",))
    job_id = await submit_classify(cluster, "acme")
    await eventually(lambda: _received(doomed, 1))
    await doomed.die()
    rescuer = await cluster.add_worker("w2", engines=("torch",))
    await eventually(lambda: _received(rescuer, 1), timeout_s=20)
    assert rescuer.received[0].attempt == 2 and rescuer.received[0].resume_from is None
    late = ClassifyJobSucceeded(attempt=1, results_path=f"jobs/{job_id}/results/1.json", count=1)
    assert not await doomed.write("acme", job_id, late)  # the first worker comes back: refused
    await finish(rescuer, rescuer.received[0])
    job = await cluster.job("acme", job_id)
    assert (job.status, job.attempt, job.results_path) == (Status.SUCCEEDED, 2, "r.json")


async def test_a_cancelled_queued_classify_job_leaves_the_queue(cluster: Cluster) -> None:
    cluster.start_scheduler("s1")
    cancelled = await submit_classify(cluster, "acme")
    await execute(cluster.store, cluster.publisher, tenant_id="acme", stream_id=f"job-{cancelled}",
                  evolve=job_domain.evolve,
                  decide=lambda job: job_domain.decide_cancel(job, requested_by="u") if job else [])
    kept = await submit_classify(cluster, "acme")
    worker = await cluster.add_worker("w1")
    await eventually(lambda: _received(worker, 1))
    assert [r.job_id for r in worker.received] == [kept]
    assert (await cluster.job("acme", cancelled)).status is Status.CANCELLED


async def _received(worker: FakeWorker, count: int) -> bool:
    return len(worker.received) >= count


async def _settled(worker: FakeWorker) -> bool:
    """Every free slot taken while jobs wait (the scheduler acts on each freed slot at once)."""
    return len(worker.running) == 2 or len(worker.received) == 6
