"""A running API over real HTTP on the embedded backends, with tenants, solvers and datasets in its log.

Tenants, users and tokens are created through the tenancy aggregate's own decisions; solvers and
datasets are appended as the solver route and the storage service record them; job events as the
scheduler and a worker write them (through the job aggregate, fenced by attempt). So every test
talks HTTP to the real app over the real SQLite store, in-process bus and local blob store, and
the events it reads are the ones the other services would have written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from services.api.app import create_app
from services.api.tokens import new_id, new_token
from shared.bus.outbox import EventPublisher
from shared.domain import job, streams, tenancy
from shared.events import SYSTEM_TENANT, Envelope, Event, registry
from shared.events.data import DatasetBuilt, DatasetFailed, DatasetRequested, ImageSpec
from shared.events.tenancy import Role
from shared.events.training import (
    LayerSummary,
    SnapshotRef,
    SnapshotSaved,
    SolverCreated,
    SolverSummary,
    TrainingJobAssigned,
    TrainingJobStarted,
    TrainingJobSucceeded,
    TrainingLogAppended,
    TrainingProgressed,
)
from shared.runtime import Backends, open_backends
from shared.settings import Mode, Settings

ADMIN_TOKEN = "admin-" + "x" * 40


@dataclass(frozen=True)
class TenantUsers:
    tenant_id: str
    owner: str  # token text
    member: str
    owner_id: str
    member_id: str


class World:
    def __init__(self, backends: Backends, url: str, session: aiohttp.ClientSession) -> None:
        self.backends = backends
        self.url = url
        self.session = session
        self.publisher = EventPublisher(backends.store, backends.bus)

    # --- HTTP ------------------------------------------------------------------------------

    def request(self, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.url + path, headers=headers, **kwargs)

    async def call(self, method: str, path: str, token: str | None, **kwargs: Any) -> tuple[int, Any]:
        async with self.request(method, path, token, **kwargs) as response:
            if response.content_type.endswith("json"):
                return response.status, await response.json(content_type=None)
            return response.status, await response.text()

    # --- what other services and routes write ------------------------------------------------

    async def tenant(self, name: str) -> TenantUsers:
        tenant_id = f"{name}-{new_id()[:6]}"
        await self._execute(SYSTEM_TENANT, tenancy.tenant_stream(tenant_id), tenancy.evolve_tenant,
                            lambda s: tenancy.decide_create_tenant(s, tenant_id=tenant_id, name=name))
        owner_id, owner = await self._user(tenant_id, "owner")
        member_id, member = await self._user(tenant_id, "member")
        return TenantUsers(tenant_id, owner, member, owner_id, member_id)

    async def _user(self, tenant_id: str, role: Role) -> tuple[str, str]:
        user_id = new_id()
        await self._execute(tenant_id, tenancy.user_stream(user_id), tenancy.evolve_user,
                            lambda s: tenancy.decide_add_user(s, user_id=user_id, name=role, role=role,
                                                              added_by="admin"))
        token = new_token(tenant_id)
        await self._execute(tenant_id, tenancy.token_stream(token.token_id), tenancy.evolve_token,
                            lambda s: tenancy.decide_issue_token(s, token_id=token.token_id, user_id=user_id,
                                                                 name="test", secret_sha256=token.secret_sha256))
        return user_id, token.text

    async def solver(self, tenant_id: str, *, num_outputs: int | None = 10, max_iter: int = 100) -> str:
        solver_id = new_id()
        summary = SolverSummary(layers=[LayerSummary(name="ip2", type="InnerProduct", top_shapes=[[64, 10]])],
                                parameter_count=431080, input_shape=[64, 1, 28, 28], num_outputs=num_outputs,
                                max_iter=max_iter, solver_type="SGD")
        await self.append(tenant_id, f"solver-{solver_id}", [SolverCreated(
            solver_id=solver_id, solver_prototxt="base_lr: 0.01", net_prototxt="name: 'LeNet'", summary=summary,
            created_by="test")])
        return solver_id

    async def dataset(self, tenant_id: str, *, classes: int = 10, state: str = "ready") -> str:
        dataset_id = new_id()
        events: list[Event] = [DatasetRequested(
            dataset_id=dataset_id, datafile_id=new_id(), test_fraction=0.2, seed=1,
            image=ImageSpec(width=28, height=28, resize_mode="squash", color="gray"), requested_by="test")]
        labels = [str(n) for n in range(classes)]
        if state == "ready":
            events.append(DatasetBuilt(blob_prefix=f"datasets/{dataset_id}", labels=labels,
                                       counts={"train": dict.fromkeys(labels, 8), "test": dict.fromkeys(labels, 2)},
                                       shape=(1, 28, 28), files={}))
        elif state == "failed":
            events.append(DatasetFailed(reason="no images"))
        await self.append(tenant_id, f"dataset-{dataset_id}", events)
        return dataset_id

    async def submit(self, tenant: TenantUsers, **body: Any) -> str:
        solver_id = body.pop("solver_id", None) or await self.solver(tenant.tenant_id)
        dataset_id = body.pop("dataset_id", None) or await self.dataset(tenant.tenant_id)
        status, answer = await self.call("POST", "/v1/training-jobs", tenant.member,
                                         json={"solver_id": solver_id, "dataset_id": dataset_id, **body})
        assert status == 202, answer
        job_id: str = answer["id"]
        return job_id

    async def assign(self, tenant_id: str, job_id: str, worker_id: str = "w1") -> int:
        """What the scheduler writes; returns the attempt."""
        envelopes = await self._execute(
            tenant_id, job.job_stream(job_id), job.evolve,
            lambda s: job.decide_assign(_known(s), worker_id=worker_id, engine="torch", gpus=[]))
        event = registry.decode(envelopes[0])
        assert isinstance(event, TrainingJobAssigned)
        return event.attempt

    async def worker_writes(self, tenant_id: str, job_id: str, events: Sequence[Event]) -> list[Envelope]:
        """What a worker appends: refused (nothing appended) unless its attempt is the live one."""

        def decide(state: job.Job | None) -> list[Event]:
            current = _known(state)
            return [e for e in events if current.accepts(getattr(e, "attempt", None))]

        return await self._execute(tenant_id, job.job_stream(job_id), job.evolve, decide)

    async def run_to_snapshot(self, tenant_id: str, job_id: str, *, attempt: int = 1) -> None:
        """Started, two log batches, train and test progress, a snapshot at 50 (with its blobs)."""
        for kind, payload in (("caffemodel", b"weights-50" * 1000), ("solverstate", b"state-50")):
            await self.backends.blobs.put(tenant_id, f"jobs/{job_id}/snapshots/50.{kind}", _chunks(payload))
        await self.worker_writes(tenant_id, job_id, [
            TrainingJobStarted(worker_id="w1", attempt=attempt, pid=4242),
            TrainingLogAppended(attempt=attempt, first_line=1, lines=["I1124 solver.cpp:218] Iteration 0, lr = 0.01",
                                                                     "line two"]),
            TrainingProgressed(attempt=attempt, iteration=0, phase="train", outputs={"loss": 2.3}, loss=2.3, lr=0.01),
            TrainingProgressed(attempt=attempt, iteration=50, phase="test", outputs={"accuracy": 0.9}, loss=0.3),
            TrainingLogAppended(attempt=attempt, first_line=3, lines=["line three"]),
            SnapshotSaved(attempt=attempt, snapshot=SnapshotRef(
                iteration=50, caffemodel_path=f"jobs/{job_id}/snapshots/50.caffemodel",
                solverstate_path=f"jobs/{job_id}/snapshots/50.solverstate")),
        ])

    async def succeed(self, tenant_id: str, job_id: str, *, attempt: int = 1, iteration: int = 100) -> None:
        await self.worker_writes(tenant_id, job_id, [
            TrainingLogAppended(attempt=attempt, first_line=4, lines=["Optimization Done."]),
            TrainingJobSucceeded(attempt=attempt, iteration=iteration)])

    async def append(self, tenant_id: str, stream_id: str, events: Sequence[Event]) -> list[Envelope]:
        version = await self.backends.store.stream_version(tenant_id, stream_id)
        envelopes = [registry.envelope(e, tenant_id=tenant_id, stream_id=stream_id, stream_version=version + i)
                     for i, e in enumerate(events, start=1)]
        return await self.publisher.append_and_publish(envelopes, expected_version=version)

    async def _execute(self, tenant_id: str, stream_id: str, evolve: Any, decide: Any) -> list[Envelope]:
        return await streams.execute(self.backends.store, self.publisher, tenant_id=tenant_id, stream_id=stream_id,
                                     evolve=evolve, decide=decide)


def _known(state: job.Job | None) -> job.Job:
    assert state is not None
    return state


async def _chunks(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(mode=Mode.EMBEDDED, data_dir=data_dir, admin_token=SecretStr(ADMIN_TOKEN),
                    api_token_cache_s=0.0, api_sse_heartbeat_s=0.5, api_stream_poll_s=0.05, **overrides)


@asynccontextmanager
async def running_world(data_dir: Path, **overrides: Any) -> AsyncIterator[World]:
    """The API on embedded backends in `data_dir`; `overrides` are settings (e.g. smaller limits)."""
    settings = settings_for(data_dir, **overrides)
    async with open_backends(settings) as backends:
        app = create_app(settings, store=backends.store, bus=backends.bus, blobs=backends.blobs)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as session:
                world = World(backends, str(server.make_url("")).rstrip("/"), session)
                yield world
        finally:
            await server.close()
