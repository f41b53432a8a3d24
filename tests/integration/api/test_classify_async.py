"""The asynchronous classify path over real HTTP: `?async=true` (or many images) queues a classify job.

The API stages every image in the blob store and appends `ClassifyJobSubmitted`; with a scheduler
and a worker running beside it on the same embedded backends (as `elasticthought up` runs them),
the job is assigned, run, and its results served, equal to what the synchronous path answers for
the same images. Bad input is refused before anything is staged or appended.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from PIL import Image

from services.scheduler.bootstrap import bootstrap as scheduler_bootstrap
from services.worker.bootstrap import build_worker
from services.worker.capabilities import Capabilities
from shared.runner import Service
from tests.integration.api.classifier_world import classifiable_job, create_classifier
from tests.integration.api.jobs_world import TenantUsers, World, running_world, settings_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def sync_limit_world(tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(tmp_path / "data", classify_sync_max_images=2) as found:
        yield found


def png(seed: int, size: tuple[int, int] = (28, 28)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def form(*files: tuple[str, bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for name, content in files:
        data.add_field("images", content, filename=name, content_type="image/png")
    return data


async def classifier(world: World, tenant: TenantUsers) -> str:
    created = await create_classifier(world, tenant, (await classifiable_job(world, tenant)).job_id)
    classifier_id: str = created["id"]
    return classifier_id


async def blobs_under(world: World, tenant_id: str, prefix: str) -> dict[str, bytes]:
    found = {}
    async for info in world.backends.blobs.list(tenant_id, prefix):
        found[info.path] = b"".join([c async for c in world.backends.blobs.get(tenant_id, info.path)])
    return found


async def test_async_true_stages_every_image_and_queues_a_classify_job(world: World) -> None:
    tenant = await world.tenant("acme")
    classifier_id = await classifier(world, tenant)
    images = [("a.png", png(1)), ("b.png", png(2)), ("c.png", png(3))]
    async with world.request("POST", f"/v1/classifiers/{classifier_id}/classify?async=true&top_k=2", tenant.member,
                             data=form(*images)) as response:
        assert response.status == 202, await response.text()
        accepted = await response.json()
        assert response.headers["Location"] == f"/v1/classify-jobs/{accepted['id']}"
    job_id = accepted["id"]
    assert accepted == {"id": job_id, "state": "queued"}
    status, job = await world.call("GET", f"/v1/classify-jobs/{job_id}", tenant.member)
    assert status == 200
    assert {k: job[k] for k in ("state", "classifier_id", "count", "top_k", "queue_position", "submitted_by")} == {
        "state": "queued", "classifier_id": classifier_id, "count": 3, "top_k": 2, "queue_position": 1,
        "submitted_by": tenant.member_id}
    staged = await blobs_under(world, tenant.tenant_id, f"jobs/{job_id}/inputs/")
    assert list(staged.values()) == [data for _, data in images]  # in input order, byte for byte
    (submitted,) = await world.backends.store.read_stream(tenant.tenant_id, f"job-{job_id}")
    assert submitted.type == "ClassifyJobSubmitted"
    assert [i["name"] for i in submitted.data["images"]] == ["a.png", "b.png", "c.png"]
    status, queue = await world.call("GET", "/v1/queue", tenant.member)
    assert [(q["id"], q["kind"]) for q in queue["items"]] == [(job_id, "classify")]


async def test_more_images_than_the_synchronous_limit_run_as_a_job_and_fewer_answer_at_once(
    sync_limit_world: World,
) -> None:
    world = sync_limit_world
    tenant = await world.tenant("acme")
    url = f"/v1/classifiers/{await classifier(world, tenant)}/classify"
    status, answer = await world.call("POST", url, tenant.member, data=form(("a.png", png(1)), ("b.png", png(2))))
    assert status == 200 and len(answer["results"]) == 2
    status, answer = await world.call("POST", url, tenant.member,
                                      data=form(("a.png", png(1)), ("b.png", png(2)), ("c.png", png(3))))
    assert status == 202 and answer["state"] == "queued"
    status, listed = await world.call("GET", "/v1/classify-jobs", tenant.member)
    assert [j["id"] for j in listed["items"]] == [answer["id"]]


async def test_bad_async_input_is_refused_and_leaves_no_job_and_no_staged_image(world: World) -> None:
    tenant, other = await world.tenant("acme"), await world.tenant("other")
    mine, theirs = await classifier(world, tenant), await classifier(world, other)
    cases: list[tuple[str, Any, int, str]] = [
        (mine, form(("a.png", png(1)), ("notes.txt", b"plain text, no pixels")), 422,
         "image 'notes.txt' cannot be classified: not an image"),
        (theirs, form(("a.png", png(1))), 404, f"no classifier {theirs}"),
        ("0" * 16, form(("a.png", png(1))), 404, "no classifier"),
        (mine, form(("empty.png", b"")), 422, "'empty.png' is empty"),
    ]
    for classifier_id, data, expected, words in cases:
        status, problem = await world.call("POST", f"/v1/classifiers/{classifier_id}/classify?async=true",
                                           tenant.member, data=data)
        assert status == expected, (words, problem)
        assert words in problem["detail"], problem
    status, problem = await world.call("POST", f"/v1/classifiers/{mine}/classify?async=maybe", tenant.member,
                                       data=form(("a.png", png(1))))
    assert status == 422 and "async" in problem["detail"]
    status, listed = await world.call("GET", "/v1/classify-jobs", tenant.member)
    assert (status, listed) == (200, {"items": []})
    stored = await blobs_under(world, tenant.tenant_id, "jobs/")
    assert stored and all("/snapshots/" in path for path in stored)  # the training job's only: nothing staged


async def test_a_queued_job_is_run_by_the_scheduler_and_a_worker_and_answers_as_the_sync_path_does(
    world: World, tmp_path: Path,
) -> None:
    tenant = await world.tenant("acme")
    classifier_id = await classifier(world, tenant)
    images = [(f"{n}.png", png(n)) for n in range(5)]
    cut = png(99)
    images.insert(2, ("cut.png", cut[: len(cut) // 2]))  # a PNG header with its data cut off
    status, accepted = await world.call("POST", f"/v1/classifiers/{classifier_id}/classify?async=true&top_k=3",
                                        tenant.member, data=form(*images))
    assert status == 202, accepted
    job_id = accepted["id"]
    async with _cluster(world, tmp_path):
        job = await _ended(world, tenant, job_id)
    assert (job["state"], job["worker_id"], job["attempt"]) == ("succeeded", "w1", 1), job
    status, results = await world.call("GET", job["results"], tenant.member)
    assert status == 200
    assert (results["job_id"], results["classifier_id"], results["count"], results["failed"]) == (job_id,
                                                                                                  classifier_id, 6, 1)
    assert [r["name"] for r in results["results"]] == [name for name, _ in images]
    bad = results["results"][2]
    assert bad["predictions"] == [] and bad["error"]
    good = [(name, data) for name, data in images if name != "cut.png"]
    status, now = await world.call("POST", f"/v1/classifiers/{classifier_id}/classify?top_k=3", tenant.member,
                                   data=form(*good))
    assert status == 200
    for queued, answered in zip([r for r in results["results"] if not r["error"]], now["results"], strict=True):
        assert [p["label"] for p in queued["predictions"]] == [p["label"] for p in answered["predictions"]]
        assert [p["probability"] for p in queued["predictions"]] == pytest.approx(
            [p["probability"] for p in answered["predictions"]], abs=1e-5)
    assert await blobs_under(world, tenant.tenant_id, f"jobs/{job_id}/inputs/") == {}
    types = [e.type for e in await world.backends.store.read_stream(tenant.tenant_id, f"job-{job_id}")]
    assert types == ["ClassifyJobSubmitted", "TrainingJobAssigned", "TrainingJobStarted", "ClassifyJobSucceeded"]


class _cluster:
    """A scheduler and one worker on the API's own embedded backends, stopped cleanly on exit."""

    def __init__(self, world: World, tmp_path: Path) -> None:
        settings = settings_for(tmp_path / "cluster")
        backends = world.backends
        capabilities = Capabilities(worker_id="w1", host="h", pid=1, slots=1, gpus=[], engines=["torch"])
        scheduler = scheduler_bootstrap(settings, store=backends.store, bus=backends.bus, blobs=backends.blobs)
        self.services: list[Service] = [scheduler, build_worker(settings, capabilities, backends)]
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> None:
        self.tasks = [asyncio.create_task(service.run(self.stopping)) for service in self.services]

    async def __aexit__(self, *exc_info: object) -> None:
        self.stopping.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 30)


async def _ended(world: World, tenant: TenantUsers, job_id: str) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            status, job = await world.call("GET", f"/v1/classify-jobs/{job_id}", tenant.member)
            assert status == 200
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return dict(job)
            await asyncio.sleep(0.05)
