"""The drain's exactly-once accounting of job events."""

from __future__ import annotations

from bench.pipeline.ledger import ASSIGNED, FAILED, STARTED, SUCCEEDED, JobEvent, account


def run_once(job_id: str, attempt: int = 1) -> list[JobEvent]:
    return [JobEvent(job_id, ASSIGNED, attempt), JobEvent(job_id, STARTED, attempt),
            JobEvent(job_id, SUCCEEDED, attempt)]


def test_jobs_that_each_succeeded_once_balance_exactly() -> None:
    found = account(["a", "b"], run_once("a") + run_once("b"))
    assert (found.jobs, found.succeeded_once, found.exact) == (2, 2, True)
    assert found.lost == found.succeeded_twice == found.started_twice == found.reassigned == []


def test_a_job_without_success_is_lost_and_a_failed_one_is_named_too() -> None:
    found = account(["a", "b", "c"], [*run_once("a"), JobEvent("b", ASSIGNED, 1), JobEvent("c", FAILED, 1)])
    assert found.lost == ["b", "c"]
    assert found.ended_badly == ["c"]
    assert not found.exact


def test_a_second_success_or_a_second_start_of_one_attempt_is_a_duplicate() -> None:
    events = [*run_once("a"), JobEvent("a", SUCCEEDED, 1), *run_once("b"), JobEvent("b", STARTED, 1)]
    found = account(["a", "b"], events)
    assert found.succeeded_twice == ["a"]
    assert found.started_twice == ["b"]
    assert found.succeeded_once == 1 and not found.exact


def test_a_requeued_job_that_succeeded_once_is_exact_but_reported_reassigned() -> None:
    events = [JobEvent("a", ASSIGNED, 1), JobEvent("a", STARTED, 1), *run_once("a", attempt=2)]
    found = account(["a"], events)
    assert found.exact
    assert found.reassigned == ["a"]


def test_events_of_other_jobs_are_ignored() -> None:
    found = account(["a"], [*run_once("a"), JobEvent("x", SUCCEEDED, 1), JobEvent("x", SUCCEEDED, 1)])
    assert found.exact and found.jobs == 1
