"""Classify jobs in the scheduler: folded, planned, counted for fairness and matched like training jobs. Pure."""

from __future__ import annotations

import uuid

from services.scheduler.queue import plan, queue_positions
from services.scheduler.state import JOB_TYPES, PLANNING_TYPES, SchedulerState
from shared.domain.job import Status
from shared.events import registry
from shared.events.classify import ClassifyImageRef, ClassifyJobSubmitted, ClassifyJobSucceeded
from tests.unit.scheduler.world import World


def submit_classify(world: World, tenant_id: str, *, priority: int = 0) -> str:
    job_id = uuid.uuid4().hex[:16]
    world.job_event(tenant_id, job_id, ClassifyJobSubmitted(
        job_id=job_id, classifier_id="c1", top_k=1, priority=priority, submitted_by="u",
        images=[ClassifyImageRef(name="a.png", path=f"jobs/{job_id}/inputs/000000")]))
    return job_id


def succeed_classify(world: World, tenant_id: str, job_id: str) -> None:
    job = world.state.jobs[(tenant_id, job_id)]
    world.job_event(tenant_id, job_id, ClassifyJobSucceeded(attempt=job.attempt, results_path="r.json", count=1))


def test_classify_jobs_are_queued_and_assigned_to_a_torch_worker_without_gpus() -> None:
    world = World()
    world.worker("w1", gpus=("0",), engines=("torch",))
    job_id = submit_classify(world, "a")
    assert [j.job_id for j in world.state.queued()] == [job_id]
    (assignment,) = plan(world.state)
    assert (assignment.job_id, assignment.engine, assignment.gpus) == (job_id, "torch", ())
    world.assign(assignment)
    assert world.state.jobs[("a", job_id)].status is Status.ASSIGNED


def test_a_worker_without_the_torch_engine_gets_no_classify_job() -> None:
    world = World()
    world.worker("caffe-only", engines=("caffe",))
    submit_classify(world, "a")
    assert plan(world.state) == []
    world.worker("w2", engines=("torch",))
    assert [a.worker_id for a in plan(world.state)] == ["w2"]


def test_a_classify_job_that_succeeds_frees_its_slot_and_leaves_the_state() -> None:
    world = World()
    world.worker("w1", slots=1)
    first, second = submit_classify(world, "a"), world.submit("a")
    world.assign_all(plan(world.state))
    assert plan(world.state) == []  # the one slot is held by the classify job
    succeed_classify(world, "a", first)
    assert ("a", first) not in world.state.jobs and world.state.finished[("a", first)] == 3
    assert [a.job_id for a in plan(world.state)] == [second]


def test_fairness_counts_a_tenants_running_classify_jobs_like_training_jobs() -> None:
    world = World()
    world.worker("w1", slots=2)
    busy = [submit_classify(world, "busy") for _ in range(3)]
    world.assign_all(plan(world.state))  # busy holds both slots with classify jobs
    late = world.submit("late")
    succeed_classify(world, "busy", busy[0])
    assert [a.job_id for a in plan(world.state)] == [late]  # busy runs one, late none: late goes first


def test_training_and_classify_jobs_of_a_tenant_share_one_queue_order() -> None:
    world = World()
    training = world.submit("a")
    urgent = submit_classify(world, "a", priority=10)
    later = submit_classify(world, "a")
    assert [p.job_id for p in queue_positions(world.state, "a")] == [urgent, training, later]


def test_a_rebuild_from_the_scanned_types_includes_classify_jobs() -> None:
    source = World()
    source.worker("w1", slots=2)
    running, done = submit_classify(source, "a"), submit_classify(source, "a")
    source.assign_all(plan(source.state))
    succeed_classify(source, "a", done)
    assert {"ClassifyJobSubmitted", "ClassifyJobSucceeded"} <= set(JOB_TYPES)
    assert {"ClassifyJobSubmitted", "ClassifyJobSucceeded"} <= PLANNING_TYPES
    rebuilt = SchedulerState()
    for envelope in source.log:
        if envelope.stream_kind == "job" and envelope.type in JOB_TYPES:
            rebuilt.apply_job(envelope, registry.decode(envelope), in_order=False)
    assert list(rebuilt.jobs) == [("a", running)] and rebuilt.jobs[("a", running)].kind == "classify"
    assert ("a", done) in rebuilt.finished
