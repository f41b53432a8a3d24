"""A worker service in-process on the embedded backends, fed real datasets, solvers and assignments.

The dataset is built by the storage library (`ingest_datafile` + `build_dataset`) from real MNIST
digits and uploaded to the blob store under `datasets/<id>/` as the storage service stores it;
the job stream is written as the API and the scheduler write it; the trainer is the real
`elasticthought train` child process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from services.storage.datasets import DatasetSpec, build_dataset
from services.storage.images import ColorMode
from services.storage.ingest import ingest_datafile
from services.worker.bootstrap import build_worker
from services.worker.capabilities import Capabilities
from services.worker.service import WorkerService
from shared.blobs.packs import DEFAULT_PACK_BYTES
from shared.bus.outbox import EventPublisher
from shared.caffe.log import split_glog
from shared.domain.job import Job, evolve, job_stream
from shared.domain.streams import load
from shared.events import Envelope, Event, registry
from shared.events.data import DatasetBuilt, DatasetRequested, ImageSpec
from shared.events.training import (
    SnapshotRef,
    SolverCreated,
    SolverSummary,
    TrainingJobAssigned,
    TrainingJobSubmitted,
    TrainingLogAppended,
)
from shared.runtime import Backends
from shared.settings import Settings
from tests.support.archives import array_png, write_tar
from tests.support.mnist import MnistSplit

TENANT = "t1"
WORKER = "w1"

NET = """
name: "LeNet"
layer { name: "mnist" type: "Data" top: "data" top: "label" include { phase: TRAIN }
        transform_param { scale: 0.00390625 } data_param { source: "mnist_train_lmdb" batch_size: 32 backend: LMDB } }
