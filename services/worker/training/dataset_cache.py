"""Datasets on the worker's disk: downloaded once per dataset, shared by every job that uses it.

`<data_dir>/worker/cache/<tenant>/<dataset_id>/` mirrors the dataset's blobs under its prefix
(the layout `build_dataset` wrote: `train_lmdb/`, `test_lmdb/`, `mean.binaryproto`, list files).
The PNGs that ImageData layers read are a second part, `images/`, fetched only for nets that have
such a layer; the packed `.npy` arrays are never fetched (no engine reads them from here). The
storage service stores those PNGs as packs (`shared.blobs.packs`: `images/<split>/pack-NNNNN.tar`),
which are extracted where they lie; datasets built before packs hold one blob per PNG.

Each part is downloaded into a temporary folder beside its place and renamed into it: a part is
there entirely or not at all, whatever crashes. Two jobs of this worker wait for one download (a
lock per part); two workers sharing the disk may both download, the first rename wins and the
other discards its copy. A built dataset never changes, so a complete part is never refreshed.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import structlog

from services.worker.training.netdata import DatasetFiles
from shared.blobs import BlobStore
from shared.blobs.packs import PackError, extract_pack, is_pack
from shared.events.data import DatasetBuilt

log = structlog.get_logger(__name__)

IMAGES = "images"


class DatasetCacheError(Exception):
    """A dataset's blobs do not form a usable dataset (missing part, unsafe name)."""


class DatasetCache:
    def __init__(self, blobs: BlobStore, root: Path) -> None:
        self.blobs = blobs
        self.root = root
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    def folder(self, tenant_id: str, dataset_id: str) -> Path:
        return self.root / safe_name(tenant_id) / safe_name(dataset_id)

    async def ensure(self, tenant_id: str, dataset_id: str, built: DatasetBuilt, *, images: bool) -> DatasetFiles:
        """The dataset's local files, downloading the parts not yet here."""
        folder = self.folder(tenant_id, dataset_id)
        await self._ensure_part(tenant_id, dataset_id, built, "data", folder, _is_data_file)
        if images:
            await self._ensure_part(tenant_id, dataset_id, built, IMAGES, folder / IMAGES, _is_image_file)
        return dataset_files(folder, built)

    async def _ensure_part(self, tenant_id: str, dataset_id: str, built: DatasetBuilt, part: str,
                           target: Path, wanted: Callable[[str], bool]) -> None:
        lock = self._locks.setdefault((tenant_id, dataset_id, part), asyncio.Lock())
        async with lock:
            if await asyncio.to_thread(target.is_dir):
                return
            staging = target.parent / f".partial-{target.name}-{uuid.uuid4().hex[:8]}"
            try:
                count = await self._download(tenant_id, _prefix(built.blob_prefix), staging, wanted, part)
                await asyncio.to_thread(_publish, staging, target)
            finally:
                await asyncio.to_thread(shutil.rmtree, staging, True)
            log.info("dataset_part_cached", dataset_id=dataset_id, part=part, files=count)

    async def _download(self, tenant_id: str, prefix: str, staging: Path, wanted: Callable[[str], bool],
                        part: str) -> int:
        await asyncio.to_thread(staging.mkdir, parents=True)
        strip = f"{IMAGES}/" if part == IMAGES else ""
        count = 0
        async for info in self.blobs.list(tenant_id, prefix):
            relative = info.path[len(prefix):]
            if not wanted(relative):
                continue
            local = staging / safe_relative(relative.removeprefix(strip))
            await asyncio.to_thread(local.parent.mkdir, parents=True, exist_ok=True)
            if is_pack(relative):
                count += await self._unpack(tenant_id, info.path, local)
                continue
            await self.blobs.get_file(tenant_id, info.path, local)
            count += 1
        if not count:
            raise DatasetCacheError(f"the dataset has no {part} files under {prefix!r}")
        return count

    async def _unpack(self, tenant_id: str, path: str, local: Path) -> int:
        """Download the pack at `path` beside where it would lie and extract it into that folder."""
        try:
            await self.blobs.get_file(tenant_id, path, local)
            return len(await asyncio.to_thread(extract_pack, local, local.parent))
        except PackError as e:
            raise DatasetCacheError(f"the dataset's pack {path!r} is damaged: {e}") from e
        finally:
            await asyncio.to_thread(local.unlink, True)


def dataset_files(folder: Path, built: DatasetBuilt) -> DatasetFiles:
    """Where `build_dataset`'s outputs lie in a cached dataset folder."""
    return DatasetFiles(
        root=str(folder),
        train_lmdb=str(folder / "train_lmdb"),
        test_lmdb=str(folder / "test_lmdb"),
        train_list=str(folder / "train.txt"),
        test_list=str(folder / "test.txt"),
        mean_file=str(folder / "mean.binaryproto"),
        channels=built.shape[0],
    )


def _prefix(blob_prefix: str) -> str:
    return blob_prefix.rstrip("/") + "/"


def _is_data_file(relative: str) -> bool:
    return not relative.startswith(f"{IMAGES}/") and not relative.endswith(".npy")


def _is_image_file(relative: str) -> bool:
    return relative.startswith(f"{IMAGES}/")


def _publish(staging: Path, target: Path) -> None:
    """Rename the finished download into place; a copy that got there first wins."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staging, target)
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not target.is_dir():
            raise


def safe_name(name: str) -> str:
    """One path component from an id; ids are validated upstream, this keeps a bad one harmless."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise DatasetCacheError(f"unsafe name for a folder: {name!r}")
    return name


def safe_relative(relative: str) -> Path:
    path = PurePosixPath(relative)
    if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts):
        raise DatasetCacheError(f"unsafe blob path inside a dataset: {relative!r}")
    return Path(*path.parts)
