"""What the benchmark trains: synthetic digits, a tiny net for the pipeline figures, LeNet for the log.

A drain job must cost as little trainer time as possible, so that the figures measure the pipeline
(queue, assignment, trainer start, log, snapshot upload, events) and not the maths: the tiny net is
one InnerProduct layer over 28x28 images. LeNet with a display line every few iterations gives the
log-latency measurement a steady stream of lines over several seconds.
"""

from __future__ import annotations

import asyncio
import io
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from bench.pipeline.client import Api

NETS = Path(__file__).resolve().parents[2] / "tests" / "data" / "nets"
CLASSES, PER_CLASS, SIDE = 10, 20, 28
SETUP_TIMEOUT_S = 600.0

TINY_NET = """name: "tiny"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TRAIN }
  transform_param { scale: 0.00390625 } data_param { source: "train_lmdb" batch_size: 16 backend: LMDB } }
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
  transform_param { scale: 0.00390625 } data_param { source: "test_lmdb" batch_size: 40 backend: LMDB } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
layer { name: "accuracy" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy" include { phase: TEST } }
"""


class SetupFailed(RuntimeError):
    def __init__(self, path: str, state: str, error: object) -> None:
        super().__init__(f"{path} ended {state}: {error}")
        self.path, self.state, self.error = path, state, error


@dataclass(frozen=True)
class Solver:
    name: str
    solver_prototxt: str
    net_prototxt: str


@dataclass
class Tenant:
    name: str
    token: str
    dataset_id: str = ""
    solver_ids: dict[str, str] = field(default_factory=dict)

    def job(self, solver: str, engine: str) -> dict[str, str]:
        """The body of `POST /v1/training-jobs` for one job of `solver`."""
        return {"solver_id": self.solver_ids[solver], "dataset_id": self.dataset_id, "engine": engine}


def tiny_solver(iterations: int) -> Solver:
    text = (f'net: "net.prototxt"\nbase_lr: 0.01\nmomentum: 0.9\nlr_policy: "fixed"\ndisplay: 5\n'
            f"max_iter: {iterations}\ntest_iter: 1\ntest_interval: {iterations}\nsnapshot: {iterations}\n"
            f'snapshot_prefix: "tiny"\nsolver_mode: CPU\n')
    return Solver("tiny", text, TINY_NET)


def lenet_solver(iterations: int, display: int) -> Solver:
    text = (NETS / "lenet_solver.prototxt").read_text()
    for key, value in (("max_iter", iterations), ("snapshot", iterations), ("test_interval", iterations),
                       ("test_iter", 1), ("display", display)):
        text = re.sub(rf"^{key}: .*$", f"{key}: {value}", text, flags=re.MULTILINE)
    return Solver("lenet", text, (NETS / "lenet_train_test.prototxt").read_text())


def synthetic_archive() -> bytes:
    """`digits/<class>/<n>.png` as tar.gz: noisy images whose bright band depends on the class."""
    rng = np.random.default_rng(1)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for label in range(CLASSES):
            for index in range(PER_CLASS):
                pixels = rng.integers(0, 64, size=(SIDE, SIDE), dtype=np.uint8)
                pixels[:, label * 2:label * 2 + 6] += 160
                buffer = io.BytesIO()
                Image.fromarray(pixels).save(buffer, format="PNG")
                info = tarfile.TarInfo(f"digits/{label}/{index:03d}.png")
                info.size = buffer.tell()
                archive.addfile(info, io.BytesIO(buffer.getvalue()))
    return out.getvalue()


async def create_tenants(api: Api, admin: str, names: list[str]) -> list[Tenant]:
    """Each tenant with an owner and a ready dataset of the synthetic digits."""
    archive = await asyncio.to_thread(synthetic_archive)
    return list(await asyncio.gather(*(_tenant(api, admin, name, archive) for name in names)))


async def add_solvers(api: Api, tenants: list[Tenant], solvers: list[Solver]) -> None:
    """Create the solvers in every tenant (the API validates each by building its net)."""
    for tenant in tenants:
        for solver in solvers:
            made = await api.call("POST", "/v1/solvers", tenant.token, json={
                "name": solver.name, "solver_prototxt": solver.solver_prototxt, "net_prototxt": solver.net_prototxt,
                "dataset_id": tenant.dataset_id})
            tenant.solver_ids[solver.name] = made["id"]


async def _tenant(api: Api, admin: str, name: str, archive: bytes) -> Tenant:
    created = await api.call("POST", "/v1/tenants", admin, json={"name": name})
    owner = await api.call("POST", f"/v1/tenants/{created['id']}/users", admin,
                           json={"name": f"{name}-owner", "role": "owner"})
    tenant = Tenant(name, owner["token"])
    datafile = await api.call("POST", "/v1/datafiles?name=digits.tar.gz", tenant.token, data=archive,
                              headers={"Content-Type": "application/gzip"})
    await _wait_ready(api, f"/v1/datafiles/{datafile['id']}", tenant.token, {"rejected"})
    dataset = await api.call("POST", "/v1/datasets", tenant.token, json={
        "datafile_id": datafile["id"], "test_fraction": 0.2, "seed": 1,
        "image": {"width": SIDE, "height": SIDE, "resize_mode": "squash", "color": "gray"}})
    await _wait_ready(api, f"/v1/datasets/{dataset['id']}", tenant.token, {"failed"})
    tenant.dataset_id = dataset["id"]
    return tenant


async def _wait_ready(api: Api, path: str, token: str, failures: set[str]) -> None:
    found = await api.wait_state(path, token, {"ready", *failures}, SETUP_TIMEOUT_S)
    if found["state"] != "ready":
        raise SetupFailed(path, found["state"], found.get("error"))
