"""A downloaded classifier loads in real Caffe and gives the probabilities the API answers.

The archive is extracted as a user would, `caffe.Net(deploy.prototxt, <name>.caffemodel, TEST)`
loads it, and an image prepared by hand from `classifier.json` (and `mean.binaryproto`, for a net
that subtracts the mean) goes through real Caffe's forward pass: every probability must match the
API's, so both the top-1 and the rest of the ranking agree.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from shared.caffe.binaryproto import read_mean
from shared.events.data import ImageSpec
from tests.integration.api.classifier_world import CIFAR, classifiable_job, create_classifier
from tests.integration.api.jobs_world import TenantUsers, World
from tests.support.caffe import pycaffe  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.caffe]

RGB_32 = ImageSpec(width=32, height=32, resize_mode="squash", color="rgb")
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def png(pixels: npt.NDArray[np.uint8]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


async def download(world: World, tenant: TenantUsers, created: dict[str, Any], target: Path) -> dict[str, Any]:
    async with world.request("GET", created["download"], tenant.member) as response:
        assert response.status == 200
        assert response.headers["Content-Disposition"].endswith('.tar.gz"')
        payload = await response.read()
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
        archive.extractall(target, filter="data")
    described: dict[str, Any] = json.loads((target / "classifier.json").read_text())
    return described


async def api_probabilities(world: World, tenant: TenantUsers, created: dict[str, Any], image: bytes) -> list[float]:
    data = aiohttp.FormData()
    data.add_field("image", image, filename="probe.png", content_type="image/png")
    status, answer = await world.call("POST", f"/v1/classifiers/{created['id']}/classify?top_k=1000", tenant.member,
                                      data=data)
    assert status == 200, answer
    found = {p["label"]: p["probability"] for p in answer["results"][0]["predictions"]}
    return [found[label] for label in created["labels"]]


def caffe_probabilities(caffe: ModuleType, folder: Path, described: dict[str, Any],
                        pixels: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    net = caffe.Net(str(folder / described["deploy"]), str(folder / described["weights"]), caffe.TEST)
    assert list(net.blobs[described["input_blob"]].data.shape) == described["input_shape"]
    net.blobs[described["input_blob"]].data[...] = pixels[np.newaxis]
    out: npt.NDArray[np.float32] = net.forward()[described["output_blob"]][0].copy()
    return out


async def test_a_downloaded_lenet_gives_in_real_caffe_what_the_api_gives(
        world: World, pycaffe: ModuleType, tmp_path: Path) -> None:  # noqa: F811
    tenant = await world.tenant("acme")
    created = await create_classifier(world, tenant, (await classifiable_job(world, tenant)).job_id, name="lenet")
    folder = tmp_path / "model"
    described = await download(world, tenant, created, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["classifier.json", "deploy.prototxt",
                                                       "labels.txt", "lenet.caffemodel"]
    assert (folder / "labels.txt").read_text().splitlines() == created["labels"]
    assert (described["scale"], described["mean_file"], described["channel_order"]) == (0.00390625, None, "gray")
    digit = np.random.default_rng(5).integers(0, 256, size=(28, 28), dtype=np.uint8)
    by_hand = digit.astype(np.float32)[np.newaxis] * described["scale"]
    expected = caffe_probabilities(pycaffe, folder, described, by_hand)
    answered = await api_probabilities(world, tenant, created, png(digit))
    assert answered == pytest.approx(expected.tolist(), abs=1e-5)
    assert int(np.argmax(answered)) == int(np.argmax(expected))


async def test_a_downloaded_net_with_a_mean_file_gives_in_real_caffe_what_the_api_gives(
        world: World, pycaffe: ModuleType, tmp_path: Path) -> None:  # noqa: F811
    tenant = await world.tenant("acme")
    trained = await classifiable_job(world, tenant, net_text=CIFAR, labels=CLASSES, image=RGB_32)
    created = await create_classifier(world, tenant, trained.job_id)
    assert created["input"]["mean"] == "mean.binaryproto" and created["input"]["shape"] == [3, 32, 32]
    folder = tmp_path / "model"
    described = await download(world, tenant, created, folder)
    mean = read_mean(folder / "mean.binaryproto")
    assert trained.mean is not None and np.array_equal(mean, trained.mean)
    picture = np.random.default_rng(6).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)  # RGB rows
    bgr = picture[:, :, ::-1].transpose(2, 0, 1).astype(np.float32)
    expected = caffe_probabilities(pycaffe, folder, described, (bgr - mean) * described["scale"])
    answered = await api_probabilities(world, tenant, created, png(picture))
    assert answered == pytest.approx(expected.tolist(), abs=1e-5)
    assert int(np.argmax(answered)) == int(np.argmax(expected))
