"""The drain: jobs of many tenants queued while no worker may take any, then released at once.

All workers' slots are set to 0 (`PATCH /v1/workers/{id}`), every job is submitted (the tenants
in parallel, each its own jobs in turn), the queue is checked to hold them all, and the slots are
set back: from then on the scheduler hands out a real queue. Every figure comes from the tenants'
`GET /v1/events` streams, read from the start of each log:
- jobs/s: jobs / (last terminal event - the moment the slots were set back);
- exactly once: `ledger.account` over every job event of the drain, after a short grace period
  for late duplicates, cross-checked with the jobs' states from `GET /v1/training-jobs`;
- fairness: `fairness.fairness` over the `TrainingJobAssigned` events in timestamp order;
- slot use: the time jobs held slots (assigned -> ended) / (slots x drain time).

Shapes: `even` gives every tenant the same number of jobs; `skewed` gives one tenant half of them
and splits the other half 1:2:...:9 among the rest (the "200 jobs vs 1 job" case: small tenants
run out early and their share must flow to the others without starving anyone meanwhile).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.pipeline.client import Api
from bench.pipeline.cpu import CpuTime, snapshot, spent
from bench.pipeline.deployment import Deployment
from bench.pipeline.fairness import Fairness, fairness
from bench.pipeline.feed import Feed, Received
from bench.pipeline.ledger import ASSIGNED, STARTED, SUCCEEDED, TERMINAL, JobEvent, Ledger, account
from bench.pipeline.loglines import LineDelays, line_delays
from bench.pipeline.workload import Tenant

SHAPES = ("even", "skewed")
GRACE_S = 3.0
SETTLE_S = 1.0  # the scheduler learns of the slot change over the bus
PROGRESS_S = 30.0


class DrainFailed(RuntimeError):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Plan:
    jobs: int
    shape: str
    engine: str
    iterations: int
    """Of each job (the tenants' `tiny` solver was made with it)."""
    timeout_s: float


@dataclass(frozen=True)
class DrainResult:
    plan: Plan
    demands: list[int]
    slots: int
    seconds: float
    queued_at_release: int
    assigned_before_release: int
    ledger: Ledger
    api_succeeded: int
    fairness: Fairness
    slot_busy: float
    assigned_to_started_s: list[float]
    started_to_ended_s: list[float]
    lines: LineDelays
    cpu: dict[str, CpuTime]
    """CPU spent by each process of the deployment from the release to the end of the drain."""

    @property
    def jobs(self) -> int:
        return sum(self.demands)

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.seconds


def split_jobs(total: int, tenants: int, shape: str) -> list[int]:
    """How many jobs each tenant queues (see the module docstring); every tenant gets at least one."""
    if tenants < 1 or total < tenants:
        raise ValueError(f"{total} jobs cannot give each of {tenants} tenants one")
    if shape == "even" or tenants == 1:
        return [total // tenants + (1 if i < total % tenants else 0) for i in range(tenants)]
    if shape != "skewed":
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")
    rest = total - total // 2
    weights = list(range(1, tenants))
    small = [max(1, rest * w // sum(weights)) for w in weights]
    return [total - sum(small), *small]


async def run(api: Api, deployment: Deployment, tenants: list[Tenant], feeds: list[Feed], plan: Plan) -> DrainResult:
    demands = split_jobs(plan.jobs, len(tenants), plan.shape)
    await set_slots(api, deployment, 0)
    await asyncio.sleep(SETTLE_S)
    ids = await asyncio.gather(*(_submit(api, t, n, plan.engine) for t, n in zip(tenants, demands, strict=True)))
    queued = sum([len((await api.call("GET", "/v1/queue", t.token))["items"]) for t in tenants])
    released, cpu_before = time.time(), snapshot(deployment.pids)
    await set_slots(api, deployment, deployment.slots)
    await _wait_drained(feeds, ids, plan.timeout_s)
    cpu = spent(cpu_before, snapshot(deployment.pids))
    await asyncio.sleep(GRACE_S)
    return await _result(api, deployment, tenants, feeds, ids, plan, queued, released, cpu)


async def set_slots(api: Api, deployment: Deployment, slots: int) -> None:
    for worker_id in deployment.worker_ids:
        await api.call("PATCH", f"/v1/workers/{worker_id}", deployment.admin, json={"slots": slots})


async def _submit(api: Api, tenant: Tenant, count: int, engine: str) -> list[str]:
    return [(await api.call("POST", "/v1/training-jobs", tenant.token, json=tenant.job("tiny", engine)))["id"]
            for _ in range(count)]


async def _wait_drained(feeds: list[Feed], ids: list[list[str]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    total = sum(map(len, ids))
    reporter = asyncio.create_task(_progress(feeds, ids, total))
    try:
        for feed, wanted in zip(feeds, ids, strict=True):
            try:
                await feed.wait_for(_all_ended(feed, wanted), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                done = sum(sum(j in f.ended for j in w) for f, w in zip(feeds, ids, strict=True))
                raise DrainFailed(f"only {done} of {total} jobs ended within {timeout_s:.0f}s") from None
    finally:
        reporter.cancel()


def _all_ended(feed: Feed, job_ids: list[str]) -> Callable[[], bool]:
    return lambda: all(j in feed.ended for j in job_ids)


async def _progress(feeds: list[Feed], ids: list[list[str]], total: int) -> None:
    while True:
        await asyncio.sleep(PROGRESS_S)
        done = sum(sum(j in f.ended for j in w) for f, w in zip(feeds, ids, strict=True))
        print(f"  drain: {done}/{total} jobs ended", file=sys.stderr, flush=True)


async def _result(api: Api, deployment: Deployment, tenants: list[Tenant], feeds: list[Feed], ids: list[list[str]],
                  plan: Plan, queued: int, released: float, cpu: dict[str, CpuTime]) -> DrainResult:
    wanted = {j for tenant_ids in ids for j in tenant_ids}
    events = [(tenant.name, e) for tenant, feed in zip(tenants, feeds, strict=True) for e in feed.events
              if e.job_id in wanted]
    assigned = sorted((e.occurred_at, name) for name, e in events if e.type == ASSIGNED)
    end = max(e.occurred_at for _, e in events if e.type in TERMINAL)
    api_succeeded = 0
    for tenant, tenant_ids in zip(tenants, ids, strict=True):
        listed = await api.call("GET", "/v1/training-jobs", tenant.token)
        api_succeeded += sum(j["state"] == "succeeded" for j in listed["items"] if j["id"] in tenant_ids)
    slots = deployment.slots * len(deployment.worker_ids)
    seconds = end - released
    return DrainResult(
        plan=plan, demands=[len(t) for t in ids], slots=slots, seconds=seconds,
        queued_at_release=queued, assigned_before_release=sum(at < released for at, _ in assigned),
        ledger=account([j for t in ids for j in t], [_job_event(e) for _, e in events]),
        api_succeeded=api_succeeded, fairness=fairness([name for _, name in assigned]),
        slot_busy=_held_seconds([e for _, e in events]) / (slots * seconds),
        assigned_to_started_s=_gaps([e for _, e in events], ASSIGNED, STARTED),
        started_to_ended_s=_gaps([e for _, e in events], STARTED, SUCCEEDED),
        lines=line_delays([e for _, e in events], wanted), cpu=cpu,
    )


def _job_event(event: Received) -> JobEvent:
    attempt = event.data.get("attempt")
    return JobEvent(event.job_id or "", event.type, attempt if isinstance(attempt, int) else None)


def _gaps(events: list[Received], first: str, then: str) -> list[float]:
    """Per job, seconds from its first `first` event to its first `then` event."""
    seen: dict[str, dict[str, float]] = {}
    for event in events:
        if event.job_id is not None and event.type in (first, then):
            seen.setdefault(event.job_id, {}).setdefault(event.type, event.occurred_at)
    return [times[then] - times[first] for times in seen.values() if first in times and then in times]


def _held_seconds(events: list[Received]) -> float:
    return sum(_gaps(events, ASSIGNED, SUCCEEDED))
