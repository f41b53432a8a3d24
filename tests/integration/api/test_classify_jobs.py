"""Classify jobs over real HTTP: listed, shown and cancelled on their own routes, never as training jobs.

The job streams are written as the classify route, the scheduler and a worker write them (see
`classify_world`); the staged images and the results are real blobs in the local blob store.
"""

from __future__ import annotations

import json

from services.worker.classify_jobs.results import ClassifyResults
from tests.integration.api.classify_world import staged, submit_classify, succeed_classify
from tests.integration.api.jobs_world import World


async def test_classify_jobs_and_training_jobs_each_appear_only_on_their_own_routes(world: World) -> None:
    tenant = await world.tenant("acme")
    training = await world.submit(tenant)
    classify = await submit_classify(world, tenant)
    status, listed = await world.call("GET", "/v1/classify-jobs", tenant.member)
    assert status == 200 and [j["id"] for j in listed["items"]] == [classify]
    status, listed = await world.call("GET", "/v1/training-jobs", tenant.member)
    assert status == 200 and [j["id"] for j in listed["items"]] == [training]
    for method, path in (("GET", f"/v1/classify-jobs/{training}"), ("GET", f"/v1/classify-jobs/{training}/results"),
                         ("POST", f"/v1/classify-jobs/{training}/cancel"), ("GET", f"/v1/training-jobs/{classify}"),
                         ("GET", f"/v1/training-jobs/{classify}/log"), ("GET", f"/v1/training-jobs/{classify}/metrics"),
                         ("POST", f"/v1/training-jobs/{classify}/cancel")):
        status, answer = await world.call(method, path, tenant.member)
        assert status == 404, (method, path, answer)
    status, queue = await world.call("GET", "/v1/queue", tenant.member)
    assert status == 200
    assert [(q["id"], q["kind"], q["position"]) for q in queue["items"]] == [(training, "training", 1),
                                                                             (classify, "classify", 2)]


async def test_a_classify_job_shows_its_queue_place_then_its_worker_then_its_results(world: World) -> None:
    tenant = await world.tenant("acme")
    job_id = await submit_classify(world, tenant, images=2)
    status, job = await world.call("GET", f"/v1/classify-jobs/{job_id}", tenant.member)
    assert status == 200
    assert {k: job[k] for k in ("state", "classifier_id", "count", "top_k", "queue_position", "worker_id", "attempt",
                                "results")} == {"state": "queued", "classifier_id": "c1", "count": 2, "top_k": 2,
                                                "queue_position": 1, "worker_id": None, "attempt": 0, "results": None}
    status, problem = await world.call("GET", f"/v1/classify-jobs/{job_id}/results", tenant.member)
    assert status == 404 and "it is queued" in problem["detail"]
    await world.assign(tenant.tenant_id, job_id)
    status, job = await world.call("GET", f"/v1/classify-jobs/{job_id}", tenant.member)
    assert (job["state"], job["worker_id"], job["attempt"], job["queue_position"]) == ("running", "w1", 1, None)
    results = await succeed_classify(world, tenant.tenant_id, job_id)
    status, job = await world.call("GET", f"/v1/classify-jobs/{job_id}", tenant.member)
    assert (job["state"], job["results"]) == ("succeeded", f"/v1/classify-jobs/{job_id}/results")
    async with world.request("GET", f"/v1/classify-jobs/{job_id}/results", tenant.member) as response:
        assert response.status == 200 and response.content_type == "application/json"
        assert ClassifyResults.model_validate(json.loads(await response.read())) == results
    status, listed = await world.call("GET", "/v1/classify-jobs?state=succeeded&classifier_id=c1", tenant.member)
    assert [j["id"] for j in listed["items"]] == [job_id]
    status, listed = await world.call("GET", "/v1/classify-jobs?classifier_id=other", tenant.member)
    assert (status, listed["items"]) == (200, [])


async def test_cancelling_a_queued_classify_job_ends_it_and_removes_its_staged_images(world: World) -> None:
    tenant = await world.tenant("acme")
    job_id = await submit_classify(world, tenant, images=3)
    assert len(await staged(world, tenant.tenant_id, job_id)) == 3
    status, answer = await world.call("POST", f"/v1/classify-jobs/{job_id}/cancel", tenant.member)
    assert (status, answer) == (202, {"id": job_id, "state": "cancelled"})
    assert await staged(world, tenant.tenant_id, job_id) == []
    status, queue = await world.call("GET", "/v1/queue", tenant.member)
    assert queue["items"] == []
    status, problem = await world.call("POST", f"/v1/classify-jobs/{job_id}/cancel", tenant.member)
    assert status == 409 and "cancelled" in problem["detail"]


async def test_cancelling_a_running_classify_job_asks_its_worker_and_keeps_its_images(world: World) -> None:
    tenant = await world.tenant("acme")
    job_id = await submit_classify(world, tenant)
    await world.assign(tenant.tenant_id, job_id, worker_id="w7")
    status, answer = await world.call("POST", f"/v1/classify-jobs/{job_id}/cancel", tenant.member)
    assert (status, answer) == (202, {"id": job_id, "state": "running"})
    request = (await world.backends.store.read_stream(tenant.tenant_id, f"job-{job_id}"))[-1]
    assert (request.type, request.recipient) == ("TrainingJobCancelRequested", "worker-w7")
    assert len(await staged(world, tenant.tenant_id, job_id)) == 2  # the worker still reads them until it stops
    status, job = await world.call("GET", f"/v1/classify-jobs/{job_id}", tenant.member)
    assert job["cancel_requested"] is True
