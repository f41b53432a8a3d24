"""The handler that keeps each training job's snapshots bounded, on every `SnapshotSaved`.

Files first, record second: the snapshot blobs retention decides against are deleted, then
`SnapshotsPruned` is appended on the job stream, decided again on the state it follows. A crash
between the two leaves the job listing snapshots whose files are gone (downloads answer 404 "no
longer stored"); the redelivered `SnapshotSaved` decides the same, deletes nothing new and appends
the record. A redelivery after the record finds nothing left to prune, so it appends nothing.
Deleting a blob that is gone is not an error, so two storage replicas racing on one job do no harm.
"""

from __future__ import annotations

import structlog

from services.storage.context import StorageContext, transient_failures
from services.storage.retention import decide_record_pruned, snapshots_to_prune
from shared.domain.job import evolve, job_stream
from shared.domain.streams import execute, load
from shared.events import Envelope, Event

log = structlog.get_logger(__name__)


class SnapshotRetention:
    def __init__(self, context: StorageContext) -> None:
        self.context = context
        self.keep_last = context.settings.snapshot_keep_last

    async def on_snapshot_saved(self, envelope: Envelope, event: Event) -> None:
        if self.keep_last <= 0:
            return
        tenant_id, stream_id = envelope.tenant_id, envelope.stream_id
        with transient_failures():
            job, _ = await load(self.context.store, tenant_id, stream_id, evolve)
            doomed = snapshots_to_prune(job, self.keep_last)
            if job is None or not doomed:
                return
            for ref in doomed:
                await self.context.blobs.delete(tenant_id, ref.caffemodel_path)
                await self.context.blobs.delete(tenant_id, ref.solverstate_path)
            deleted = {ref.iteration for ref in doomed}
            recorded = await execute(
                self.context.store, self.context.publisher, tenant_id=tenant_id, stream_id=job_stream(job.job_id),
                evolve=evolve, decide=lambda now: decide_record_pruned(now, self.keep_last, deleted),
                causation=envelope)
        log.info("snapshots_pruned", job_id=job.job_id, iterations=sorted(deleted), recorded=bool(recorded))
