"""Move a folder of files between local scratch space and the blob store, a bounded number at a time.

Datafiles and datasets are thousands of small files (MNIST: 10,000 PNGs). One blob per file is
slow however it is done (10,000 writes), so folders of many images travel as packs
(`shared.blobs.packs`: a few tar blobs); the few other files go one blob each. Either way a fixed
number of workers draw from one shared iterator, so memory, sockets and scratch space stay bounded
whatever the count.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from shared.blobs import BlobStore
from shared.blobs.packs import PACK_CONTENT_TYPE, PackError, extract_pack, group_files, pack_name, write_pack

X = TypeVar("X")


async def bounded(items: Iterable[X], action: Callable[[X], Awaitable[object]], concurrency: int) -> None:
    """Run `action` on every item, at most `concurrency` at once; the first failure cancels the rest and is raised."""
    iterator = iter(items)

    async def worker() -> None:
        for item in iterator:
            await action(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker())
    except BaseExceptionGroup as failures:  # callers handle errors by type (BlobNotFound, InvalidBlobKey, ...)
        raise _first(failures) from None


def _first(failures: BaseExceptionGroup[BaseException]) -> BaseException:
    first = failures.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


def relative_files(root: Path) -> list[str]:
    """Every regular file under `root`, as sorted posix paths relative to it. Blocking."""
    found: list[str] = []
    for folder, _, names in os.walk(root):
        here = Path(folder)
        found.extend((here / name).relative_to(root).as_posix() for name in names)
    return sorted(found)


async def upload_files(blobs: BlobStore, tenant_id: str, root: Path, paths: Iterable[str], prefix: str, *,
                       concurrency: int) -> None:
    """Upload each file `root/<path>` to `<prefix><path>`, one blob each."""

    async def put(relative: str) -> None:
        await blobs.put_file(tenant_id, prefix + relative, root / relative)

    await bounded(paths, put, concurrency)


async def download_files(
    blobs: BlobStore, tenant_id: str, prefix: str, paths: Iterable[str], target: Path, *, concurrency: int,
) -> None:
    """Download `<prefix><path>` to `target/<path>` for each path (parent folders are created)."""

    async def get(relative: str) -> None:
        destination = target / relative
        await asyncio.to_thread(destination.parent.mkdir, parents=True, exist_ok=True)
        await blobs.get_file(tenant_id, prefix + relative, destination)

    await bounded(paths, get, concurrency)


async def upload_packed(
    blobs: BlobStore, tenant_id: str, root: Path, paths: Sequence[str], prefix: str, *,
    scratch: Path, pack_bytes: int, concurrency: int,
) -> list[str]:
    """Upload the files `root/<path>` as packs `<prefix>pack-NNNNN.tar`; returns the pack names.

    Each pack is written to `scratch` (beside nothing else: a fresh folder is made there), put,
    and removed, so at most `concurrency` packs take scratch space at once.
    """
    groups = await asyncio.to_thread(group_files, root, paths, pack_bytes)
    names = [pack_name(index) for index in range(len(groups))]
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="packs-", dir=scratch))

    async def put(item: tuple[str, list[str]]) -> None:
        name, group = item
        local = folder / name
        await asyncio.to_thread(write_pack, root, group, local)
        try:
            await blobs.put_file(tenant_id, prefix + name, local, content_type=PACK_CONTENT_TYPE)
        finally:
            await asyncio.to_thread(local.unlink, True)

    try:
        await bounded(zip(names, groups, strict=True), put, concurrency)
    finally:
        await asyncio.shield(asyncio.to_thread(shutil.rmtree, folder, True))
    return names


async def download_packed(
    blobs: BlobStore, tenant_id: str, prefix: str, names: Iterable[str], target: Path, *,
    expected: Collection[str], concurrency: int,
) -> None:
    """Download the packs `<prefix><name>` and extract them into `target`: exactly `expected` files.

    Raises `PackError` when the packs hold anything else, or not all of it. The packs pass through
    hidden files in `target` that are removed once extracted.
    """
    counts: list[int] = []
    await asyncio.to_thread(target.mkdir, parents=True, exist_ok=True)

    async def get(name: str) -> None:
        local = target / f".download-{name}"
        try:
            await blobs.get_file(tenant_id, prefix + name, local)
            counts.append(len(await asyncio.to_thread(extract_pack, local, target, expected=expected)))
        finally:
            await asyncio.to_thread(local.unlink, True)

    await bounded(names, get, concurrency)
    if sum(counts) != len(expected):
        raise PackError(f"the packs under {prefix!r} hold {sum(counts)} of the {len(expected)} files expected")


@contextlib.asynccontextmanager
async def scratch_directory(parent: Path) -> AsyncIterator[Path]:
    """A fresh private folder under `parent`, removed (off the event loop) however the block ends."""
    await asyncio.to_thread(parent.mkdir, parents=True, exist_ok=True)
    path = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="work-", dir=parent))
    try:
        yield path
    finally:
        await asyncio.shield(asyncio.to_thread(shutil.rmtree, path, True))
