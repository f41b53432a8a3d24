"""What a classifier may be made of: which snapshot of which job, and a dataset that is still there."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.api.classify.create import CreateRefused, choose_snapshot, usable_dataset
from shared.domain.dataset import Dataset, DatasetState
from shared.domain.job import Job, Status
from shared.events.data import ImageSpec
from shared.events.training import SnapshotRef

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def job(status: Status, *iterations: int) -> Job:
    snapshots = tuple(SnapshotRef(iteration=n, caffemodel_path=f"jobs/j1/snapshots/{n}.caffemodel",
                                  solverstate_path=f"jobs/j1/snapshots/{n}.solverstate") for n in iterations)
    return Job(tenant_id="t", job_id="j1", solver_id="s1", dataset_id="d1", engine_choice="auto", gpus_requested=0,
               priority=0, max_iter=100, submitted_by="u", submitted_at=NOW, version=1, status=status,
               snapshots=snapshots)


def test_without_an_iteration_a_succeeded_jobs_last_snapshot_is_used() -> None:
    assert choose_snapshot(job(Status.SUCCEEDED, 50, 100), None).iteration == 100
    for status in (Status.QUEUED, Status.RUNNING, Status.FAILED, Status.CANCELLED):
        with pytest.raises(CreateRefused) as refused:
            choose_snapshot(job(status, 50), None)
        assert refused.value.status == 409 and f"is {status.public}" in refused.value.detail
    with pytest.raises(CreateRefused, match="saved no snapshot") as refused:
        choose_snapshot(job(Status.SUCCEEDED), None)
    assert refused.value.status == 409


def test_an_iteration_needs_a_snapshot_of_it_whatever_the_jobs_state() -> None:
    assert choose_snapshot(job(Status.RUNNING, 50, 100), 50).iteration == 50
    assert choose_snapshot(job(Status.FAILED, 50), 50).iteration == 50
    with pytest.raises(CreateRefused) as refused:
        choose_snapshot(job(Status.SUCCEEDED, 50, 100), 70)
    assert (refused.value.status, refused.value.detail) == (
        422, "training job j1 has no snapshot of iteration 70: it has snapshots of iterations 50, 100")
    with pytest.raises(CreateRefused, match="has saved no snapshot yet"):
        choose_snapshot(job(Status.RUNNING), 10)


def test_the_dataset_must_still_be_there() -> None:
    ready = Dataset(dataset_id="d1", datafile_id="f1", test_fraction=0.2, seed=1, image=ImageSpec(width=8, height=8),
                    requested_by="u", created_at=NOW, version=2, state=DatasetState.READY, labels=("a", "b"),
                    shape=(3, 8, 8))
    assert usable_dataset(ready, "d1") is ready
    for gone in (None, replace(ready, state=DatasetState.DELETED)):
        with pytest.raises(CreateRefused, match="dataset d1 of the training job is gone"):
            usable_dataset(gone, "d1")
