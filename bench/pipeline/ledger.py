"""Exactly-once accounting of a drain from its jobs' events: none lost, none run twice to completion.

Delivery between services is at-least-once, so a bug shows up as a job that never ends (lost), one
that succeeds twice, or one started twice in one attempt (an assignment acted on twice). A job
assigned more than once was requeued (a worker lost): legal, but worth reporting in a benchmark
where no worker should be lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

SUCCEEDED, FAILED, CANCELLED = "TrainingJobSucceeded", "TrainingJobFailed", "TrainingJobCancelled"
STARTED, ASSIGNED = "TrainingJobStarted", "TrainingJobAssigned"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    type: str
    attempt: int | None = None


@dataclass(frozen=True)
class Ledger:
    jobs: int
    succeeded_once: int
    lost: list[str] = field(default_factory=list)
    """Never succeeded (still running, never assigned, failed or cancelled)."""
    succeeded_twice: list[str] = field(default_factory=list)
    ended_badly: list[str] = field(default_factory=list)
    """Failed or cancelled (each is also counted as lost)."""
    started_twice: list[str] = field(default_factory=list)
    """Started more than once within one attempt."""
    reassigned: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.succeeded_once == self.jobs and not (self.succeeded_twice or self.started_twice)


def account(job_ids: Iterable[str], events: Iterable[JobEvent]) -> Ledger:
    """The ledger of `job_ids`; events of other jobs are ignored."""
    wanted = list(dict.fromkeys(job_ids))
    known = set(wanted)
    counts: Counter[tuple[str, str]] = Counter()
    starts: Counter[tuple[str, int | None]] = Counter()
    for event in events:
        if event.job_id not in known:
            continue
        counts[event.job_id, event.type] += 1
        if event.type == STARTED:
            starts[event.job_id, event.attempt] += 1
    twice_started = {job for (job, _), n in starts.items() if n > 1}
    return Ledger(
        jobs=len(wanted),
        succeeded_once=sum(counts[j, SUCCEEDED] == 1 for j in wanted),
        lost=[j for j in wanted if counts[j, SUCCEEDED] == 0],
        succeeded_twice=[j for j in wanted if counts[j, SUCCEEDED] > 1],
        ended_badly=[j for j in wanted if counts[j, FAILED] + counts[j, CANCELLED] > 0],
        started_twice=[j for j in wanted if j in twice_started],
        reassigned=[j for j in wanted if counts[j, ASSIGNED] > 1],
    )
