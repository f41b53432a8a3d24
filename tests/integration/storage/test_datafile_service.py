"""Datafiles through the running storage service: accepted, rejected with nothing left, deleted.

Each test acts as the API: the archive goes into the tenant's blobs, the event into the stream,
and the outcome is read back from the stream and the blob store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.storage.datafile import DatafileManifest
from shared.blobs.packs import extract_pack
from shared.events.data import DatafileAccepted, DatafileDeleted, DatafileRejected
from tests.integration.storage.conftest import Deployment
from tests.integration.storage.harness import new_id
from tests.support.archives import Special, class_folders, png_bytes, write_tar, write_zip

OUTCOMES = ("DatafileAccepted", "DatafileRejected")


async def test_valid_archive_is_accepted_with_its_files_packed_and_manifest_stored(
    deployment: Deployment, tmp_path: Path,
) -> None:
    archive = write_tar(tmp_path / "pets.tar.gz", class_folders(("cat", "dog", "eel"), per_class=4, top="pets"), "gz")
    async with deployment() as storage:
        datafile_id = await storage.upload(archive)
        outcome = await storage.outcome(f"datafile-{datafile_id}", OUTCOMES)

        assert isinstance(outcome, DatafileAccepted), outcome
        assert outcome.classes == {"cat": 4, "dog": 4, "eel": 4} and outcome.image_count == 12
        assert (outcome.format, outcome.size) == ("tar.gz", archive.stat().st_size)
        assert outcome.extracted_prefix == f"datafiles/{datafile_id}/files/"
        assert outcome.archive_path == f"datafiles/{datafile_id}/archive"
        body = b"".join([c async for c in storage.backends.blobs.get(storage.tenant_id,
                                                                       f"datafiles/{datafile_id}/manifest.json")])
        manifest = DatafileManifest.model_validate_json(body)
        assert manifest.class_names == ("cat", "dog", "eel") and manifest.packs == ("pack-00000.tar",)
        assert await storage.blob_paths(outcome.extracted_prefix) == [outcome.extracted_prefix + "pack-00000.tar"]
        pack = tmp_path / "pack.tar"
        await storage.backends.blobs.get_file(storage.tenant_id, outcome.extracted_prefix + "pack-00000.tar", pack)
        expected = sorted(f"{c}/{i}.png" for c in ("cat", "dog", "eel") for i in range(4))
        assert sorted(extract_pack(pack, tmp_path / "files", expected=expected)) == expected


BOMB = b"\0" * (20 << 20)


def traversal(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "up.tar", {**class_folders(), "../../etc/evil.png": png_bytes()})


def bomb(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "up.tar.gz", {**class_folders(), "cat/bomb.png": BOMB}, "gz")


def not_an_archive(tmp_path: Path) -> Path:
    path = tmp_path / "up.bin"
    path.write_bytes(b"this is a text file, not an archive\n" * 10)
    return path


def single_class(tmp_path: Path) -> Path:
    return write_zip(tmp_path / "up.zip", class_folders(("cat",), per_class=5))


def symlink(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "up.tar", {**class_folders(), "cat/link.png": Special(b"2", "/etc/passwd")})


def corrupt_image(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "up.tar", {**class_folders(), "dog/broken.png": png_bytes()[:30]})


@pytest.mark.parametrize(("make", "reason", "member"), [
    pytest.param(traversal, "path traversal", "../../etc/evil.png", id="traversal"),
    pytest.param(bomb, "decompression bomb", "cat/bomb.png", id="bomb"),
    pytest.param(not_an_archive, "not an archive", None, id="not-an-archive"),
    pytest.param(single_class, "a single class", None, id="single-class"),
    pytest.param(symlink, "only regular files and folders", "cat/link.png", id="symlink"),
    pytest.param(corrupt_image, "not a readable image", "dog/broken.png", id="corrupt-image"),
])
async def test_hostile_upload_is_rejected_and_leaves_nothing_behind(
    deployment: Deployment, tmp_path: Path, make: object, reason: str, member: str | None,
) -> None:
    assert callable(make)
    archive: Path = make(tmp_path)
    async with deployment() as storage:
        datafile_id = await storage.upload(archive)
        outcome = await storage.outcome(f"datafile-{datafile_id}", OUTCOMES)

        assert isinstance(outcome, DatafileRejected), outcome
        assert reason in outcome.reason
        if member is not None:
            assert outcome.member == member
        await storage.wait_until_empty(f"datafiles/{datafile_id}/")  # the outcome is recorded first


async def test_deleting_a_datafile_removes_its_blobs_and_a_late_redelivery_changes_nothing(
    deployment: Deployment, tmp_path: Path,
) -> None:
    archive = write_tar(tmp_path / "pets.tar", class_folders(per_class=2))
    async with deployment() as storage:
        datafile_id = await storage.upload(archive)
        stream = f"datafile-{datafile_id}"
        assert isinstance(await storage.outcome(stream, OUTCOMES), DatafileAccepted)
        assert len(await storage.blob_paths(f"datafiles/{datafile_id}/")) == 3  # archive, pack, manifest

        await storage.append(stream, DatafileDeleted(deleted_by="u1"))
        await storage.wait_until_empty(f"datafiles/{datafile_id}/")
        uploaded = (await storage.backends.store.read_stream(storage.tenant_id, stream))[0]
        await storage.redeliver(uploaded)
        assert await storage.types(stream) == ["DatafileUploaded", "DatafileAccepted", "DatafileDeleted"]
        assert await storage.blob_paths(f"datafiles/{datafile_id}/") == []


async def test_an_ingest_redone_after_a_crash_replaces_what_the_crashed_attempt_left(
    deployment: Deployment, tmp_path: Path,
) -> None:
    archive = write_tar(tmp_path / "pets.tar", class_folders(per_class=2))
    async with deployment() as storage:
        datafile_id = new_id()
        stale = f"datafiles/{datafile_id}/files/cat/stale.png"
        await storage.backends.blobs.put(storage.tenant_id, stale, one_chunk(png_bytes()))
        await storage.upload(archive, datafile_id)
        outcome = await storage.outcome(f"datafile-{datafile_id}", OUTCOMES)
        assert isinstance(outcome, DatafileAccepted) and outcome.classes == {"cat": 2, "dog": 2}
        assert stale not in await storage.blob_paths(f"datafiles/{datafile_id}/")


async def test_redelivered_upload_of_an_accepted_datafile_appends_nothing(
    deployment: Deployment, tmp_path: Path,
) -> None:
    archive = write_tar(tmp_path / "pets.tar", class_folders(per_class=2))
    async with deployment() as storage:
        datafile_id = await storage.upload(archive)
        stream = f"datafile-{datafile_id}"
        assert isinstance(await storage.outcome(stream, OUTCOMES), DatafileAccepted)
        before = await storage.blob_paths(f"datafiles/{datafile_id}/")
        await storage.redeliver((await storage.backends.store.read_stream(storage.tenant_id, stream))[0])
        assert await storage.types(stream) == ["DatafileUploaded", "DatafileAccepted"]
        assert await storage.blob_paths(f"datafiles/{datafile_id}/") == before


async def one_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body
