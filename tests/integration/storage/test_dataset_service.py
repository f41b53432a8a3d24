"""Datasets through the running storage service: built and uploaded, failed with nothing left, deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.blobs.packs import extract_pack, is_pack
from shared.events.data import DatafileAccepted, DatasetBuilt, DatasetDeleted, DatasetFailed
from tests.integration.storage.conftest import Deployment
from tests.integration.storage.harness import StorageHarness, new_id
from tests.support.archives import class_folders, write_tar

BUILT = ("DatasetBuilt", "DatasetFailed")
FOLDER_KINDS = {"train_lmdb", "test_lmdb", "train_images", "test_images", "image_root"}


async def accepted_datafile(storage: StorageHarness, tmp_path: Path, per_class: int = 5) -> str:
    archive = write_tar(tmp_path / "pets.tar", class_folders(("cat", "dog"), per_class=per_class))
    datafile_id = await storage.upload(archive)
    outcome = await storage.outcome(f"datafile-{datafile_id}", ("DatafileAccepted", "DatafileRejected"))
    assert isinstance(outcome, DatafileAccepted), outcome
    return datafile_id


@pytest.mark.parametrize("cache_bytes", [pytest.param(1 << 30, id="local-copy"),
                                         pytest.param(0, id="downloaded-from-blobs")])
async def test_dataset_is_built_and_every_output_a_trainer_needs_is_in_the_blob_store(
    deployment: Deployment, tmp_path: Path, cache_bytes: int,
) -> None:
    async with deployment(storage_cache_bytes=cache_bytes) as storage:
        datafile_id = await accepted_datafile(storage, tmp_path)
        dataset_id = await storage.request_dataset(datafile_id, side=8, color="rgb", test_fraction=0.4)
        built = await storage.outcome(f"dataset-{dataset_id}", BUILT)

        assert isinstance(built, DatasetBuilt), built
        prefix = f"datasets/{dataset_id}/"
        assert built.blob_prefix == prefix and built.labels == ["cat", "dog"] and built.shape == (3, 8, 8)
        assert built.counts == {"train": {"cat": 3, "dog": 3}, "test": {"cat": 2, "dog": 2}}
        stored = set(await storage.blob_paths(prefix))
        for kind, path in built.files.items():
            assert path.startswith(prefix), kind
            if kind in FOLDER_KINDS:
                assert path.endswith("/") and any(p.startswith(path) for p in stored), kind
            else:
                assert path in stored, kind
        assert f"{prefix}train_lmdb/data.mdb" in stored and f"{prefix}mean.binaryproto" in stored
        assert not any(p.endswith(".png") for p in stored)  # packed: a few blobs, not one per image
        for split in ("train", "test"):
            folder, listed = built.files[f"{split}_images"], await listed_images(storage, built.files[f"{split}_list"])
            packs = sorted(p for p in stored if p.startswith(folder))
            assert packs and all(is_pack(p) for p in packs), packs
            unpacked: list[str] = []
            for n, pack in enumerate(packs):
                await storage.backends.blobs.get_file(storage.tenant_id, pack, tmp_path / f"{split}-{n}.tar")
                unpacked += extract_pack(tmp_path / f"{split}-{n}.tar", tmp_path / "images" / split)
            assert sorted(folder.removeprefix(prefix) + name for name in unpacked) == sorted(listed)


async def listed_images(storage: StorageHarness, list_file: str) -> list[str]:
    """The image paths a list file names (relative to the dataset folder)."""
    body = b"".join([chunk async for chunk in storage.backends.blobs.get(storage.tenant_id, list_file)])
    return [line.rsplit(" ", 1)[0] for line in body.decode().splitlines()]


async def test_dataset_of_a_datafile_that_is_not_ready_fails_with_a_reason(deployment: Deployment) -> None:
    async with deployment() as storage:
        dataset_id = await storage.request_dataset(new_id())
        failed = await storage.outcome(f"dataset-{dataset_id}", BUILT)
        assert isinstance(failed, DatasetFailed) and "not ready" in failed.reason
        assert await storage.blob_paths(f"datasets/{dataset_id}/") == []


async def test_failed_build_leaves_nothing_under_the_dataset_prefix(deployment: Deployment, tmp_path: Path) -> None:
    async with deployment() as storage:
        datafile_id = await accepted_datafile(storage, tmp_path, per_class=1)
        dataset_id = await storage.request_dataset(datafile_id)
        failed = await storage.outcome(f"dataset-{dataset_id}", BUILT)
        assert isinstance(failed, DatasetFailed) and "too few images for a test split" in failed.reason
        await storage.wait_until_empty(f"datasets/{dataset_id}/")


async def test_deleting_a_dataset_removes_its_blobs(deployment: Deployment, tmp_path: Path) -> None:
    async with deployment() as storage:
        datafile_id = await accepted_datafile(storage, tmp_path)
        dataset_id = await storage.request_dataset(datafile_id, side=4)
        assert isinstance(await storage.outcome(f"dataset-{dataset_id}", BUILT), DatasetBuilt)
        assert await storage.blob_paths(f"datasets/{dataset_id}/")

        await storage.append(f"dataset-{dataset_id}", DatasetDeleted(deleted_by="u1"))
        await storage.wait_until_empty(f"datasets/{dataset_id}/")
        assert await storage.blob_paths(f"datafiles/{datafile_id}/files/")  # the datafile is untouched


async def test_a_build_redone_after_a_crash_replaces_what_the_crashed_attempt_left(
    deployment: Deployment, tmp_path: Path,
) -> None:
    async with deployment() as storage:
        datafile_id = await accepted_datafile(storage, tmp_path)
        dataset_id = new_id()
        stale = f"datasets/{dataset_id}/train_lmdb/stale.mdb"
        await storage.backends.blobs.put(storage.tenant_id, stale, one_chunk(b"half-written"))
        await storage.request_dataset(datafile_id, side=4, dataset_id=dataset_id)
        assert isinstance(await storage.outcome(f"dataset-{dataset_id}", BUILT), DatasetBuilt)
        stored = await storage.blob_paths(f"datasets/{dataset_id}/")
        assert stale not in stored and f"datasets/{dataset_id}/train_lmdb/data.mdb" in stored


async def one_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body
