"""A job's log, metrics and snapshots over real HTTP, from events appended as a worker writes them."""

from __future__ import annotations

import asyncio

from shared.events.retention import SnapshotsPruned
from shared.events.training import (
    SnapshotRef,
    SnapshotSaved,
    TrainingJobRequeued,
    TrainingLogAppended,
    TrainingProgressed,
)
from tests.integration.api.jobs_world import World


async def test_log_is_every_line_in_order_once(world: World) -> None:
    tenant = await world.tenant("acme")
    job_id = await world.submit(tenant)
    await world.assign(tenant.tenant_id, job_id)
    await world.run_to_snapshot(tenant.tenant_id, job_id)
    # A batch sent twice (a worker retrying its append) shows once.
    await world.worker_writes(tenant.tenant_id, job_id, [TrainingLogAppended(attempt=1, first_line=3,
                                                                             lines=["line three"])])
    async with world.request("GET", f"/v1/training-jobs/{job_id}/log", tenant.member) as response:
        assert response.status == 200 and response.content_type == "text/plain"
        text = await response.text()
    assert text.splitlines() == ["I1124 solver.cpp:218] Iteration 0, lr = 0.01", "line two", "line three"]


async def test_followed_log_streams_new_lines_until_the_job_ends(world: World) -> None:
    tenant = await world.tenant("acme")
    job_id = await world.submit(tenant)
    await world.assign(tenant.tenant_id, job_id)
    await world.run_to_snapshot(tenant.tenant_id, job_id)
    received: list[str] = []

    async def follow() -> None:
        async with world.request("GET", f"/v1/training-jobs/{job_id}/log?follow=true", tenant.member) as response:
            assert response.headers.get("Transfer-Encoding") == "chunked"
            async for raw in response.content:
                received.append(raw.decode().rstrip("\n"))

    reader = asyncio.create_task(follow())
    await _until(lambda: len(received) == 3)
    assert not reader.done()
    await world.succeed(tenant.tenant_id, job_id)
    await asyncio.wait_for(reader, 5)
    assert received[-1] == "Optimization Done."
    assert len(received) == 4


async def test_metrics_list_every_train_and_test_output_by_iteration_later_attempt_winning(world: World) -> None:
    tenant = await world.tenant("acme")
    job_id = await world.submit(tenant)
    await world.assign(tenant.tenant_id, job_id)
    await world.run_to_snapshot(tenant.tenant_id, job_id)
    await world.worker_writes(tenant.tenant_id, job_id, [
        TrainingProgressed(attempt=1, iteration=60, phase="train", outputs={"loss": 0.5}, loss=0.5, lr=0.009),
        TrainingJobRequeued(attempt=1, reason="worker w1 lost"),
    ])
    attempt = await world.assign(tenant.tenant_id, job_id, worker_id="w2")
    await world.worker_writes(tenant.tenant_id, job_id, [
        TrainingProgressed(attempt=attempt, iteration=60, phase="train", outputs={"loss": 0.4}, loss=0.4, lr=0.009)])

    status, metrics = await world.call("GET", f"/v1/training-jobs/{job_id}/metrics", tenant.member)
    assert status == 200
    assert [(p["iteration"], p["outputs"], p["lr"]) for p in metrics["train"]] == [
        (0, {"loss": 2.3}, 0.01), (60, {"loss": 0.4}, 0.009)]
    assert metrics["test"] == [{"iteration": 50, "outputs": {"accuracy": 0.9}, "loss": 0.3}]
    assert metrics["lr"] == [{"iteration": 0, "lr": 0.01}, {"iteration": 60, "lr": 0.009}]
    assert metrics["max_iter"] == 100
    _, job = await world.call("GET", f"/v1/training-jobs/{job_id}", tenant.member)
    assert (job["attempt"], job["worker_id"], job["iteration"]) == (2, "w2", 60)
    assert job["test_outputs"] == {"accuracy": 0.9} and job["train_outputs"] == {"loss": 0.4}


async def test_snapshots_list_and_download_with_caffe_names(world: World) -> None:
    tenant = await world.tenant("acme")
    job_id = await world.submit(tenant)
    await world.assign(tenant.tenant_id, job_id)
    await world.run_to_snapshot(tenant.tenant_id, job_id)

    status, snapshots = await world.call("GET", f"/v1/training-jobs/{job_id}/snapshots", tenant.member)
    assert status == 200
    [snapshot] = snapshots["items"]
    assert (snapshot["iteration"], snapshot["attempt"]) == (50, 1)
    for kind, expected in (("caffemodel", b"weights-50" * 1000), ("solverstate", b"state-50")):
        async with world.request("GET", snapshot[kind], tenant.member) as response:
            assert response.status == 200
            assert response.headers["Content-Disposition"] == f'attachment; filename="{job_id}_iter_50.{kind}"'
            assert await response.read() == expected

    for missing in ("snapshots/60/caffemodel", "snapshots/50/prototxt", "snapshots/x/caffemodel"):
        status, _ = await world.call("GET", f"/v1/training-jobs/{job_id}/{missing}", tenant.member)
        assert status == 404, missing


async def test_pruned_snapshots_are_no_longer_listed_nor_downloadable(world: World) -> None:
    tenant = await world.tenant("acme")
    job_id = await world.submit(tenant)
    await world.assign(tenant.tenant_id, job_id)
    await world.run_to_snapshot(tenant.tenant_id, job_id)
    path = f"jobs/{job_id}/snapshots/90"
    await world.worker_writes(tenant.tenant_id, job_id, [SnapshotSaved(attempt=1, snapshot=SnapshotRef(
        iteration=90, caffemodel_path=f"{path}.caffemodel", solverstate_path=f"{path}.solverstate"))])
    await world.append(tenant.tenant_id, f"job-{job_id}", [SnapshotsPruned(iterations=[50])])

    status, snapshots = await world.call("GET", f"/v1/training-jobs/{job_id}/snapshots", tenant.member)
    assert status == 200 and [s["iteration"] for s in snapshots["items"]] == [90]
    status, job = await world.call("GET", f"/v1/training-jobs/{job_id}", tenant.member)
    assert status == 200 and job["snapshots"] == 1
    status, problem = await world.call("GET", f"/v1/training-jobs/{job_id}/snapshots/50/caffemodel", tenant.member)
    assert status == 404 and "no snapshot at iteration 50" in problem["detail"]


async def _until(condition: object, timeout_s: float = 5.0) -> None:
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
