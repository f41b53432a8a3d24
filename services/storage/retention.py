"""Which snapshots of a training job retention deletes: pure decisions over the job aggregate.

A job snapshots every `snapshot` iterations, and each snapshot is a full copy of the weights and
solver state, so without a bound a long job fills the blob store. The newest `keep_last`
snapshots (by iteration) stay. Two more always stay whatever `keep_last` says: the last one
recorded, because a requeued job resumes from it (`Job.last_snapshot`), and the final one (at
`max_iter`, or where the job ended), because it is the trained model. `keep_last` 0 keeps all.
"""

from __future__ import annotations

from shared.domain.job import Job, Status
from shared.events import Event
from shared.events.retention import SnapshotsPruned
from shared.events.training import SnapshotRef


def snapshots_to_prune(job: Job | None, keep_last: int) -> list[SnapshotRef]:
    """The job's live snapshots beyond the limit, oldest first (every record of each iteration)."""
    if job is None or keep_last <= 0 or not job.snapshots:
        return []
    iterations = sorted({ref.iteration for ref in job.snapshots}, reverse=True)
    kept = set(iterations[:keep_last]) | _protected(job)
    return sorted((ref for ref in job.snapshots if ref.iteration not in kept), key=lambda ref: ref.iteration)


def decide_record_pruned(job: Job | None, keep_last: int, deleted: set[int]) -> list[Event]:
    """Record the iterations whose files were deleted and that the job, as it is now, still lists as pruned.

    Decided again on the state the append follows, so a snapshot saved meanwhile (which may have
    changed what is newest) is never recorded as gone unless it is still beyond the limit.
    """
    pruned = sorted({ref.iteration for ref in snapshots_to_prune(job, keep_last)} & deleted)
    return [SnapshotsPruned(iterations=pruned)] if pruned else []


def _protected(job: Job) -> set[int]:
    protected = {job.snapshots[-1].iteration, job.max_iter}
    if job.status is Status.SUCCEEDED:
        protected.add(job.iteration)
    return protected
