"""Handlers that delete the blobs of deleted datafiles and datasets, and the staged images of ended jobs.

Deleting a prefix that is already gone deletes nothing, so a redelivery is harmless. An ingest or
build still running when the deletion arrives finds the stream deleted when it tries to record its
outcome, and deletes what it uploaded itself (see `datafile_ingest`, `dataset_build`).

A classify job's images are staged by the API under the job's inputs prefix and read by the worker
that runs it. The worker removes them when it ends the job itself, but a job can also end where no
worker is: the scheduler fails a job no worker can run, or completes the cancel of a lost worker's
job. So every terminal event of a job stream removes the prefix here too. The event does not say
whether the job classifies or trains, and reading the stream to find out would cost more (a training
job's stream holds its whole log) than deleting a prefix that is empty for a training job.
"""

from __future__ import annotations

import structlog

from services.storage.blob_paths import datafile_prefix, dataset_prefix
from services.storage.context import StorageContext, transient_failures
from services.worker.classify_jobs.results import inputs_prefix
from shared.events import Envelope, Event, check_stream_id

log = structlog.get_logger(__name__)


class Cleanup:
    def __init__(self, context: StorageContext) -> None:
        self.context = context

    async def on_datafile_deleted(self, envelope: Envelope, event: Event) -> None:
        datafile_id = _aggregate_id(envelope.stream_id)
        await self._delete(envelope, datafile_prefix(datafile_id))
        await self.context.cache.drop(envelope.tenant_id, datafile_id)

    async def on_dataset_deleted(self, envelope: Envelope, event: Event) -> None:
        await self._delete(envelope, dataset_prefix(_aggregate_id(envelope.stream_id)))

    async def on_job_ended(self, envelope: Envelope, event: Event) -> None:
        """Failed, cancelled or succeeded: nobody reads the job's staged images again."""
        await self._delete(envelope, inputs_prefix(_aggregate_id(envelope.stream_id)))

    async def _delete(self, envelope: Envelope, prefix: str) -> None:
        with transient_failures():
            deleted = await self.context.blobs.delete_prefix(envelope.tenant_id, prefix)
        log.info("blobs_deleted", prefix=prefix, count=deleted)


def _aggregate_id(stream_id: str) -> str:
    """`datafile-<id>` -> `<id>`: the deleted and ended events carry no id of their own."""
    return check_stream_id(stream_id).split("-", 1)[1]
