"""One attempt of one classify job on this worker: read its images, classify them, write the results.

`TrainingJobStarted` (the assignment is acked then) -> the submission and the classifier from the
log -> the model from the worker's bounded cache -> the images in batches -> the results JSON in
the blob store -> `ClassifyJobSucceeded`, or `TrainingJobFailed` / `TrainingJobCancelled`.

Why inside the worker process (a thread per batch) and not a child process like a trainer: a
classify job is short, bounded inference, and most of a child's cost would be starting Python and
torch and loading the model again; in the worker the model stays loaded in its cache across jobs
and synchronous calls. Each batch runs in a thread (`asyncio.to_thread`; torch releases the GIL in
its kernels), so heartbeats, cancels and other jobs' logs keep flowing while it computes.

What a child process would have given us still holds:
- cancel: checked between batches, so a cancelled job stops within one batch (`BATCH` images) and
  ends `cancelled`; a cancel that arrives after the last batch lets the result stand, as a trainer
  that exits 0 does;
- fencing of a lost worker that comes back: every append goes through the attempt-fenced
  `AttemptReporter`, and between batches the job stream is read (at most every `CHECK_S`), so an
  attempt that was requeued or cancelled behind our back stops and writes nothing more; results go
  to an attempt-specific key, so a late stale attempt cannot overwrite the live one's;
- worker shutdown: the run is abandoned between batches with nothing terminal; the scheduler
  requeues the job and another attempt classifies every image again (classifying is idempotent).
What it cannot do is interrupt a batch midway: a stop waits for the batch in hand (milliseconds to
a few seconds for the nets this serves).

Per-image errors: an image that cannot be read gets an `error` entry in the results and the job
still succeeds; a job none of whose images could be classified fails, naming the first error.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from services.worker.classify_jobs.batches import Classifier, classify_batch
from services.worker.classify_jobs.results import ClassifiedImage, ClassifyResults, inputs_prefix, results_path
from services.worker.classify_jobs.source import ClassifyJobError, ClassifySource, read_source
from services.worker.training.decisions import AttemptFenced
from services.worker.training.reporter import AttemptReporter
from services.worker.training.run import RunContext
from shared.blobs import BlobError, BlobNotFound
from shared.domain import streams
from shared.domain.job import Job, evolve, job_stream
from shared.events import Envelope, Event
from shared.events.classify import ClassifierCreated, ClassifyImageRef, ClassifyJobSucceeded
from shared.events.training import TrainingJobAssigned, TrainingJobCancelled, TrainingJobFailed

log = structlog.get_logger(__name__)

BATCH = 32  # images per model call: a cancel waits at most one batch
CHECK_S = 1.0  # the job stream is read between batches at most this often (cancel and fence backstop)


class Models(Protocol):
    """The worker's loaded classifiers (bounded cache; `services.worker.classify.cache`)."""

    async def get(self, tenant_id: str, created: ClassifierCreated) -> Classifier: ...


@dataclass(frozen=True)
class ClassifyContext:
    """What every classify run of this worker shares; called, it makes the run of one assignment."""

    run: RunContext
    models: Models
    batch_size: int = BATCH
    check_s: float = CHECK_S

    def __call__(self, job: Job, assignment: TrainingJobAssigned, envelope: Envelope) -> ClassifyRun:
        return ClassifyRun(self, job, assignment, envelope)


