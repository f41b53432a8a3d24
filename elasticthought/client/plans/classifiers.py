"""Classifiers: create one from a training job's snapshot, list, show, delete, download; classify images."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path

from elasticthought.client.calls import (
    Call,
    FilePart,
    Plan,
    Progress,
    fetch,
    fetch_items,
    nothing,
    parse,
    query,
    segment,
    send,
)
from elasticthought.client.errors import JobEnded
from elasticthought.client.models.classifiers import Classifier, ClassifyResponse
from elasticthought.client.models.classify import ImageResult
from elasticthought.client.models.jobs import JobAccepted
from elasticthought.client.plans.classify_jobs import get_classify_results, wait_for_classify_job
from elasticthought.client.plans.waiting import DEFAULT_POLL_S

IMAGE_FIELD = "images"


def create_classifier(training_job_id: str, iteration: int | None = None, *, name: str = "") -> Plan[Classifier]:
    """Make a classifier of a training job's snapshot (default: the last one of a succeeded job)."""
    body: dict[str, object] = {"training_job_id": training_job_id, "name": name}
    if iteration is not None:
        body["iteration"] = iteration
    return fetch(Call("POST", "/v1/classifiers", json=body), Classifier)


def list_classifiers() -> Plan[list[Classifier]]:
    """The tenant's classifiers."""
    return fetch_items(Call("GET", "/v1/classifiers"), Classifier)


def get_classifier(classifier_id: str) -> Plan[Classifier]:
    """One classifier: labels, input transform, the snapshot it uses."""
    return fetch(Call("GET", f"/v1/classifiers/{segment(classifier_id)}"), Classifier)


def delete_classifier(classifier_id: str) -> Plan[None]:
    """Delete a classifier."""
    return nothing(Call("DELETE", f"/v1/classifiers/{segment(classifier_id)}", expect="empty"))


def download_classifier(classifier_id: str, *, to: str | Path, progress: Progress | None = None) -> Plan[Path]:
    """Stream the classifier's tar.gz (deploy.prototxt, weights, labels.txt, mean) into the file `to`."""
    target = Path(to)
    yield from send(Call("GET", f"/v1/classifiers/{segment(classifier_id)}/download", save_to=target,
                         progress=progress))
    return target


def _classify_call(classifier_id: str, images: Sequence[str | Path], urls: Sequence[str], top_k: int,
                   run_async: bool) -> Call:
    if bool(images) == bool(urls):
        raise ValueError("give either image files or image URLs (one of them, not both)")
    params = query(top_k=top_k, **{"async": run_async or None})
    path = f"/v1/classifiers/{segment(classifier_id)}/classify"
    if urls:
        return Call("POST", path, params=params, json={"urls": list(urls)})
    parts = tuple(FilePart(IMAGE_FIELD, Path(image), mimetypes.guess_type(str(image))[0] or "application/octet-stream")
                  for image in images)
    return Call("POST", path, params=params, files=parts)


def submit_classify_job(classifier_id: str, images: Sequence[str | Path] = (), *, urls: Sequence[str] = (),
                        top_k: int = 5) -> Plan[JobAccepted]:
    """Queue the images (files or URLs) as a classify job; follow it with `wait_for_classify_job`."""
    return fetch(_classify_call(classifier_id, images, urls, top_k, run_async=True), JobAccepted)


def classify(classifier_id: str, images: Sequence[str | Path] = (), *, urls: Sequence[str] = (), top_k: int = 5,
             timeout_s: float | None = None, poll_s: float = DEFAULT_POLL_S) -> Plan[list[ImageResult]]:
    """The top-k labels of each image (files or URLs), in input order.

    A few images are answered at once; when the server runs them as a classify job (more than its
    synchronous limit) this waits for the job and returns its results (`JobEnded` if it fails)."""
    reply = yield from send(_classify_call(classifier_id, images, urls, top_k, run_async=False))
    call = Call("POST", f"/v1/classifiers/{segment(classifier_id)}/classify")
    if reply.status != 202:
        return parse(reply.body, ClassifyResponse, call).results
    accepted = parse(reply.body, JobAccepted, call)
    job = yield from wait_for_classify_job(accepted.id, timeout_s=timeout_s, poll_s=poll_s)
    if job.state != "succeeded":
        raise JobEnded("classify job", job.id, job.state, job.error)
    results = yield from get_classify_results(job.id)
    return results.results
