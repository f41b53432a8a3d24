"""One attempt of one job on this worker, from its assignment to its terminal event.

prepare the directory -> start the trainer -> `TrainingJobStarted` (the assignment is acked then)
-> stream its output -> `TrainingJobSucceeded | Failed | Cancelled`. Three things stop a trainer
early: a cancel (the attempt ends `cancelled`), a fence (the job moved on without us: we append
nothing more) and the worker's shutdown (nothing terminal either: the scheduler requeues the job
and it resumes from its last snapshot elsewhere).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from services.worker.training.decisions import AttemptFenced
from services.worker.training.logbatch import LogBatcher
from services.worker.training.outcome import exit_code_of, failure_reason
from services.worker.training.pump import OutputPump
from services.worker.training.reporter import AttemptReporter
from services.worker.training.trainer import Trainer, trainer_command
from services.worker.training.uploads import SnapshotUploader
from services.worker.training.workspace import PreparationError, Workspace, WorkspaceBuilder
from shared.blobs import BlobStore
from shared.bus.outbox import EventPublisher
from shared.domain.job import Job
from shared.events import Envelope, Event
from shared.events.training import (
    TrainingJobAssigned,
    TrainingJobCancelled,
    TrainingJobFailed,
    TrainingJobSucceeded,
)
from shared.eventstore import EventStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RunContext:
    """What every run of this worker shares."""

    worker_id: str
    store: EventStore
    publisher: EventPublisher
    blobs: BlobStore
    workspaces: WorkspaceBuilder
    stop_grace_s: float = 5.0
    log_flush_s: float = 0.2
    log_flush_lines: int = 500
    keep_directories: bool = False
    env: dict[str, str] | None = field(default=None)
    trainer_threads: int = 0  # OpenMP threads of a CPU trainer; 0: the cores shared by the worker's slots


class JobRun:
    def __init__(self, ctx: RunContext, job: Job, assignment: TrainingJobAssigned, envelope: Envelope,
                 *, cpu_threads: int | None = None) -> None:
        self.ctx = ctx
        self.cpu_threads = cpu_threads
        self.job = job
        self.assignment = assignment
        self.attempt = assignment.attempt
        self.reporter = AttemptReporter(ctx.store, ctx.publisher, tenant_id=job.tenant_id, job_id=job.job_id,
                                        attempt=assignment.attempt, causation=envelope)
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.trainer: Trainer | None = None
        self.cancelled = False  # a user cancel: the attempt ends cancelled
        self.abandoned = False  # fenced or worker shutdown: the attempt ends without us
        self._stop: asyncio.Task[None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.job.tenant_id, self.job.job_id

    def cancel(self) -> None:
        """The user cancelled: stop the trainer (if any) and end the attempt `cancelled`."""
        if not self.cancelled:
            log.info("job_cancelling", job_id=self.job.job_id, attempt=self.attempt)
        self.cancelled = True
        self._stop_trainer()

    def abandon(self, why: str) -> None:
        """Stop the trainer and write nothing more for this attempt (fenced, or the worker stops)."""
        if not self.abandoned:
            log.info("job_abandoned", job_id=self.job.job_id, attempt=self.attempt, why=why)
        self.abandoned = True
        self._stop_trainer()

    async def run(self) -> None:
        with structlog.contextvars.bound_contextvars(job_id=self.job.job_id, attempt=self.attempt,
                                                     tenant_id=self.job.tenant_id):
            directory = self.ctx.workspaces.directory(self.job, self.attempt)
            try:
                await self._run()
            finally:
                if not self.started.done():
                    self.started.set_result(None)
                if not self.ctx.keep_directories:
                    await self.ctx.workspaces.remove(directory)

    async def _run(self) -> None:
        workspace = await self._prepare()
        if workspace is None or self.abandoned:
            return
        if self.cancelled:
            await self.reporter.finish(TrainingJobCancelled(attempt=self.attempt))
            return
        try:
            self.trainer = await Trainer.start(trainer_command(
                solver=workspace.solver, engine=self.assignment.engine, cwd=workspace.directory,
                gpus=self.assignment.gpus, snapshot=workspace.snapshot, base_env=self.ctx.env,
                cpu_threads=self.cpu_threads))
        except OSError as e:
            await self.reporter.finish(TrainingJobFailed(attempt=self.attempt, reason=f"cannot start the trainer: {e}"))
            return
        try:
            await self.reporter.start(self.ctx.worker_id, self.trainer.pid)
        except AttemptFenced as e:
            self.abandon(repr(e))
        except Exception as e:  # not recorded as started: stop it; the redelivered assignment retries
            await self.trainer.stop(self.ctx.stop_grace_s)
            self.started.set_exception(e)
            return
        else:
            log.info("job_started", pid=self.trainer.pid, engine=self.assignment.engine, gpus=self.assignment.gpus)
        self.started.set_result(None)
        if self.cancelled or self.abandoned:
            self._stop_trainer()
        await self._supervise(self.trainer, workspace.directory)

    async def _prepare(self) -> Workspace | None:
        try:
            return await self.ctx.workspaces.prepare(self.job, self.assignment)
        except PreparationError as e:
            reason = e.reason
        except Exception as e:  # an unexpected local failure still ends the attempt visibly
            log.exception("job_preparation_failed")
            reason = f"the worker could not prepare the job: {e!r}"
        if not self.abandoned:
            await self.reporter.finish(TrainingJobFailed(attempt=self.attempt, reason=reason))
        return None

    async def _supervise(self, trainer: Trainer, directory: Path) -> None:
        uploader = SnapshotUploader(self.ctx.blobs, self.reporter, cwd=directory, on_fenced=self._fenced)
        batcher = LogBatcher(max_lines=self.ctx.log_flush_lines, max_age_s=self.ctx.log_flush_s)
        pump = OutputPump(self.reporter, uploader, batcher, on_fenced=self._fenced, on_cancel_seen=self.cancel)
        reaper = asyncio.create_task(_reap(trainer), name=f"reap-{self.job.job_id}")
        try:
            await pump.run(trainer.lines())
            returncode = await reaper
            if self._stop is not None:
                await self._stop
            await uploader.close()
        except BaseException:
            await asyncio.shield(trainer.stop(self.ctx.stop_grace_s))
            raise
        log.info("trainer_exited", returncode=returncode, iteration=pump.iteration)
        outcome = self._outcome(returncode, pump)
        if outcome is not None:
            await self.reporter.finish(outcome)

    def _outcome(self, returncode: int, pump: OutputPump) -> Event | None:
        if self.abandoned:
            return None
        if returncode == 0:  # finished before a cancel could stop it: the result stands
            return TrainingJobSucceeded(attempt=self.attempt, iteration=pump.iteration)
        if self.cancelled:
            return TrainingJobCancelled(attempt=self.attempt)
        return TrainingJobFailed(attempt=self.attempt, reason=failure_reason(list(pump.tail), returncode),
                                 exit_code=exit_code_of(returncode))

    def _fenced(self, error: AttemptFenced) -> None:
        self.abandon(repr(error))

    def _stop_trainer(self) -> None:
        if self.trainer is not None and self._stop is None:
            self._stop = asyncio.create_task(self.trainer.stop(self.ctx.stop_grace_s),
                                             name=f"stop-{self.job.job_id}")

    async def stopped(self) -> None:
        """Wait for a requested trainer stop to complete."""
        if self._stop is not None:
            await self._stop


async def _reap(trainer: Trainer) -> int:
    """The trainer's exit status; whatever it left running in its group is killed with it.

    Leftovers would also hold the output pipe open, and the log would never end.
    """
    returncode = await trainer.wait()
    trainer.kill_leftovers()
    return returncode
