"""The jobs this worker runs: at most `slots` at once, started on assignment, stopped on request.

An assignment's handler returns (and its message is acked) once the job's `TrainingJobStarted`
is stored; the job then runs as a background task. When every slot is busy the handler waits for
one (the scheduler only assigns free capacity, so this is the rare race with a lowered slot count).
Lowering the slots at run time never stops a running job: the ones above the new count finish.

On shutdown the executor stops taking assignments and stops its trainers without a terminal
event: their jobs are requeued by the scheduler and resume from their last snapshots.

Training jobs run as `JobRun`s (a trainer child process); classify jobs as the runs the `classify`
factory makes (`services.worker.classify_jobs`). Both are an `AttemptRun` to the executor.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Protocol

import structlog

from services.worker.training.decisions import decide_cancel_unrun, refusal
from services.worker.training.run import JobRun, RunContext
from shared.bus import RetryableError
from shared.domain import streams
from shared.domain.job import Job, evolve, job_stream
from shared.events import Envelope
from shared.events.training import TrainingJobAssigned, TrainingJobCancelRequested

log = structlog.get_logger(__name__)


class AttemptRun(Protocol):
    """One attempt of one job on this worker, as the executor drives it."""

    job: Job
    attempt: int
    started: asyncio.Future[None]  # done once the attempt is recorded as started (or will never be)

    @property
    def key(self) -> tuple[str, str]: ...

    def cancel(self) -> None: ...

    def abandon(self, why: str) -> None: ...

    async def run(self) -> None: ...


RunFactory = Callable[[Job, TrainingJobAssigned, Envelope], AttemptRun]


class JobExecutor:
    def __init__(self, ctx: RunContext, *, slots: int, classify: RunFactory | None = None) -> None:
        self.ctx = ctx
        self.slots = slots
        self.classify = classify
        self.runs: dict[tuple[str, str], AttemptRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()
        self._stopping = False
        self._reserved = 0  # slots held by assignments being checked

    @property
    def busy(self) -> int:
        return len(self.runs)

    async def set_slots(self, slots: int) -> None:
        log.info("worker_slots_changed", slots=slots, busy=self.busy)
        async with self._changed:
            self.slots = slots
            self._changed.notify_all()

    async def assign(self, envelope: Envelope, assignment: TrainingJobAssigned) -> None:
        """Start the assigned attempt unless it is not (or no longer) ours to run."""
        key = (envelope.tenant_id, envelope.stream_id.removeprefix("job-"))
        if key in self.runs:
            log.info("assignment_ignored", reason="this job already runs here", job_id=key[1])
            return
        await self._reserve_slot()
        try:
            run = await self._start(key, envelope, assignment)
        finally:
            async with self._changed:
                self._reserved -= 1
                self._changed.notify_all()
        if run is None:
            return
        try:
            await run.started
        except Exception as e:
            raise RetryableError(f"job {key[1]} could not be recorded as started: {e!r}") from e

    async def _start(self, key: tuple[str, str], envelope: Envelope,
                     assignment: TrainingJobAssigned) -> AttemptRun | None:
        job = await self._load(*key)
        why = refusal(job, assignment, self.ctx.worker_id)
        if why is not None or job is None or key in self.runs:
            log.warning("assignment_refused", job_id=key[1], attempt=assignment.attempt,
                        reason=why or "this job already runs here")
            return None
        run = self._run_of(job, assignment, envelope)
        self.runs[key] = run
        if job.cancel_requested:
            run.cancel()
        task = asyncio.create_task(self._run(run), name=f"job-{job.job_id}-{assignment.attempt}")
        self._tasks.add(task)
        return run

    def _run_of(self, job: Job, assignment: TrainingJobAssigned, envelope: Envelope) -> AttemptRun:
        if job.kind == "classify" and self.classify is not None:
            return self.classify(job, assignment, envelope)
        return JobRun(self.ctx, job, assignment, envelope, cpu_threads=trainer_threads(self.ctx, self.slots))

    async def cancel(self, envelope: Envelope, request: TrainingJobCancelRequested) -> None:
        key = (envelope.tenant_id, envelope.stream_id.removeprefix("job-"))
        run = self.runs.get(key)
        if run is not None:
            run.cancel()
            return
        # Nothing runs it here (this worker restarted since it was assigned): end it if it is ours.
        await streams.execute(self.ctx.store, self.ctx.publisher, tenant_id=key[0], stream_id=job_stream(key[1]),
                              evolve=evolve, decide=lambda job: decide_cancel_unrun(job, worker_id=self.ctx.worker_id),
                              causation=envelope)

    async def close_intake(self) -> None:
        """Take no more assignments: the ones waiting for a slot go back to the queue."""
        async with self._changed:
            self._stopping = True
            self._changed.notify_all()

    async def shutdown(self) -> None:
        """Stop every trainer (TERM, grace, KILL) and wait for their runs, appending nothing terminal."""
        await self.close_intake()
        for run in list(self.runs.values()):
            run.abandon("the worker is shutting down")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _reserve_slot(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._stopping or self.busy + self._reserved < self.slots)
            if self._stopping:
                raise RetryableError("the worker is shutting down: the assignment is not taken")
            self._reserved += 1

    async def _load(self, tenant_id: str, job_id: str) -> Job | None:
        job, _ = await streams.load(self.ctx.store, tenant_id, job_stream(job_id), evolve)
        return job

    async def _run(self, run: AttemptRun) -> None:
        try:
            await run.run()
        except Exception:
            log.exception("job_run_failed", job_id=run.job.job_id, attempt=run.attempt)
        finally:
            self.runs.pop(run.key, None)
            async with self._changed:
                self._changed.notify_all()
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)


def trainer_threads(ctx: RunContext, slots: int) -> int:
    """OpenMP threads for one CPU trainer: the configured count, else this machine's cores over the slots."""
    if ctx.trainer_threads > 0:
        return ctx.trainer_threads
    return max(1, len(os.sched_getaffinity(0)) // max(1, slots))