class ClassifyRun:
    def __init__(self, ctx: ClassifyContext, job: Job, assignment: TrainingJobAssigned, envelope: Envelope) -> None:
        self.ctx = ctx
        self.job = job
        self.attempt = assignment.attempt
        self.reporter = AttemptReporter(ctx.run.store, ctx.run.publisher, tenant_id=job.tenant_id, job_id=job.job_id,
                                        attempt=assignment.attempt, causation=envelope)
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.cancelled = False  # a user cancel: the attempt ends cancelled
        self.abandoned = False  # fenced or worker shutdown: the attempt ends without us
        self._checked_at = time.monotonic()

    @property
    def key(self) -> tuple[str, str]:
        return self.job.tenant_id, self.job.job_id

    def cancel(self) -> None:
        if not self.cancelled:
            log.info("job_cancelling", job_id=self.job.job_id, attempt=self.attempt)
        self.cancelled = True

    def abandon(self, why: str) -> None:
        if not self.abandoned:
            log.info("job_abandoned", job_id=self.job.job_id, attempt=self.attempt, why=why)
        self.abandoned = True

    async def run(self) -> None:
        with structlog.contextvars.bound_contextvars(job_id=self.job.job_id, attempt=self.attempt,
                                                     tenant_id=self.job.tenant_id, kind="classify"):
            try:
                if await self._start():
                    await self._finish(await self._settled())
            finally:
                if not self.started.done():
                    self.started.set_result(None)

    async def _start(self) -> bool:
        try:
            await self.reporter.start(self.ctx.run.worker_id, os.getpid())
        except AttemptFenced as e:
            self.abandon(repr(e))
            return False
        except Exception as e:  # not recorded as started: the redelivered assignment retries
            self.started.set_exception(e)
            return False
        self.started.set_result(None)
        log.info("job_started", images=self.job.image_count, classifier_id=self.job.classifier_id)
        return True

    async def _settled(self) -> Event | None:
        """The outcome; an unexpected local failure (a store outage) still ends the attempt visibly."""
        try:
            return await self._outcome()
        except Exception as e:
            log.exception("classify_job_crashed")
            return None if self.abandoned else TrainingJobFailed(
                attempt=self.attempt, reason=f"the worker could not run the job: {e!r}")

    async def _outcome(self) -> Event | None:
        """The terminal event, or None when the attempt was abandoned."""
        try:
            results = None
            if not self.cancelled:  # cancelled before it started: load nothing
                source = await read_source(self.ctx.run.store, self.job)
                results = await self._classify(await self._model(source.classifier), source)
            if results is None or self.abandoned:
                return None if self.abandoned else TrainingJobCancelled(attempt=self.attempt)
            if results.failed == results.count:
                first = results.results[0]
                return TrainingJobFailed(attempt=self.attempt, reason=(
                    f"none of the {results.count} images could be classified; {first.name}: {first.error}"))
            path = await self._store(results)
        except ClassifyJobError as e:
            return TrainingJobFailed(attempt=self.attempt, reason=e.reason)
        return ClassifyJobSucceeded(attempt=self.attempt, results_path=path, count=results.count)

    async def _finish(self, outcome: Event | None) -> None:
        if outcome is None or self.abandoned:
            return
        if not await self.reporter.finish(outcome):
            return
        log.info("classify_job_ended", outcome=type(outcome).type_name)
        try:  # the job has ended: nobody reads its inputs again
            await self.ctx.run.blobs.delete_prefix(self.job.tenant_id, inputs_prefix(self.job.job_id))
        except BlobError as e:
            log.warning("classify_inputs_not_removed", error=repr(e))

    async def _model(self, created: ClassifierCreated) -> Classifier:
        try:
            return await self.ctx.models.get(self.job.tenant_id, created)
        except Exception as e:  # a missing snapshot, a net the engine refuses: the job says why
            log.exception("classifier_load_failed", classifier_id=created.classifier_id)
            raise ClassifyJobError(self.job.job_id, f"cannot load classifier {created.classifier_id}: {e}") from e

    async def _classify(self, model: Classifier, source: ClassifySource) -> ClassifyResults | None:
        """Every image's result; None when stopped (cancelled or abandoned) before the last batch."""
        refs, top_k = source.submitted.images, source.submitted.top_k
        found: list[ClassifiedImage] = []
        for start in range(0, len(refs), self.ctx.batch_size):
            await self._check()
            if self.cancelled or self.abandoned:
                return None
            batch = refs[start:start + self.ctx.batch_size]
            images = await self._read_all(batch)
            try:
                found += await asyncio.to_thread(classify_batch, model, [r.name for r in batch], images, top_k)
            except Exception as e:  # the net itself failed (images fail alone, in their entries)
                log.exception("classify_batch_failed")
                raise ClassifyJobError(self.job.job_id, f"the classifier failed: {e}") from e
        return ClassifyResults(job_id=self.job.job_id, classifier_id=source.submitted.classifier_id, top_k=top_k,
                               count=len(found), failed=sum(r.error is not None for r in found), results=found)

    async def _read_all(self, refs: Sequence[ClassifyImageRef]) -> list[bytes | str]:
        """A batch's images, read at once; every read ends before the first failure is raised."""
        found = await asyncio.gather(*(self._read(ref) for ref in refs), return_exceptions=True)
        images: list[bytes | str] = []
        for image in found:
            if isinstance(image, BaseException):
                raise image
            images.append(image)
        return images

    async def _read(self, ref: ClassifyImageRef) -> bytes | str:
        """The staged image, or why it is not there (that image's error, not the job's)."""
        try:
            return b"".join([chunk async for chunk in self.ctx.run.blobs.get(self.job.tenant_id, ref.path)])
        except BlobNotFound:
            return "the staged image is gone from the blob store"
        except BlobError as e:
            raise ClassifyJobError(self.job.job_id, f"cannot read the job's images: {e}") from e

    async def _store(self, results: ClassifyResults) -> str:
        path = results_path(self.job.job_id, self.attempt)
        data = await asyncio.to_thread(lambda: results.model_dump_json().encode())  # up to 1000 x top_k entries
        try:
            await self.ctx.run.blobs.put(self.job.tenant_id, path, _one(data), content_type="application/json")
        except BlobError as e:
            raise ClassifyJobError(self.job.job_id, f"cannot store the results: {e}") from e
        return path

    async def _check(self) -> None:
        """Backstop for a cancel or requeue whose message never reached us: look at the stream itself."""
        if time.monotonic() - self._checked_at < self.ctx.check_s:
            return
        self._checked_at = time.monotonic()
        job, _ = await streams.load(self.ctx.run.store, self.job.tenant_id, job_stream(self.job.job_id), evolve)
        if job is None or not job.accepts(self.attempt):
            self.abandon("the job moved on without this attempt")
        elif job.cancel_requested:
            self.cancel()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
