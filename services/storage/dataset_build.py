"""The handler that builds a requested dataset and records `DatasetBuilt` or `DatasetFailed`.

The datafile's validated files and manifest are downloaded to scratch space, `build_dataset` runs
off the event loop, and every output is uploaded under `datasets/<id>/` in the build's own layout
before the outcome is appended. A failed build leaves nothing under that prefix.

`DatasetBuilt.files` maps a kind to a blob path inside the tenant. Paths ending in `/` are
folders: download every blob under them, keeping the names. Lay the downloads out as under
`blob_prefix` (one local dataset directory), because list files name images relative to it.

- `labels`: `labels.txt`, class names, line i is label i (sorted names);
- `mean`: `mean.binaryproto`, the train split's mean image (Caffe `transform_param.mean_file`);
- `manifest`: `manifest.json`, the full `DatasetManifest` (spec, shape, counts, every file);
- `train_lmdb`, `test_lmdb`: folders `train_lmdb/`, `test_lmdb/` (LMDB `data.mdb`, `lock.mdb`)
  of Caffe Datums, CHW uint8, BGR for colour (the Data layer's `source`, backend LMDB);
- `train_list`, `test_list`: `train.txt`, `test.txt`, lines `<image path> <label>` for the
  ImageData layer, paths relative to `image_root`;
- `image_root`: the dataset folder itself (`blob_prefix`): ImageData's `root_folder` is the local
  copy of it, with a trailing slash;
- `train_images`, `test_images`: folders `images/train/`, `images/test/` of the PNGs the lists name,
  stored as packs (`shared.blobs.packs`): blobs `pack-NNNNN.tar` in the folder whose members are the
  PNGs' paths relative to it (`<label>/<n>.png`); extract each into the folder. (Datasets built
  before packs hold one blob per PNG there instead.)
- `train_images_npy`, `test_images_npy`: packed (N, C, H, W) uint8 BGR arrays, row i = list line i
  = LMDB record i; `train_labels_npy`, `test_labels_npy`: their (N,) int32 labels.

A trainer with the Data layer needs `train_lmdb`, `test_lmdb` (and `mean`); ImageData needs the
lists and image folders; the torch engine's fast path needs the four `.npy` files.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from services.storage.blob_paths import dataset_prefix, files_prefix, manifest_path
from services.storage.cache import FILES, Fill
from services.storage.context import StorageContext, is_transient, transient_failures
from services.storage.datafile import DatafileManifest
from services.storage.datasets import MANIFEST_NAME, DatasetManifest, DatasetSpec, build_dataset
from services.storage.decisions import dataset_building, decide_dataset_outcome
from services.storage.errors import DatafileRejected
from services.storage.images import ColorMode, ResizeMode
from services.storage.transfer import download_files, download_packed, relative_files, scratch_directory, upload_files
from shared.blobs import BlobNotFound
from shared.blobs.packs import PackError
from shared.domain import datafile as datafiles
from shared.domain import dataset as datasets
from shared.domain.streams import execute, load
from shared.events import Envelope, Event
from shared.events import data as events

log = structlog.get_logger(__name__)


class BuildFailed(Exception):
    """Why a dataset cannot be built, in words for the user."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class DatasetBuild:
    def __init__(self, context: StorageContext) -> None:
        self.context = context

    async def on_requested(self, envelope: Envelope, event: Event) -> None:
        assert isinstance(event, events.DatasetRequested)
        with transient_failures():
            async with self.context.heavy:  # state checked after the wait: it may be deleted meanwhile
                if not await self._building(envelope.tenant_id, event.dataset_id):
                    return
                try:
                    built = await self._build(envelope.tenant_id, event)
                except BuildFailed as failed:
                    await self._fail(envelope, event.dataset_id, failed.reason)
                    return
                except Exception as e:  # a bug must not leave the dataset building forever
                    if is_transient(e):
                        raise
                    log.exception("dataset_build_crashed", dataset_id=event.dataset_id)
                    await self._fail(envelope, event.dataset_id, f"internal error while building ({type(e).__name__})")
                    return
                await self._record(envelope, event.dataset_id, built)

    async def _building(self, tenant_id: str, dataset_id: str) -> bool:
        """Whether the dataset still waits for a build; clears the blobs of one that never will."""
        dataset = await self._load(tenant_id, dataset_id)
        if dataset_building(dataset):
            return True
        if dataset is not None and dataset.state in (datasets.DatasetState.FAILED, datasets.DatasetState.DELETED):
            await self.context.blobs.delete_prefix(tenant_id, dataset_prefix(dataset_id))
        log.info("dataset_already_decided", dataset_id=dataset_id,
                 state=None if dataset is None else dataset.state.value)
        return False

    async def _build(self, tenant_id: str, request: events.DatasetRequested) -> events.DatasetBuilt:
        datafile, _ = await load(self.context.store, tenant_id, datafiles.datafile_stream(request.datafile_id),
                                 datafiles.evolve)
        if datafile is None or datafile.state is not datafiles.DatafileState.READY:
            shown = "missing" if datafile is None else datafile.state.value
            raise BuildFailed(f"datafile {request.datafile_id} is {shown}, not ready: a dataset needs an accepted "
                              "datafile")
        prefix = dataset_prefix(request.dataset_id)
        cache = self.context.cache
        async with cache.use(tenant_id, request.datafile_id, self._downloader(tenant_id, request.datafile_id)) as (
                source, datafile_manifest), scratch_directory(self.context.work_dir) as scratch:
            try:
                manifest = await asyncio.to_thread(build_dataset, source, datafile_manifest, scratch / "dataset",
                                                   _spec(request), pack_bytes=self.context.pack_bytes)
            except DatafileRejected as rejected:
                raise BuildFailed(str(rejected)) from rejected
            await self.context.blobs.delete_prefix(tenant_id, prefix)  # what a crashed attempt left
            paths = await asyncio.to_thread(relative_files, scratch / "dataset")  # the PNGs are in a few packs
            await upload_files(self.context.blobs, tenant_id, scratch / "dataset", paths, prefix,
                               concurrency=self.context.transfer_concurrency)
        return _built(prefix, manifest)

    def _downloader(self, tenant_id: str, datafile_id: str) -> Fill:
        """On a cache miss: the datafile's manifest and validated files from the blob store."""
        blobs = self.context.blobs

        async def fill(folder: Path) -> DatafileManifest:
            try:
                body = b"".join([chunk async for chunk in blobs.get(tenant_id, manifest_path(datafile_id))])
                manifest = DatafileManifest.model_validate_json(body)
                await self._download_files(tenant_id, datafile_id, manifest, folder / FILES)
            except BlobNotFound as e:
                raise BuildFailed(f"the files of datafile {datafile_id} are gone (was it deleted?)") from e
            except PackError as e:
                raise BuildFailed(f"the stored files of datafile {datafile_id} are damaged ({e})") from e
            return manifest

        return fill

    async def _download_files(self, tenant_id: str, datafile_id: str, manifest: DatafileManifest,
                              target: Path) -> None:
        paths = [entry.path for entry in manifest.files]
        prefix, concurrency = files_prefix(datafile_id), self.context.transfer_concurrency
        if manifest.packs:
            await download_packed(self.context.blobs, tenant_id, prefix, manifest.packs, target,
                                  expected=frozenset(paths), concurrency=concurrency)
        else:  # ingested before packs: one blob per file
            await download_files(self.context.blobs, tenant_id, prefix, paths, target, concurrency=concurrency)

    async def _record(self, envelope: Envelope, dataset_id: str, built: events.DatasetBuilt) -> None:
        appended = await self._decide(envelope, dataset_id, built)
        if not appended:  # deleted (or decided elsewhere) while we built: ours must not stay behind
            dataset = await self._load(envelope.tenant_id, dataset_id)
            if dataset is None or dataset.state is not datasets.DatasetState.READY:
                await self.context.blobs.delete_prefix(envelope.tenant_id, dataset_prefix(dataset_id))
            return
        log.info("dataset_built", dataset_id=dataset_id, counts=built.counts)

    async def _fail(self, envelope: Envelope, dataset_id: str, reason: str) -> None:
        await self._decide(envelope, dataset_id, events.DatasetFailed(reason=reason[:2000]))
        await self.context.blobs.delete_prefix(envelope.tenant_id, dataset_prefix(dataset_id))
        log.info("dataset_failed", dataset_id=dataset_id, reason=reason)

    async def _decide(self, envelope: Envelope, dataset_id: str,
                      outcome: events.DatasetBuilt | events.DatasetFailed) -> list[Envelope]:
        return await execute(self.context.store, self.context.publisher, tenant_id=envelope.tenant_id,
                             stream_id=datasets.dataset_stream(dataset_id), evolve=datasets.evolve,
                             decide=lambda dataset: decide_dataset_outcome(dataset, outcome), causation=envelope)

    async def _load(self, tenant_id: str, dataset_id: str) -> datasets.Dataset | None:
        dataset, _ = await load(self.context.store, tenant_id, datasets.dataset_stream(dataset_id), datasets.evolve)
        return dataset


