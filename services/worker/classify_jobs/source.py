"""What a classify job runs on, read from the log: its submission (the images) and its classifier.

The job aggregate keeps only an image count (the scheduler holds every unfinished job in memory),
so the run reads the full submission from the job stream. The classifier comes from its own stream
(`classifier-<id>`); one deleted since the job was queued fails the job with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.job import Job, job_stream
from shared.events import registry
from shared.events.classify import ClassifierCreated, ClassifierDeleted, ClassifyJobSubmitted
from shared.eventstore import EventStore


class ClassifyJobError(Exception):
    """The job cannot run as submitted; `reason` is what the user is told."""

    def __init__(self, job_id: str, reason: str) -> None:
        self.job_id = job_id
        self.reason = reason
        super().__init__(reason)

    def __repr__(self) -> str:
        return f"ClassifyJobError(job_id={self.job_id!r}, reason={self.reason!r})"


@dataclass(frozen=True)
class ClassifySource:
    submitted: ClassifyJobSubmitted
    classifier: ClassifierCreated


async def read_source(store: EventStore, job: Job) -> ClassifySource:
    return ClassifySource(await _submission(store, job), await _classifier(store, job))


async def _submission(store: EventStore, job: Job) -> ClassifyJobSubmitted:
    stream = await store.read_stream(job.tenant_id, job_stream(job.job_id))
    event = registry.decode(stream[0]) if stream else None
    if isinstance(event, ClassifyJobSubmitted):
        return event
    raise ClassifyJobError(job.job_id, f"job {job.job_id} is not a classify job")


async def _classifier(store: EventStore, job: Job) -> ClassifierCreated:
    created: ClassifierCreated | None = None
    for envelope in await store.read_stream(job.tenant_id, f"classifier-{job.classifier_id}"):
        event = registry.decode(envelope)
        if isinstance(event, ClassifierCreated):
            created = event
        elif isinstance(event, ClassifierDeleted):
            raise ClassifyJobError(job.job_id, f"classifier {job.classifier_id} was deleted")
    if created is None:
        raise ClassifyJobError(job.job_id, f"no classifier {job.classifier_id}")
    return created
