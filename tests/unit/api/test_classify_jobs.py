"""Pure parts of classify jobs in the API: the submission rules, and the jobs view keeping the kinds apart."""

from __future__ import annotations

import pytest

from services.api.classify.decide import MAX_NAME, decide_classify_job
from services.api.projections.jobs import JobsView
from services.api.training.submit import SubmissionRefused
from shared.events import Event, registry
from shared.events.classify import ClassifyImageRef, ClassifyJobSubmitted
from shared.events.training import TrainingJobSubmitted


def decide(names: list[str], *, max_images: int = 10) -> ClassifyJobSubmitted:
    return decide_classify_job(job_id="j1", classifier_id="c1", names=names, top_k=3, priority=0, submitted_by="u",
                               max_images=max_images)


def test_the_submission_names_each_image_and_its_staging_key_in_input_order() -> None:
    event = decide(["b.png", "", "a.png"])
    assert [(i.name, i.path) for i in event.images] == [
        ("b.png", "jobs/j1/inputs/000000"), ("image-2", "jobs/j1/inputs/000001"), ("a.png", "jobs/j1/inputs/000002")]
    assert (event.classifier_id, event.top_k, event.submitted_by) == ("c1", 3, "u")


@pytest.mark.parametrize(("names", "max_images", "status", "words"), [
    ([], 10, 422, "no images"),
    (["x.png"] * 11, 10, 413, "11 images: a classify job takes at most 10"),
    (["ok", "n" * (MAX_NAME + 1)], 10, 422, "image 2: its name is longer than 1000"),
    (["n" * MAX_NAME] * 400, 1000, 413, "more than one job holds"),
])
def test_a_submission_that_cannot_be_a_job_is_refused_before_anything_is_written(
    names: list[str], max_images: int, status: int, words: str,
) -> None:
    with pytest.raises(SubmissionRefused) as refused:
        decide(names, max_images=max_images)
    assert refused.value.status == status and words in refused.value.detail


def _feed(view: JobsView, stream: str, event: Event) -> None:
    view.apply(registry.envelope(event, tenant_id="t", stream_id=stream, stream_version=1), event)


def test_the_jobs_view_lists_each_kind_on_its_own_and_counts_training_jobs_for_metrics() -> None:
    view = JobsView()
    _feed(view, "job-t1", TrainingJobSubmitted(job_id="t1", solver_id="s", dataset_id="d", max_iter=1,
                                               submitted_by="u"))
    _feed(view, "job-c1", ClassifyJobSubmitted(job_id="c1", classifier_id="k", top_k=1, submitted_by="u",
                                               images=[ClassifyImageRef(name="a", path="p")]))
    assert [r.job_id for r in view.listed(kind="training")] == ["t1"]
    assert [r.job_id for r in view.listed(kind="classify")] == ["c1"]
    assert {r.job_id for r in view.listed()} == {"t1", "c1"}
    assert view.count_by_state()["queued"] == 1 and view.count_by_state("classify")["queued"] == 1
