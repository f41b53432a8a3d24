"""The worker's dataset cache lays packed images out as the list files name them."""

from __future__ import annotations

import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.worker.training.dataset_cache import DatasetCache, DatasetCacheError
from shared.blobs.local import LocalBlobStore
from shared.blobs.packs import write_pack
from shared.events.data import DatasetBuilt

TENANT = "t1"
PREFIX = "datasets/d1/"


async def one(body: bytes) -> AsyncIterator[bytes]:
    yield body


def built() -> DatasetBuilt:
    return DatasetBuilt(blob_prefix=PREFIX, labels=["a", "b"], counts={"train": {"a": 1, "b": 1}, "test": {"a": 1}},
                        shape=(1, 2, 2), files={})


async def stored_dataset(tmp_path: Path) -> LocalBlobStore:
    """Data files, train PNGs in a pack, and test PNGs one blob each (a dataset built before packs)."""
    blobs = LocalBlobStore(tmp_path / "blobs", url_base="http://127.0.0.1:1", url_secret=b"test")
    for path in ("train_lmdb/data.mdb", "train.txt", "mean.binaryproto", "train_images.npy"):
        await blobs.put(TENANT, PREFIX + path, one(path.encode()))
    for name in ("0/00000000.png", "1/00000001.png"):
        (tmp_path / "train" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "train" / name).write_bytes(name.encode())
    write_pack(tmp_path / "train", ["0/00000000.png", "1/00000001.png"], tmp_path / "pack.tar")
    await blobs.put_file(TENANT, PREFIX + "images/train/pack-00000.tar", tmp_path / "pack.tar")
    await blobs.put(TENANT, PREFIX + "images/test/0/00000000.png", one(b"legacy"))
    return blobs


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


async def test_packed_and_single_images_are_laid_out_where_the_lists_name_them(tmp_path: Path) -> None:
    cache = DatasetCache(await stored_dataset(tmp_path), tmp_path / "cache")
    files = await cache.ensure(TENANT, "d1", built(), images=True)

    root = Path(files.root)
    assert files_under(root) == ["images/test/0/00000000.png", "images/train/0/00000000.png",
                                 "images/train/1/00000001.png", "mean.binaryproto", "train.txt", "train_lmdb/data.mdb"]
    assert (root / "images/train/1/00000001.png").read_bytes() == b"1/00000001.png"


async def test_a_damaged_pack_fails_the_images_part_and_leaves_nothing(tmp_path: Path) -> None:
    blobs = await stored_dataset(tmp_path)
    bad = io.BytesIO()
    with tarfile.open(fileobj=bad, mode="w") as archive:
        link = tarfile.TarInfo("0/link.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    await blobs.put(TENANT, PREFIX + "images/train/pack-00001.tar", one(bad.getvalue()))
    cache = DatasetCache(blobs, tmp_path / "cache")

    with pytest.raises(DatasetCacheError, match="damaged"):
        await cache.ensure(TENANT, "d1", built(), images=True)
    assert not (cache.folder(TENANT, "d1") / "images").exists()
    assert not list(cache.folder(TENANT, "d1").glob(".partial-*"))
