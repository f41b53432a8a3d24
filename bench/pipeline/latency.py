"""Submit-to-running latency with idle workers: one job at a time, each waited for to the end.

Each job's latency is measured two ways:
- server: `TrainingJobStarted.occurred_at - TrainingJobSubmitted.occurred_at` (the job's own event
  timestamps): queueing, scheduling, assignment, the worker's job folder, the trainer process
  spawned and the start stored; split at `TrainingJobAssigned`.
- client: from just before `POST /v1/training-jobs` until `TrainingJobStarted` arrives on the
  tenant's open `GET /v1/events` stream (adds HTTP and the API's log polling, `ET_API_STREAM_POLL_S`).

One warm-up job first fills the workers' dataset caches (the first job of a dataset on a worker
downloads it; that is a one-off, not the latency of the pipeline).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from bench.pipeline.client import Api
from bench.pipeline.feed import Feed
from bench.pipeline.ledger import STARTED, SUCCEEDED
from bench.pipeline.workload import Tenant

SERIES = ("submitted -> started (server, event timestamps)", "  of which submitted -> assigned (scheduler)",
          "  of which assigned -> started (worker: job folder, trainer spawned, start stored)",
          "POST sent -> TrainingJobStarted received on SSE (client)")
JOB_TIMEOUT_S = 300.0


class JobDidNotSucceed(RuntimeError):
    def __init__(self, job_id: str, ended: str) -> None:
        super().__init__(f"job {job_id} ended {ended}")
        self.job_id, self.ended = job_id, ended


@dataclass(frozen=True)
class Latencies:
    samples: list[tuple[float, ...]]
    """One tuple per job, in ms, in SERIES order."""


async def run_job(api: Api, feed: Feed, tenant: Tenant, request: dict[str, str]) -> tuple[str, float]:
    """Submit one job and wait for its end; its id and the client-side seconds until it was seen started."""
    sent = time.time()
    job = await api.call("POST", "/v1/training-jobs", tenant.token, json=request)
    job_id: str = job["id"]
    await feed.wait_for(lambda: bool(feed.of_job(job_id, STARTED)), JOB_TIMEOUT_S)
    seen = feed.of_job(job_id, STARTED)[0].arrived_at - sent
    await feed.wait_for(lambda: job_id in feed.ended, JOB_TIMEOUT_S)
    if not feed.of_job(job_id, SUCCEEDED):
        ended = await api.call("GET", f"/v1/training-jobs/{job_id}", tenant.token)
        raise JobDidNotSucceed(job_id, f"{ended['state']}: {ended['error']}")
    return job_id, seen


async def measure(api: Api, feed: Feed, tenant: Tenant, request: dict[str, str], samples: int) -> Latencies:
    await run_job(api, feed, tenant, request)  # warm-up
    measured: list[tuple[float, ...]] = []
    for _ in range(samples):
        job_id, client_s = await run_job(api, feed, tenant, request)
        job = await api.call("GET", f"/v1/training-jobs/{job_id}", tenant.token)
        submitted, assigned, started = (datetime.fromisoformat(job[key])
                                        for key in ("submitted_at", "assigned_at", "started_at"))
        measured.append((_ms(submitted, started), _ms(submitted, assigned), _ms(assigned, started), client_s * 1000))
    return Latencies(measured)


def _ms(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() * 1000
