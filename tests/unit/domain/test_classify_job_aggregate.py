"""The job aggregate with classify jobs: their own start and end, the shared lifecycle in between. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.job import Job, Status, decide_assign, decide_cancel, decide_requeue, evolve
from shared.events import Envelope, Event, registry
from shared.events.classify import ClassifyImageRef, ClassifyJobSubmitted, ClassifyJobSucceeded
from shared.events.training import (
    TrainingJobFailed,
    TrainingJobRequeued,
    TrainingJobStarted,
    TrainingJobSubmitted,
    TrainingJobSucceeded,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def submitted(images: int = 3, *, priority: int = 0) -> ClassifyJobSubmitted:
    return ClassifyJobSubmitted(
        job_id="j1", classifier_id="c1", top_k=2, priority=priority, submitted_by="u1",
        images=[ClassifyImageRef(name=f"{n}.png", path=f"jobs/j1/inputs/{n:06d}") for n in range(images)])


def fold(events: list[Event]) -> Job | None:
    job: Job | None = None
    for version, event in enumerate(events, start=1):
        envelope: Envelope = registry.envelope(event, tenant_id="t1", stream_id="job-j1", stream_version=version)
        job = evolve(job, envelope.model_copy(update={"occurred_at": T0}), event)
    return job


def known(events: list[Event]) -> Job:
    job = fold(events)
    assert job is not None
    return job


def test_a_classify_submission_folds_into_a_queued_classify_job_on_the_torch_engine_without_gpus() -> None:
    job = known([submitted(images=3, priority=5)])
    assert (job.kind, job.status, job.classifier_id, job.image_count, job.top_k) == ("classify", Status.QUEUED, "c1",
                                                                                      3, 2)
    assert (job.engine_choice, job.gpus_requested, job.priority, job.submitted_by) == ("torch", 0, 5, "u1")
    assert job.results_path is None


def test_a_training_submission_is_a_training_job() -> None:
    job = known([TrainingJobSubmitted(job_id="j1", solver_id="s", dataset_id="d", max_iter=10, submitted_by="u")])
    assert job.kind == "training" and job.classifier_id is None


def test_classify_job_succeeded_ends_it_with_its_results_path() -> None:
    job = known([submitted()])
    (assigned,) = decide_assign(job, worker_id="w1", engine="torch", gpus=[])
    job = known([submitted(), assigned, TrainingJobStarted(worker_id="w1", attempt=1, pid=1),
                 ClassifyJobSucceeded(attempt=1, results_path="jobs/j1/results/1.json", count=3)])
    assert (job.status, job.results_path, job.attempt) == (Status.SUCCEEDED, "jobs/j1/results/1.json", 1)
    assert job.ended_at == T0


def test_a_stale_attempts_success_changes_nothing() -> None:
    first = decide_assign(known([submitted()]), worker_id="w1", engine="torch", gpus=[])
    requeued = TrainingJobRequeued(attempt=1, reason="worker w1 lost")
    events = [submitted(), *first, requeued]
    second = decide_assign(known(events), worker_id="w2", engine="torch", gpus=[])
    job = known([*events, *second, ClassifyJobSucceeded(attempt=1, results_path="jobs/j1/results/1.json", count=3)])
    assert (job.status, job.attempt, job.results_path) == (Status.ASSIGNED, 2, None)


def test_each_kind_ends_only_by_its_own_success_event() -> None:
    assigned = decide_assign(known([submitted()]), worker_id="w1", engine="torch", gpus=[])
    classify = known([submitted(), *assigned, TrainingJobSucceeded(attempt=1, iteration=0)])
    assert classify.status is Status.ASSIGNED
    training: list[Event] = [TrainingJobSubmitted(job_id="j1", solver_id="s", dataset_id="d", max_iter=10,
                                                  submitted_by="u")]
    training += decide_assign(known(training), worker_id="w1", engine="torch", gpus=[])
    job = known([*training, ClassifyJobSucceeded(attempt=1, results_path="x.json", count=1)])
    assert job.status is Status.ASSIGNED and job.results_path is None


def test_a_classify_job_fails_cancels_and_requeues_like_a_training_job() -> None:
    assigned = decide_assign(known([submitted()]), worker_id="w1", engine="torch", gpus=[])
    failed = known([submitted(), *assigned, TrainingJobFailed(attempt=1, reason="none of the 3 images")])
    assert (failed.status, failed.reason) == (Status.FAILED, "none of the 3 images")
    (requeue,) = decide_requeue(known([submitted(), *assigned]), reason="worker w1 lost")
    assert isinstance(requeue, TrainingJobRequeued) and requeue.resume_from is None
    cancelled = known([submitted(), *decide_cancel(known([submitted()]), requested_by="u1")])
    assert cancelled.status is Status.CANCELLED
