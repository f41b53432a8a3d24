"""Blob transfers run a bounded number at a time and stop at the first failure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.storage.transfer import bounded, download_packed, relative_files, scratch_directory, upload_packed
from shared.blobs.local import LocalBlobStore
from shared.blobs.packs import PackError, pack_name


async def test_no_more_than_the_bound_run_at_once_and_all_run() -> None:
    running = peak = 0
    done: list[int] = []

    async def action(item: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        done.append(item)

    await bounded(range(50), action, 4)
    assert peak == 4 and sorted(done) == list(range(50))


async def test_first_failure_stops_the_rest() -> None:
    started: list[int] = []

    async def action(item: int) -> None:
        started.append(item)
        await asyncio.sleep(0)
        if item == 3:
            raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await bounded(range(1000), action, 2)
    assert len(started) < 10


async def test_scratch_directory_is_removed_however_the_block_ends(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        async with scratch_directory(tmp_path / "work") as scratch:
            (scratch / "a" / "b").mkdir(parents=True)
            (scratch / "a" / "b" / "f").write_bytes(b"x")
            assert relative_files(scratch) == ["a/b/f"]
            raise RuntimeError
    assert list((tmp_path / "work").iterdir()) == []


def local_blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", url_base="http://127.0.0.1:1", url_secret=b"test")


def some_files(root: Path, count: int) -> list[str]:
    paths = [f"c{n % 3}/{n}.png" for n in range(count)]
    for n, path in enumerate(paths):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(bytes([n]) * 100)
    return sorted(paths)


async def test_files_go_up_as_a_few_packs_and_come_back_whole(tmp_path: Path) -> None:
    blobs, scratch = local_blobs(tmp_path), tmp_path / "scratch"
    scratch.mkdir()
    paths = some_files(tmp_path / "in", 25)

    names = await upload_packed(blobs, "t1", tmp_path / "in", paths, "df/files/", scratch=scratch, pack_bytes=1000,
                                concurrency=2)

    assert names == [pack_name(n) for n in range(3)]  # 10 + 10 + 5 files of 100 bytes
    assert [info.path async for info in blobs.list("t1", "df/")] == [f"df/files/{name}" for name in names]
    assert list(scratch.iterdir()) == []
    await download_packed(blobs, "t1", "df/files/", names, tmp_path / "out", expected=frozenset(paths),
                          concurrency=2)
    assert relative_files(tmp_path / "out") == paths
    assert all((tmp_path / "out" / p).read_bytes() == (tmp_path / "in" / p).read_bytes() for p in paths)


async def test_packs_that_do_not_hold_every_expected_file_are_refused(tmp_path: Path) -> None:
    blobs, scratch = local_blobs(tmp_path), tmp_path / "scratch"
    scratch.mkdir()
    paths = some_files(tmp_path / "in", 6)
    names = await upload_packed(blobs, "t1", tmp_path / "in", paths[:5], "df/files/", scratch=scratch,
                                pack_bytes=1000, concurrency=2)

    with pytest.raises(PackError, match="hold 5 of the 6 files expected"):
        await download_packed(blobs, "t1", "df/files/", names, tmp_path / "out", expected=frozenset(paths),
                              concurrency=2)
