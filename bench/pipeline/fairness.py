"""Fairness of a drain: how far each tenant's share of the assignments strayed from its fair share.

Every job of a drain is queued before any worker may take one, so each tenant's demand is known
up front and max-min fairness says exactly what each tenant is owed at every point:

- a_1 .. a_N: the drain's `TrainingJobAssigned` events in the order the scheduler made them.
- d_t: the assignments tenant t needed over the drain (its jobs, plus one per requeue).
- r_t(k): how many of the first k assignments went to t.
- f_t(k): t's max-min fair share of k assignments, min(d_t, L) with the level L such that the
  shares add up to k (water-filling): a tenant with few jobs is owed all of them early, the rest
  is split evenly among the tenants that still have work. In the "200 jobs vs 1 job" case the
  tenant with one job is owed it within the first two assignments.
- lag_t(k) = r_t(k) - f_t(k), in jobs: ahead of its share when positive, behind when negative.

Two figures are reported, both over every prefix k of the drain:

- the largest |lag_t(k)| in jobs. Assignments are whole jobs and fair shares are fractions, so a
  perfect round robin still shows lags up to just under one job (k = 1: one tenant got a job,
  each of the ten was owed 0.1); a lag of one job or more means a tenant really got ahead.
- the largest |lag_t(k)| / f_t(k) in % of the fair share, over the prefixes where f_t(k) is at
  least `SETTLED_JOBS` (10) jobs. Below that, one indivisible job is already more than 10% of the
  share, so the percentage would measure integer granularity rather than the scheduler; those
  early prefixes are covered by the lag in jobs. A round robin stays below 10% here.

Shares count assignments, not slot time: with jobs of equal length (the drain's) the two agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SETTLED_JOBS = 10.0


class FairnessInputError(ValueError):
    """The assignment order cannot be judged against the given demands."""

    def __init__(self, tenant: str, assigned: int, demand: int) -> None:
        super().__init__(f"tenant {tenant!r} got {assigned} assignments but needed only {demand}")
        self.tenant = tenant
        self.assigned = assigned
        self.demand = demand


@dataclass(frozen=True)
class Worst:
    """The largest deviation found and where: after `k` assignments, for `tenant`."""

    value: float
    k: int
    tenant: str


@dataclass(frozen=True)
class Fairness:
    assignments: int
    tenants: int
    max_lag: Worst
    """|r - f| in jobs, over every prefix."""
    max_settled_pct: Worst | None
    """|r - f| / f in %, over prefixes with f >= SETTLED_JOBS; None when no share got that large."""


def fair_shares(demands: Mapping[str, int], k: float) -> dict[str, float]:
    """The max-min fair split of `k` assignments among tenants needing `demands` (k <= their sum)."""
    shares: dict[str, float] = {}
    remaining = float(k)
    ordered = sorted(demands.items(), key=lambda item: item[1])
    for index, (tenant, demand) in enumerate(ordered):
        given = min(float(demand), remaining / (len(ordered) - index))
        shares[tenant] = given
        remaining -= given
    return shares


def fairness(order: Sequence[str], demands: Mapping[str, int] | None = None,
             *, settled_jobs: float = SETTLED_JOBS) -> Fairness:
    """Judge the tenants of `order` (one per assignment); demands default to what each got in all."""
    totals = Counter(order)
    needs = dict(totals if demands is None else demands)
    for tenant, assigned in totals.items():
        if assigned > needs.get(tenant, 0):
            raise FairnessInputError(tenant, assigned, needs.get(tenant, 0))
    received = dict.fromkeys(needs, 0)
    lag = Worst(0.0, 0, "")
    settled: Worst | None = None
    for k, tenant in enumerate(order, start=1):
        received[tenant] += 1
        for name, share in fair_shares(needs, k).items():
            off = abs(received[name] - share)
            if off > lag.value:
                lag = Worst(off, k, name)
            if share >= settled_jobs and (settled is None or 100 * off / share > settled.value):
                settled = Worst(100 * off / share, k, name)
    return Fairness(len(order), len(needs), lag, settled)
