"""Training jobs whose snapshot makes a real classifier, in the API's test world.

`classifiable_job` appends what the solver route, the storage service, the scheduler and a worker
would have written for a finished training job: a solver with a real training net (LeNet by
default), a built dataset (with its mean image in the blob store), a submitted job that saved a
snapshot with real weights (the deploy net's layers built by our torch engine with seeded random
fillers, written as Caffe writes a .caffemodel) and succeeded. `create_classifier` then makes a
classifier of it through the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.api.tokens import new_id
from services.worker.classify.deploy import derive_deploy
from services.worker.engines.torch.net import TorchNet
from services.worker.engines.torch.prototxt import parse_net_text
from shared.caffe.binaryproto import blob_from_array
from shared.events.data import DatasetBuilt, DatasetRequested, ImageSpec
from shared.events.training import (
    LayerSummary,
    SnapshotRef,
    SnapshotSaved,
    SolverCreated,
    SolverSummary,
    TrainingJobStarted,
    TrainingJobSucceeded,
)
from tests.integration.api.jobs_world import TenantUsers, World

NETS = Path(__file__).resolve().parents[2] / "data" / "nets"
LENET = (NETS / "lenet_train_test.prototxt").read_text()
CIFAR = (NETS / "cifar10_quick_train_test.prototxt").read_text()
DIGITS = [str(n) for n in range(10)]
GRAY_28 = ImageSpec(width=28, height=28, resize_mode="squash", color="gray")


@dataclass(frozen=True)
class TrainedJob:
    job_id: str
    dataset_id: str
    weights: bytes  # the snapshot's caffemodel
    mean: np.ndarray[Any, np.dtype[np.float32]] | None  # the dataset's mean image (C, H, W)


def random_weights(net_text: str, shape: tuple[int, int, int], *, seed: int = 1) -> bytes:
    """A .caffemodel for the net's deploy form: every learnable layer filled by its seeded fillers."""
    deploy = derive_deploy(net_text, channels=shape[0], height=shape[1], width=shape[2])
    data: bytes = TorchNet(parse_net_text(deploy), "TEST", seed=seed).to_proto().SerializeToString()
    return data


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def classifiable_job(world: World, tenant: TenantUsers, *, net_text: str = LENET, labels: list[str] = DIGITS,
                           image: ImageSpec = GRAY_28, succeed: bool = True, seed: int = 1,
                           weights_net: str | None = None) -> TrainedJob:
    """A job of `net_text` with a snapshot at 50 holding the weights of `weights_net` (default: the same net)."""
    tenant_id = tenant.tenant_id
    channels = 1 if image.color == "gray" else 3
    shape = (channels, image.height, image.width)
    solver_id = new_id()
    await world.append(tenant_id, f"solver-{solver_id}", [SolverCreated(
        solver_id=solver_id, solver_prototxt="base_lr: 0.01", net_prototxt=net_text, created_by="test",
        summary=SolverSummary(layers=[LayerSummary(name="ip2", type="InnerProduct", top_shapes=[[64, len(labels)]])],
                              parameter_count=1, input_shape=[64, *shape], num_outputs=len(labels), max_iter=100,
                              solver_type="SGD"))])
    dataset_id = new_id()
    prefix = f"datasets/{dataset_id}/"
    mean = np.random.default_rng(seed).uniform(0, 255, size=shape).astype(np.float32)
    await world.backends.blobs.put(tenant_id, prefix + "mean.binaryproto",
                                   _bytes(blob_from_array(mean[np.newaxis], legacy_shape=True).SerializeToString()))
    await world.append(tenant_id, f"dataset-{dataset_id}", [
        DatasetRequested(dataset_id=dataset_id, datafile_id=new_id(), test_fraction=0.2, seed=1, image=image,
                         requested_by="test"),
        DatasetBuilt(blob_prefix=prefix, labels=labels, shape=shape, files={"mean": prefix + "mean.binaryproto"},
                     counts={"train": dict.fromkeys(labels, 8), "test": dict.fromkeys(labels, 2)})])
    job_id = await world.submit(tenant, solver_id=solver_id, dataset_id=dataset_id)
    attempt = await world.assign(tenant_id, job_id)
    weights = random_weights(weights_net or net_text, shape, seed=seed)
    base = f"jobs/{job_id}/snapshots/50"
    await world.backends.blobs.put(tenant_id, base + ".caffemodel", _bytes(weights))
    await world.backends.blobs.put(tenant_id, base + ".solverstate", _bytes(b"state"))
    await world.worker_writes(tenant_id, job_id, [
        TrainingJobStarted(worker_id="w1", attempt=attempt, pid=1),
        SnapshotSaved(attempt=attempt, snapshot=SnapshotRef(iteration=50, caffemodel_path=base + ".caffemodel",
                                                             solverstate_path=base + ".solverstate"))])
    if succeed:
        await world.worker_writes(tenant_id, job_id, [TrainingJobSucceeded(attempt=attempt, iteration=50)])
    return TrainedJob(job_id, dataset_id, weights, mean)


async def create_classifier(world: World, tenant: TenantUsers, job_id: str, **body: Any) -> dict[str, Any]:
    status, created = await world.call("POST", "/v1/classifiers", tenant.member,
                                       json={"training_job_id": job_id, **body})
    assert status == 201, created
    return dict(created)
