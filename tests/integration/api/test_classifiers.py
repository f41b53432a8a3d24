"""Classifiers over real HTTP: create from a training job's snapshot, classify uploads and URLs, delete.

The weights are a real .caffemodel of LeNet (seeded random fillers), so the probabilities the API
answers are checked against LeNet computed here by hand with plain torch functions from the same
weights. Bad input of every kind gets a clear 4xx and leaves nothing behind.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest
import torch
import torch.nn.functional as F
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from shared.caffe.binaryproto import array_from_blob
from shared.caffe.proto import caffe_pb2
from tests.integration.api.classifier_world import DIGITS, LENET, classifiable_job, create_classifier
from tests.integration.api.jobs_world import World, running_world

MAX_IMAGE_BYTES = 4096
MAX_IMAGES = 3


@pytest.fixture
async def small_world(tmp_path: Path) -> AsyncIterator[World]:
    """The API with small classify limits, and private URLs allowed (the test's image server is local)."""
    async with running_world(tmp_path / "data", classify_max_image_bytes=MAX_IMAGE_BYTES,
                             classify_job_max_images=MAX_IMAGES, allow_private_urls=True) as found:
        yield found


def png(pixels: npt.NDArray[np.uint8]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def digits(count: int, seed: int = 3) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [png(rng.integers(0, 256, size=(28, 28), dtype=np.uint8)) for _ in range(count)]


def lenet_by_hand(weights: bytes, images: list[bytes]) -> npt.NDArray[np.float32]:
    """Caffe's LeNet with the snapshot's blobs, in plain torch: probabilities (N, 10)."""
    blobs = {layer.name: [torch.from_numpy(array_from_blob(b)) for b in layer.blobs]
             for layer in caffe_pb2.NetParameter.FromString(weights).layer if layer.blobs}
    gray = [np.asarray(Image.open(io.BytesIO(data)).convert("L").resize((28, 28), Image.Resampling.BILINEAR))
            for data in images]
    x = torch.from_numpy(np.stack(gray).astype(np.float32)[:, None] * 0.00390625)
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = (blobs[name] for name in ("conv1", "conv2", "ip1", "ip2"))
    x = F.max_pool2d(F.conv2d(x, w1, b1), 2, 2)
    x = F.max_pool2d(F.conv2d(x, w2, b2), 2, 2)
    x = F.relu(F.linear(x.flatten(1), w3, b3))
    probabilities: npt.NDArray[np.float32] = F.softmax(F.linear(x, w4, b4), dim=1).numpy()
    return probabilities


def form(*files: tuple[str, str, bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for field, name, content in files:
        data.add_field(field, content, filename=name, content_type="image/png")
    return data


async def classifier_files(world: World, tenant_id: str) -> list[str]:
    return [info.path async for info in world.backends.blobs.list(tenant_id, "classifiers/")]


async def test_a_classifier_of_a_finished_job_labels_uploads_as_its_net_computes_them(world: World) -> None:
    tenant = await world.tenant("acme")
    trained = await classifiable_job(world, tenant)
    created = await create_classifier(world, tenant, trained.job_id, name="digits")
    assert {k: created[k] for k in ("name", "training_job_id", "iteration", "dataset_id", "labels")} == {
        "name": "digits", "training_job_id": trained.job_id, "iteration": 50, "dataset_id": trained.dataset_id,
        "labels": DIGITS}
    assert created["input"] == {"shape": [1, 28, 28], "scale": 0.00390625, "mean": None, "mean_values": [],
                                "crop_size": 0}
    assert created["download"] == f"/v1/classifiers/{created['id']}/download"

    images = digits(3)
    wide = png(np.random.default_rng(9).integers(0, 256, size=(30, 40, 3), dtype=np.uint8))  # resized, made gray
    status, answer = await world.call(
        "POST", f"/v1/classifiers/{created['id']}/classify?top_k=3", tenant.member,
        data=form(("image", "a.png", images[0]), ("images", "b.png", images[1]), ("images", "c.png", images[2]),
                  ("image", "wide.png", wide)))
    assert status == 200, answer
    results = answer["results"]
    assert [r["name"] for r in results] == ["a.png", "b.png", "c.png", "wide.png"]
    expected = lenet_by_hand(trained.weights, [*images, wide])
    for result, row in zip(results, expected, strict=True):
        best = np.argsort(-row, kind="stable")[:3]
        assert [p["label"] for p in result["predictions"]] == [DIGITS[i] for i in best]
        assert [p["probability"] for p in result["predictions"]] == pytest.approx(row[best].tolist(), abs=1e-5)
        assert result["error"] is None

    status, listed = await world.call("GET", "/v1/classifiers", tenant.member)
    assert status == 200 and listed["items"] == [created]
    status, shown = await world.call("GET", f"/v1/classifiers/{created['id']}", tenant.member)
    assert (status, shown) == (200, created)


async def test_the_classifier_keeps_its_own_copy_of_the_weights(world: World) -> None:
    tenant = await world.tenant("acme")
    trained = await classifiable_job(world, tenant)
    created = await create_classifier(world, tenant, trained.job_id)
    await world.backends.blobs.delete_prefix(tenant.tenant_id, f"jobs/{trained.job_id}/snapshots/")  # pruned
    assert sorted(await classifier_files(world, tenant.tenant_id)) == [
        f"classifiers/{created['id']}/weights.caffemodel"]  # LeNet subtracts no mean: none copied
    status, answer = await world.call("POST", f"/v1/classifiers/{created['id']}/classify?top_k=1", tenant.member,
                                      data=form(("image", "d.png", digits(1)[0])))
    assert status == 200 and len(answer["results"][0]["predictions"]) == 1
    async with world.request("GET", created["download"], tenant.member) as response:
        assert response.status == 200 and response.content_type == "application/gzip"
        archive = tarfile.open(fileobj=io.BytesIO(await response.read()), mode="r:gz")
    assert archive.getnames() == ["deploy.prototxt", f"{trained.job_id}_iter_50.caffemodel", "labels.txt",
                                  "classifier.json"]
    weights = archive.extractfile(f"{trained.job_id}_iter_50.caffemodel")
    assert weights is not None and weights.read() == trained.weights


async def test_a_classifier_needs_a_finished_job_of_the_callers_tenant_and_a_refusal_creates_nothing(
        world: World) -> None:
    tenant, other = await world.tenant("acme"), await world.tenant("other")
    running = await classifiable_job(world, tenant, succeed=False)
    theirs = await classifiable_job(world, other)
    no_output = await classifiable_job(world, tenant, net_text=_without_loss(), weights_net=LENET)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"training_job_id": "0" * 16}, 404, "no training job"),
        ({"training_job_id": theirs.job_id}, 404, "no training job"),
        ({"training_job_id": running.job_id}, 409, "is running: a classifier needs a succeeded job"),
        ({"training_job_id": running.job_id, "iteration": 70}, 422, "has snapshots of iterations 50"),
        ({"training_job_id": no_output.job_id}, 422, "no classifier output found"),
        ({"training_job_id": running.job_id, "iteration": -1}, 422, "iteration"),
        ({"training_job_id": running.job_id, "extra": 1}, 422, "extra"),
    ]
    for body, expected, words in cases:
        status, problem = await world.call("POST", "/v1/classifiers", tenant.member, json=body)
        assert status == expected, (body, problem)
        assert words in problem["detail"], (body, problem)
    status, listed = await world.call("GET", "/v1/classifiers", tenant.member)
    assert (status, listed) == (200, {"items": []})
    assert await classifier_files(world, tenant.tenant_id) == []

    # An unfinished job with a snapshot of the asked iteration is fine.
    created = await create_classifier(world, tenant, running.job_id, iteration=50)
    assert created["iteration"] == 50


async def test_bad_uploads_are_refused_naming_the_image(small_world: World) -> None:
    world = small_world
    tenant = await world.tenant("acme")
    created = await create_classifier(world, tenant, (await classifiable_job(world, tenant)).job_id)
    url = f"/v1/classifiers/{created['id']}/classify"
    big = png(np.random.default_rng(1).integers(0, 256, size=(64, 64), dtype=np.uint8))
    assert len(big) > MAX_IMAGE_BYTES
    image = digits(1)[0]
    cases: list[tuple[Any, int, str]] = [
        (form(("image", "notes.txt", b"just some text, no pixels")), 422, "'notes.txt' cannot be classified: not an "
                                                                          "image in a supported format"),
        (form(("image", "cut.png", image[: len(image) // 2])), 422, "'cut.png' cannot be classified"),
        (form(("image", "big.png", big)), 413, f"'big.png' is larger than the limit of {MAX_IMAGE_BYTES} bytes"),
        (form(*[("images", f"{n}.png", image) for n in range(MAX_IMAGES + 1)]), 413,
         f"more than {MAX_IMAGES} images"),
        (form(("image", "empty.png", b"")), 422, "'empty.png' is empty"),
        (form(("photo", "a.png", image)), 422, "unexpected multipart field 'photo'"),
        (aiohttp.FormData({"other": "x"}, default_to_multipart=True), 422, "unexpected multipart field 'other'"),
    ]
    for data, expected, words in cases:
        status, problem = await world.call("POST", url, tenant.member, data=data)
        assert status == expected, (words, problem)
        assert words in problem["detail"], problem
    status, problem = await world.call("POST", url, tenant.member, data=b"\x89PNG", headers={
        "Content-Type": "image/png"})
    assert status == 415 and "multipart/form-data" in problem["detail"]
    status, problem = await world.call("POST", url + "?top_k=0", tenant.member, data=form(("image", "a.png", image)))
    assert status == 422 and "top_k" in problem["detail"]


async def test_image_urls_are_fetched_with_the_fetch_policy(small_world: World, world: World) -> None:
    images = {"/one.png": digits(1)[0], "/big.png": b"\x89PNG" + b"\0" * (2 * MAX_IMAGE_BYTES)}

    async def serve(request: web.Request) -> web.Response:
        found = images.get(request.path)
        return web.Response(body=found, content_type="image/png") if found else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        tenant = await small_world.tenant("acme")
        trained = await classifiable_job(small_world, tenant)
        created = await create_classifier(small_world, tenant, trained.job_id)
        url = f"/v1/classifiers/{created['id']}/classify?top_k=2"
        status, answer = await small_world.call("POST", url, tenant.member, json={"urls": [base + "/one.png"]})
        assert status == 200, answer
        assert answer["results"][0]["name"] == base + "/one.png"
        best = int(np.argmax(lenet_by_hand(trained.weights, [images["/one.png"]])[0]))
        assert answer["results"][0]["predictions"][0]["label"] == DIGITS[best]
        refused: tuple[tuple[list[str], str], ...] = (([base + "/missing.png"], "answered 404"),
                   ([base + "/big.png"], f"more than the limit of {MAX_IMAGE_BYTES} bytes"),
                   (["ftp://example.org/a.png"], "not an http(s) URL"), ([], "urls"))
        for urls, words in refused:
            status, problem = await small_world.call("POST", url, tenant.member, json={"urls": urls})
            assert status == 422 and words in problem["detail"] + str(problem.get("errors")), (urls, problem)

        # The default deployment refuses loopback addresses before connecting.
        owner = await world.tenant("acme")
        mine = await create_classifier(world, owner, (await classifiable_job(world, owner)).job_id)
        status, problem = await world.call("POST", f"/v1/classifiers/{mine['id']}/classify", owner.member,
                                           json={"urls": [base + "/one.png"]})
        assert status == 422 and "refusing to fetch from 127.0.0.1" in problem["detail"], problem
    finally:
        await server.close()


async def test_deleting_a_classifier_removes_it_and_its_files(world: World) -> None:
    tenant = await world.tenant("acme")
    created = await create_classifier(world, tenant, (await classifiable_job(world, tenant)).job_id)
    path = f"/v1/classifiers/{created['id']}"
    status, other = await world.call("DELETE", path, (await world.tenant("other")).member)
    assert status == 404, other
    status, _ = await world.call("DELETE", path, tenant.member)
    assert status == 204
    assert await classifier_files(world, tenant.tenant_id) == []
    for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/download")):
        status, problem = await world.call(method, path + suffix, tenant.member)
        assert status == 404 and created["id"] in problem["detail"], (method, suffix, problem)
    status, problem = await world.call("POST", path + "/classify", tenant.member, data=form(("image", "a.png",
                                                                                            digits(1)[0])))
    assert status == 404, problem
    status, listed = await world.call("GET", "/v1/classifiers", tenant.member)
    assert listed == {"items": []}


def _without_loss() -> str:
    """LeNet that ends in its scores: no loss, no accuracy, so nothing says which blob they are."""
    head, _, _ = LENET.partition('layer {\n  name: "accuracy"')
    return head
