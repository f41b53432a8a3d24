"""The rules a classify job submission must pass, as a pure decision before anything is staged.

Checked first so that a refused submission leaves nothing behind: at least one image, at most
`classify_job_max_images` (413), names that fit the event (422), and a submission event within the
store's size limit (413: many long names can exceed it before the count limit does).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from services.api.training.submit import SubmissionRefused
from services.worker.classify_jobs.results import input_path
from shared.events import EventTooLarge, registry
from shared.events.classify import ClassifyImageRef, ClassifyJobSubmitted

MAX_NAME = 1000


def decide_classify_job(
    *, job_id: str, classifier_id: str, names: Sequence[str], top_k: int, priority: int, submitted_by: str,
    max_images: int,
) -> ClassifyJobSubmitted:
    """The submission, its images to be staged at `input_path(job_id, n)` in input order."""
    if not names:
        raise SubmissionRefused(422, "no images to classify")
    if len(names) > max_images:
        raise SubmissionRefused(413, f"{len(names)} images: a classify job takes at most {max_images}; "
                                     "split them over several jobs")
    long = next((n for n, name in enumerate(names) if len(name) > MAX_NAME), None)
    if long is not None:
        raise SubmissionRefused(422, f"image {long + 1}: its name is longer than {MAX_NAME} characters")
    try:
        event = ClassifyJobSubmitted(
            job_id=job_id, classifier_id=classifier_id, top_k=top_k, priority=priority, submitted_by=submitted_by,
            images=[ClassifyImageRef(name=name or f"image-{n + 1}", path=input_path(job_id, n))
                    for n, name in enumerate(names)])
    except ValidationError as e:
        raise SubmissionRefused(422, f"invalid classify job: {e.errors()[0]['msg']}") from None
    try:
        registry.check_size(ClassifyJobSubmitted.type_name, event.model_dump(mode="json"))
    except EventTooLarge as e:
        raise SubmissionRefused(413, f"the {len(names)} image names take {e.size} bytes, more than one job "
                                     f"holds ({e.limit}); use shorter names or fewer images per job") from None
    return event