def _spec(request: events.DatasetRequested) -> DatasetSpec:
    image = request.image
    return DatasetSpec(height=image.height, width=image.width, resize_mode=ResizeMode(image.resize_mode),
                       color=ColorMode(image.color), test_fraction=request.test_fraction,
                       seed=request.seed % 2**63)  # the spec's seeds are not negative; any int maps to one


def _built(prefix: str, manifest: DatasetManifest) -> events.DatasetBuilt:
    labels = list(manifest.labels)
    counts: dict[events.Split, dict[str, int]] = {
        "train": dict(zip(labels, manifest.train.class_counts, strict=True)),
        "test": dict(zip(labels, manifest.test.class_counts, strict=True)),
    }
    return events.DatasetBuilt(blob_prefix=prefix, labels=labels, counts=counts, shape=manifest.shape,
                               files=output_kinds(prefix, manifest))


def output_kinds(prefix: str, manifest: DatasetManifest) -> dict[str, str]:
    """The `files` of `DatasetBuilt`: kind -> blob path (a trailing `/` marks a folder)."""
    kinds = {
        "labels": manifest.labels_file,
        "mean": manifest.mean_file,
        "manifest": MANIFEST_NAME,
        "image_root": "",
    }
    for name, split in (("train", manifest.train), ("test", manifest.test)):
        kinds[f"{name}_lmdb"] = split.lmdb + "/"
        kinds[f"{name}_list"] = split.list_file
        kinds[f"{name}_images"] = split.image_dir + "/"
        kinds[f"{name}_images_npy"] = split.packed_images
        kinds[f"{name}_labels_npy"] = split.packed_labels
    return {kind: prefix + path for kind, path in kinds.items()}
