"""Snapshot retention decisions: the newest stay, the resume point and the final one always. Pure."""

from __future__ import annotations

from services.storage.retention import decide_record_pruned, snapshots_to_prune
from shared.domain.job import Job, evolve
from shared.events import Envelope, Event, registry
from shared.events.retention import SnapshotsPruned
from shared.events.training import (
    SnapshotRef,
    SnapshotSaved,
    TrainingJobAssigned,
    TrainingJobCancelled,
    TrainingJobRequeued,
    TrainingJobStarted,
    TrainingJobSubmitted,
    TrainingJobSucceeded,
)

MAX_ITER = 1000


def ref(iteration: int) -> SnapshotRef:
    base = f"jobs/j1/snapshots/{iteration}"
    return SnapshotRef(iteration=iteration, caffemodel_path=f"{base}.caffemodel",
                       solverstate_path=f"{base}.solverstate")


def saved(*iterations: int, attempt: int = 1) -> list[Event]:
    return [SnapshotSaved(attempt=attempt, snapshot=ref(i)) for i in iterations]


def running(attempt: int = 1) -> list[Event]:
    return [TrainingJobAssigned(worker_id="w1", attempt=attempt, engine="torch", gpus=[]),
            TrainingJobStarted(worker_id="w1", attempt=attempt, pid=1)]


def job_of(events: list[Event]) -> Job:
    job: Job | None = None
    stream: list[Event] = [TrainingJobSubmitted(job_id="j1", solver_id="s1", dataset_id="d1", max_iter=MAX_ITER,
                                                submitted_by="u1"), *events]
    for version, event in enumerate(stream, start=1):
        envelope: Envelope = registry.envelope(event, tenant_id="t1", stream_id="job-j1", stream_version=version)
        job = evolve(job, envelope, event)
    assert job is not None
    return job


def pruned(events: list[Event], keep_last: int) -> list[int]:
    return [r.iteration for r in snapshots_to_prune(job_of(events), keep_last)]


def test_all_but_the_newest_are_pruned_oldest_first() -> None:
    assert pruned([*running(), *saved(100, 200, 300, 400, 500)], keep_last=2) == [100, 200, 300]


def test_up_to_the_limit_nothing_is_pruned_and_zero_keeps_everything() -> None:
    assert pruned([*running(), *saved(100, 200)], keep_last=2) == []
    assert pruned([*running(), *saved(100, 200, 300, 400)], keep_last=0) == []
    assert snapshots_to_prune(None, 3) == []


def test_the_snapshot_a_requeue_resumes_from_stays_even_when_not_among_the_newest() -> None:
    # attempt 1 got to 500, but only 300 was recorded last (a late upload): attempt 2 resumes from 300
    events = [*running(), *saved(400, 500, 300),
              TrainingJobRequeued(attempt=1, reason="worker lost", resume_from=ref(300))]
    job = job_of(events)
    assert job.last_snapshot == ref(300)
    assert pruned(events, keep_last=1) == [400]


def test_the_final_snapshot_stays_whatever_the_limit() -> None:
    events = [*running(), *saved(MAX_ITER, 200), TrainingJobCancelled(attempt=1)]  # final not newest-recorded
    assert pruned(events, keep_last=1) == []
    done = [*running(), *saved(100, 200, 300), TrainingJobSucceeded(attempt=1, iteration=300)]
    assert pruned(done, keep_last=1) == [100, 200]


def test_pruned_snapshots_leave_the_job_and_the_decision_then_has_nothing_left() -> None:
    events = [*running(), *saved(100, 200, 300), SnapshotsPruned(iterations=[100])]
    job = job_of(events)
    assert [r.iteration for r in job.snapshots] == [200, 300] and job.last_snapshot == ref(300)
    assert pruned(events, keep_last=2) == []


def test_pruning_applies_after_the_job_ended_and_without_an_attempt() -> None:
    events = [*running(), *saved(100, 200, 300), TrainingJobCancelled(attempt=1), SnapshotsPruned(iterations=[100])]
    assert [r.iteration for r in job_of(events).snapshots] == [200, 300]


def test_only_deleted_iterations_still_beyond_the_limit_are_recorded() -> None:
    job = job_of([*running(), *saved(100, 200, 300)])
    assert decide_record_pruned(job, 2, deleted={100}) == [SnapshotsPruned(iterations=[100])]
    assert decide_record_pruned(job, 2, deleted={100, 300}) == [SnapshotsPruned(iterations=[100])]
    assert decide_record_pruned(job, 2, deleted={200}) == []
    already = job_of([*running(), *saved(100, 200, 300), SnapshotsPruned(iterations=[100])])
    assert decide_record_pruned(already, 2, deleted={100}) == []  # a redelivery records nothing twice
