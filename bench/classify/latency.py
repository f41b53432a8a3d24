"""Single-image classify latency over real HTTP, with the model warm in the API's cache.

A real API (`create_app` on embedded backends, served by aiohttp on a TCP port) gets one tenant, a
finished LeNet training job (its events appended as the other services write them, its snapshot a
real .caffemodel), and a classifier made of it through `POST /v1/classifiers` (which loads the model
into the cache). Then one client sends one image per request, one request at a time: the wall time
from sending to the parsed JSON answer, as a client sees it.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.classify.lenet import TRAIN_NET, caffemodel, digits
from services.api.app import create_app
from services.api.tokens import new_id, new_token
from shared.bus.outbox import EventPublisher
from shared.domain import job, streams, tenancy
from shared.events import Event, registry
from shared.events.data import DatasetBuilt, DatasetRequested, ImageSpec
from shared.events.training import (
    LayerSummary,
    SnapshotRef,
    SnapshotSaved,
    SolverCreated,
    SolverSummary,
    TrainingJobAssigned,
    TrainingJobStarted,
    TrainingJobSubmitted,
    TrainingJobSucceeded,
)
from shared.runtime import Backends, open_backends
from shared.settings import Mode, Settings

TENANT = "bench"


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    mean_ms: float
    requests: int


async def measure(requests: int, warmup: int = 20) -> Latency:
    with tempfile.TemporaryDirectory(prefix="et-bench-classify-") as folder:
        async with _api(Path(folder)) as (url, backends):
            token = await _seed(backends)
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as client:
                job_id = await _finished_job(backends)
                async with client.post(f"{url}/v1/classifiers", json={"training_job_id": job_id}) as answer:
                    created = await answer.json()
                    if answer.status != 201:
                        raise RuntimeError(f"creating the classifier failed: {created}")
                target = f"{url}/v1/classifiers/{created['id']}/classify?top_k=5"
                images = digits(64)
                timings = []
                for n in range(warmup + requests):
                    form = aiohttp.FormData()
                    form.add_field("image", images[n % len(images)], filename=f"{n}.png", content_type="image/png")
                    started = time.perf_counter()
                    async with client.post(target, data=form) as answer:
                        body = await answer.json()
                    elapsed = time.perf_counter() - started
                    if answer.status != 200 or len(body["results"]) != 1:
                        raise RuntimeError(f"classify failed: {answer.status} {body}")
                    if n >= warmup:
                        timings.append(elapsed * 1000)
    cuts = statistics.quantiles(timings, n=100)
    return Latency(p50_ms=statistics.median(timings), p95_ms=cuts[94], mean_ms=statistics.fmean(timings),
                   requests=len(timings))


@asynccontextmanager
async def _api(folder: Path) -> AsyncIterator[tuple[str, Backends]]:
    settings = Settings(mode=Mode.EMBEDDED, data_dir=folder, api_token_cache_s=60.0)
    async with open_backends(settings) as backends:
        runner = web.AppRunner(create_app(settings, store=backends.store, bus=backends.bus, blobs=backends.blobs),
                               access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            yield f"http://127.0.0.1:{port}", backends
        finally:
            await runner.cleanup()


async def _seed(backends: Backends) -> str:
    """The tenant, a user and a token, decided by the tenancy aggregate as the admin routes do."""
    publisher = EventPublisher(backends.store, backends.bus)
    await streams.execute(backends.store, publisher, tenant_id="_system", stream_id=tenancy.tenant_stream(TENANT),
                          evolve=tenancy.evolve_tenant,
                          decide=lambda s: tenancy.decide_create_tenant(s, tenant_id=TENANT, name=TENANT))
    user_id = new_id()
    await streams.execute(backends.store, publisher, tenant_id=TENANT, stream_id=tenancy.user_stream(user_id),
                          evolve=tenancy.evolve_user,
                          decide=lambda s: tenancy.decide_add_user(s, user_id=user_id, name="bench", role="owner",
                                                                   added_by="admin"))
    token = new_token(TENANT)
    await streams.execute(backends.store, publisher, tenant_id=TENANT, stream_id=tenancy.token_stream(token.token_id),
                          evolve=tenancy.evolve_token,
                          decide=lambda s: tenancy.decide_issue_token(s, token_id=token.token_id, user_id=user_id,
                                                                      name="bench",
                                                                      secret_sha256=token.secret_sha256))
    return token.text


async def _finished_job(backends: Backends) -> str:
    """A LeNet training job that saved a snapshot and succeeded, as the other services record it."""
    publisher = EventPublisher(backends.store, backends.bus)
    solver_id, dataset_id, job_id = new_id(), new_id(), new_id()
    labels = [str(n) for n in range(10)]
    summary = SolverSummary(layers=[LayerSummary(name="ip2", type="InnerProduct", top_shapes=[[64, 10]])],
                            parameter_count=431080, input_shape=[64, 1, 28, 28], num_outputs=10, max_iter=100,
                            solver_type="SGD")
    weights = f"jobs/{job_id}/snapshots/100.caffemodel"
    await backends.blobs.put(TENANT, weights, _chunks(caffemodel()))
    streams_events: list[tuple[str, list[Event]]] = [
        (f"solver-{solver_id}", [SolverCreated(solver_id=solver_id, solver_prototxt="base_lr: 0.01",
                                               net_prototxt=TRAIN_NET, summary=summary, created_by="bench")]),
        (f"dataset-{dataset_id}", [
            DatasetRequested(dataset_id=dataset_id, datafile_id=new_id(), test_fraction=0.2, seed=1,
                             image=ImageSpec(width=28, height=28, resize_mode="squash", color="gray"),
                             requested_by="bench"),
            DatasetBuilt(blob_prefix=f"datasets/{dataset_id}/", labels=labels, shape=(1, 28, 28), files={},
                         counts={"train": dict.fromkeys(labels, 8), "test": dict.fromkeys(labels, 2)})]),
        (job.job_stream(job_id), [
            TrainingJobSubmitted(job_id=job_id, solver_id=solver_id, dataset_id=dataset_id, max_iter=100,
                                 submitted_by="bench"),
            TrainingJobAssigned(worker_id="w1", attempt=1, engine="torch", gpus=[]),
            TrainingJobStarted(worker_id="w1", attempt=1, pid=1),
            SnapshotSaved(attempt=1, snapshot=SnapshotRef(iteration=100, caffemodel_path=weights,
                                                          solverstate_path=weights)),
            TrainingJobSucceeded(attempt=1, iteration=100)]),
    ]
    for stream_id, events in streams_events:
        envelopes = [registry.envelope(e, tenant_id=TENANT, stream_id=stream_id, stream_version=v)
                     for v, e in enumerate(events, start=1)]
        await publisher.append_and_publish(envelopes, expected_version=0)
    return job_id


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data