layer { name: "mnist" type: "Data" top: "data" top: "label" include { phase: TEST }
        transform_param { scale: 0.00390625 } data_param { source: "mnist_test_lmdb" batch_size: 100 backend: LMDB } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 8 kernel_size: 5 weight_filler { type: "xavier" } } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool1" top: "ip1"
        inner_product_param { num_output: 64 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
        inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""


IMAGE_NET = NET.replace(
    'data_param { source: "mnist_train_lmdb" batch_size: 32 backend: LMDB }',
    'image_data_param { source: "train.txt" batch_size: 32 shuffle: true }',
).replace(
    'data_param { source: "mnist_test_lmdb" batch_size: 100 backend: LMDB }',
    'image_data_param { source: "test.txt" batch_size: 100 }',
).replace('type: "Data"', 'type: "ImageData"')


def solver_text(max_iter: int, *, snapshot: int = 20, display: int = 10, test_interval: int = 20) -> str:
    return (f'net: "lenet_train_test.prototxt"\ntest_iter: 2\ntest_interval: {test_interval}\nbase_lr: 0.01\n'
            f'momentum: 0.9\nweight_decay: 0.0005\nlr_policy: "inv"\ngamma: 0.0001\npower: 0.75\n'
            f'display: {display}\nmax_iter: {max_iter}\nsnapshot: {snapshot}\nsnapshot_prefix: "lenet"\n'
            f'solver_mode: GPU\nrandom_seed: 1\n')


def build_mnist_dataset(split: MnistSplit, work: Path, *, per_class: int = 60) -> Path:
    """A real dataset directory from `per_class` digits of each class (80/20 split)."""
    entries: dict[str, bytes] = {}
    digits = split.train
    for label in range(10):
        for n, index in enumerate(np.flatnonzero(digits.labels == label)[:per_class]):
            entries[f"digits/{label}/{n}.png"] = array_png(digits.images[index])
    archive = write_tar(work / "digits.tar.gz", entries, "gz")
    manifest = ingest_datafile(archive, work / "datafile")
    output = work / "dataset"
    build_dataset(work / "datafile", manifest, output, DatasetSpec(height=28, width=28, color=ColorMode.GRAY,
                                                                  test_fraction=0.2, seed=1),
                  pack_bytes=DEFAULT_PACK_BYTES)  # the PNGs packed, as the storage service stores them
    return output


@dataclass
class World:
    backends: Backends
    settings: Settings
    publisher: EventPublisher

    async def append(self, stream: str, events: list[Event], *, recipient: str | None = None,
                     tenant: str = TENANT) -> list[Envelope]:
        version = await self.backends.store.stream_version(tenant, stream)
        envelopes = [registry.envelope(e, tenant_id=tenant, stream_id=stream, stream_version=version + i,
                                       recipient=recipient)
                     for i, e in enumerate(events, start=1)]
        return await self.publisher.append_and_publish(envelopes, expected_version=version)

    async def store_only(self, stream: str, events: list[Event], *, recipient: str | None = None) -> list[Envelope]:
        """Append without publishing: the message is delivered later, when a test chooses."""
        version = await self.backends.store.stream_version(TENANT, stream)
        envelopes = [registry.envelope(e, tenant_id=TENANT, stream_id=stream, stream_version=version + i,
                                       recipient=recipient)
                     for i, e in enumerate(events, start=1)]
        return await self.backends.store.append(envelopes, expected_version=version)

    async def upload_dataset(self, dataset_id: str, directory: Path) -> None:
        prefix = f"datasets/{dataset_id}/"
        files: dict[str, str] = {}
        for path in await asyncio.to_thread(_files_under, directory):
            relative = path.relative_to(directory).as_posix()
            await self.backends.blobs.put_file(TENANT, prefix + relative, path)
            if "/" not in relative or relative.endswith("data.mdb"):
                files[relative.split("/")[0].removesuffix(".binaryproto")] = prefix + relative
        await self.append(f"dataset-{dataset_id}", [
            DatasetRequested(dataset_id=dataset_id, datafile_id="df1", test_fraction=0.2, seed=1,
                             image=ImageSpec(width=28, height=28, color="gray"), requested_by="u1"),
            DatasetBuilt(blob_prefix=prefix, labels=[str(d) for d in range(10)],
                         counts={"train": {}, "test": {}}, shape=(1, 28, 28), files=files),
        ])

    async def create_solver(self, solver_id: str, solver: str, net: str = NET) -> None:
        summary = SolverSummary(layers=[], parameter_count=0, input_shape=[1, 1, 28, 28], num_outputs=10,
                                max_iter=0, solver_type="SGD")
        await self.append(f"solver-{solver_id}", [SolverCreated(
            solver_id=solver_id, solver_prototxt=solver, net_prototxt=net, summary=summary, created_by="u1")])

    async def submit_and_assign(self, job_id: str, *, solver_id: str, dataset_id: str, attempt: int = 1,
                                worker: str = WORKER, resume_from: SnapshotRef | None = None,
                                max_iter: int = 0) -> Envelope:
        stream = job_stream(job_id)
        if attempt == 1:
            await self.append(stream, [TrainingJobSubmitted(job_id=job_id, solver_id=solver_id, dataset_id=dataset_id,
                                                            engine="torch", max_iter=max_iter, submitted_by="u1")])
        assigned = TrainingJobAssigned(worker_id=worker, attempt=attempt, engine="torch", gpus=[],
                                       resume_from=resume_from)
        stored = await self.append(stream, [assigned], recipient=f"worker-{worker}")
        return stored[0]

    async def events(self, job_id: str) -> list[Event]:
        return [registry.decode(e) for e in await self.backends.store.read_stream(TENANT, job_stream(job_id))]

    async def job(self, job_id: str) -> Job:
        job, _ = await load(self.backends.store, TENANT, job_stream(job_id), evolve)
        assert job is not None
        return job

    def worker(self, slots: int = 2, worker_id: str = WORKER) -> WorkerService:
        capabilities = Capabilities(worker_id=worker_id, host="h", pid=1, slots=slots, gpus=[], engines=["torch"])
        return build_worker(self.settings, capabilities, self.backends)


async def log_latencies(world: World, job_id: str) -> list[float]:
    """Seconds from each glog line's own timestamp (local time) to the append that carried it."""
    latencies = []
    for envelope in await world.backends.store.read_stream(TENANT, job_stream(job_id)):
        event = registry.decode(envelope)
        if not isinstance(event, TrainingLogAppended):
            continue
        for line in event.lines:
            glog, _ = split_glog(line)
            if glog is None:
                continue
            stamp = f"{envelope.occurred_at.astimezone().year}{glog.date} {glog.time}"
            written = datetime.strptime(stamp, "%Y%m%d %H:%M:%S.%f").astimezone()
            latencies.append((envelope.occurred_at - written).total_seconds())
    return latencies


def _files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout_s}s"
        await asyncio.sleep(0.05)


def types(events: list[Event]) -> list[str]:
    return [type(e).type_name for e in events]
