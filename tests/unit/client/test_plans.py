"""Operations of several steps, written once: waiting, latest-snapshot downloads, classify through a job."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from elasticthought.client import ConnectionFailed, JobEnded, NotFound, WaitTimeout
from tests.unit.client.fakes import BrokenStream, FakeApi, classify_job, job, snapshot


def test_wait_polls_until_an_end_state_pausing_between_polls() -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1", *(httpx.Response(200, json=job(state=s))
                                             for s in ("queued", "running", "succeeded")))
    with api.client() as client:
        found = client.wait_for_training_job("j1", poll_s=0.25)
    assert found.state == "succeeded"
    assert len(api.sent) == 3 and api.sleeps == [0.25, 0.25]


def test_a_failed_job_ends_the_wait_like_a_succeeded_one() -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1", httpx.Response(200, json=job(state="failed", error="diverged")))
    with api.client() as client:
        found = client.wait_for_training_job("j1")
    assert (found.state, found.error) == ("failed", "diverged") and api.sleeps == []


def test_wait_gives_up_at_its_timeout_naming_the_last_state() -> None:
    api = FakeApi()
    api.on("GET", "/v1/datasets/ds1", httpx.Response(200, json={
        "id": "ds1", "datafile_id": "df1", "state": "building", "test_fraction": 0.2, "seed": 0,
        "image": {"width": 8, "height": 8}, "labels": [], "counts": None, "shape": None, "error": None,
        "created_at": "2026-01-01T00:00:00Z"}))
    with api.client() as client, pytest.raises(WaitTimeout) as caught:
        client.wait_for_dataset("ds1", timeout_s=0.0)
    assert (caught.value.resource, caught.value.resource_id, caught.value.state) == ("dataset", "ds1", "building")
    assert str(caught.value) == "dataset ds1 is still building after 0s"


def test_a_download_without_iteration_takes_the_latest_snapshot(tmp_path: Path) -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1/snapshots", httpx.Response(200, json={"items": [snapshot(50),
                                                                                         snapshot(100)]}))
    api.on("GET", "/v1/training-jobs/j1/snapshots/100/solverstate", httpx.Response(200, content=b"state-100"))
    with api.client() as client:
        written = client.download_snapshot("j1", kind="solverstate", to=tmp_path / "s")
    assert written == tmp_path / "s" and written.read_bytes() == b"state-100"


def test_a_download_of_a_job_without_snapshots_is_not_found(tmp_path: Path) -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1/snapshots", httpx.Response(200, json={"items": []}))
    with api.client() as client, pytest.raises(NotFound, match="no snapshots yet"):
        client.download_snapshot("j1", to=tmp_path / "w")
    assert list(tmp_path.iterdir()) == []


def test_a_broken_download_leaves_no_file_behind(tmp_path: Path) -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1/snapshots/10/caffemodel",
           httpx.Response(200, stream=BrokenStream(b"half of the")))
    with api.client() as client, pytest.raises(ConnectionFailed):
        client.download_snapshot("j1", 10, to=tmp_path / "w.caffemodel")
    assert list(tmp_path.iterdir()) == []


def test_an_error_answer_to_a_download_leaves_no_file_behind(tmp_path: Path) -> None:
    api = FakeApi()
    with api.client() as client, pytest.raises(NotFound):
        client.download_snapshot("j1", 10, to=tmp_path / "w.caffemodel")
    assert list(tmp_path.iterdir()) == []


def test_classify_waits_for_the_job_when_the_server_queues_the_images(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    api = FakeApi()
    api.on("POST", "/v1/classifiers/k1/classify", httpx.Response(202, json={"id": "c1", "state": "queued"}))
    api.on("GET", "/v1/classify-jobs/c1", httpx.Response(200, json=classify_job(state="running")),
           httpx.Response(200, json=classify_job(state="succeeded", results="/v1/classify-jobs/c1/results")))
    api.on("GET", "/v1/classify-jobs/c1/results", httpx.Response(200, json={
        "job_id": "c1", "classifier_id": "k1", "top_k": 1, "count": 2, "failed": 1, "results": [
            {"name": "a.png", "predictions": [{"label": "dog", "probability": 0.75}]},
            {"name": "b.png", "predictions": [], "error": "not an image"}]}))
    with api.client() as client:
        results = client.classify("k1", [image], top_k=1, poll_s=2.0)
    assert [(r.name, [p.label for p in r.predictions], r.error) for r in results] == [
        ("a.png", ["dog"], None), ("b.png", [], "not an image")]
    assert api.sleeps == [2.0]


def test_classify_through_a_job_that_fails_raises_job_ended(tmp_path: Path) -> None:
    api = FakeApi()
    api.on("POST", "/v1/classifiers/k1/classify", httpx.Response(202, json={"id": "c1", "state": "queued"}))
    api.on("GET", "/v1/classify-jobs/c1", httpx.Response(200, json=classify_job(state="failed", error="oom")))
    with api.client() as client, pytest.raises(JobEnded) as caught:
        client.classify("k1", urls=["https://images.example/a.png"])
    assert (caught.value.resource_id, caught.value.state, caught.value.error) == ("c1", "failed", "oom")
