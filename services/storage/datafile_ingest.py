"""Handlers that turn a submitted datafile into `DatafileAccepted` or `DatafileRejected`.

An upload's archive is already in the blob store; a URL is fetched into the same place first.
Either way the archive is downloaded to scratch space, extracted and verified off the event loop,
its files uploaded as a few packs, `datafiles/<id>/files/pack-NNNNN.tar` (tars of `<class>/<name>`,
see `shared.blobs.packs`: one blob per image made ingest slow), with the manifest beside them
(`datafiles/<id>/manifest.json`, which dataset builds read), and only then is the outcome appended.

Idempotence: a datafile that already has an outcome is not ingested again; a redelivery after a
crash half-way clears the files prefix and starts over. Rejection leaves nothing behind: the
outcome is appended first, then every blob of the datafile is deleted, and a redelivery that finds
the datafile rejected (or deleted) deletes them again, so a crash between the two cannot leak them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import structlog

from services.storage.blob_paths import archive_path, datafile_prefix, files_prefix, manifest_path
from services.storage.context import StorageContext, is_transient, transient_failures
from services.storage.datafile import DatafileManifest
from services.storage.decisions import datafile_pending, decide_datafile_outcome
from services.storage.errors import DatafileRejected
from services.storage.http_fetch import fetch_http
from services.storage.ingest import ingest_datafile
from services.storage.s3_fetch import fetch_s3
from services.storage.transfer import scratch_directory, upload_packed
from shared.blobs import BlobInfo, BlobNotFound, InvalidBlobKey
from shared.domain.datafile import Datafile, DatafileState, datafile_stream, evolve
from shared.domain.streams import execute, load
from shared.events import Envelope, Event, EventTooLarge
from shared.events import data as events

log = structlog.get_logger(__name__)

class DatafileIngest:
    def __init__(self, context: StorageContext) -> None:
        self.context = context

    async def on_uploaded(self, envelope: Envelope, event: Event) -> None:
        assert isinstance(event, events.DatafileUploaded)
        with transient_failures():
            async with self.context.heavy:  # state checked after the wait: it may be deleted meanwhile
                if await self._pending(envelope, event.datafile_id):
                    await self._ingest(envelope, event.datafile_id, event.blob_path)

    async def on_url_submitted(self, envelope: Envelope, event: Event) -> None:
        assert isinstance(event, events.DatafileUrlSubmitted)
        with transient_failures():
            async with self.context.heavy:
                if not await self._pending(envelope, event.datafile_id):
                    return
                try:
                    await self._fetch(envelope.tenant_id, event.datafile_id, event.url)
                except DatafileRejected as rejected:
                    await self._reject(envelope, event.datafile_id, rejected)
                    return
                except Exception as e:  # a bug must not leave the datafile pending forever
                    if is_transient(e):
                        raise
                    log.exception("datafile_fetch_crashed", datafile_id=event.datafile_id)
                    reason = f"internal error while fetching the URL ({type(e).__name__})"
                    await self._reject(envelope, event.datafile_id, DatafileRejected(reason))
                    return
                await self._ingest(envelope, event.datafile_id, archive_path(event.datafile_id))

    async def _pending(self, envelope: Envelope, datafile_id: str) -> bool:
        """Whether the datafile still waits for an outcome; clears the blobs of one that never will."""
        datafile = await self._load(envelope.tenant_id, datafile_id)
        if datafile_pending(datafile):
            return True
        if datafile is not None and datafile.state in (DatafileState.REJECTED, DatafileState.DELETED):
            await self.context.blobs.delete_prefix(envelope.tenant_id, datafile_prefix(datafile_id))
        log.info("datafile_already_decided", datafile_id=datafile_id,
                 state=None if datafile is None else datafile.state.value)
        return False

    async def _fetch(self, tenant_id: str, datafile_id: str, url: str) -> BlobInfo:
        """Store the body at `url` as the datafile's archive (all or nothing)."""
        async def sink(chunks: AsyncIterable[bytes]) -> BlobInfo:
            return await self.context.blobs.put(tenant_id, archive_path(datafile_id), chunks)

        policy = self.context.fetch_policy
        if url.startswith("s3://"):
            return await fetch_s3(url, self.context.settings, policy, sink)
        return await fetch_http(url, policy, sink)

    async def _ingest(self, envelope: Envelope, datafile_id: str, blob_path: str) -> None:
        tenant_id = envelope.tenant_id
        async with scratch_directory(self.context.work_dir) as scratch:
            try:
                manifest = await self._extract(tenant_id, blob_path, scratch)
                manifest = await self._publish_files(tenant_id, datafile_id, scratch, manifest)
            except DatafileRejected as rejected:
                await self._reject(envelope, datafile_id, rejected)
                return
            except Exception as e:  # a bug must not leave the datafile pending forever
                if is_transient(e):
                    raise
                log.exception("datafile_ingest_crashed", datafile_id=datafile_id)
                reason = f"internal error while ingesting ({type(e).__name__})"
                await self._reject(envelope, datafile_id, DatafileRejected(reason))
                return
            accepted = events.DatafileAccepted(
                archive_path=blob_path, extracted_prefix=files_prefix(datafile_id), size=manifest.archive_bytes,
                sha256=manifest.sha256, format=manifest.format.value,
                classes={entry.name: entry.count for entry in manifest.classes}, image_count=len(manifest.files))
            try:
                appended = await self._decide(envelope, datafile_id, accepted)
            except EventTooLarge:
                reason = f"the datafile has too many classes to record ({len(manifest.classes)})"
                await self._reject(envelope, datafile_id, DatafileRejected(reason))
                return
            if not appended:
                await self._settle(tenant_id, datafile_id)
                return
            await self._keep_local_copy(tenant_id, datafile_id, scratch / "files", manifest)
        log.info("datafile_accepted", datafile_id=datafile_id, images=len(manifest.files),
                 classes=len(manifest.classes))

    async def _keep_local_copy(self, tenant_id: str, datafile_id: str, files: Path,
                               manifest: DatafileManifest) -> None:
        """Hand the extracted files to the build cache; without it a build downloads them instead."""
        try:
            await self.context.cache.put(tenant_id, datafile_id, files, manifest)
        except OSError:
            log.warning("datafile_not_cached", datafile_id=datafile_id, exc_info=True)

    async def _extract(self, tenant_id: str, blob_path: str, scratch: Path) -> DatafileManifest:
        archive = scratch / "archive"
        try:
            await self.context.blobs.get_file(tenant_id, blob_path, archive)
        except (BlobNotFound, InvalidBlobKey) as e:
            raise DatafileRejected("the uploaded archive is missing from the blob store") from e
        return await asyncio.to_thread(ingest_datafile, archive, scratch / "files", limits=self.context.limits)

    async def _publish_files(self, tenant_id: str, datafile_id: str, scratch: Path,
                             manifest: DatafileManifest) -> DatafileManifest:
        """Replace whatever a crashed earlier attempt left with this attempt's packed files and manifest."""
        blobs, context = self.context.blobs, self.context
        await blobs.delete_prefix(tenant_id, files_prefix(datafile_id))
        packs = await upload_packed(blobs, tenant_id, scratch / "files", [entry.path for entry in manifest.files],
                                    files_prefix(datafile_id), scratch=scratch, pack_bytes=context.pack_bytes,
                                    concurrency=context.transfer_concurrency)
        manifest = manifest.model_copy(update={"packs": tuple(packs)})
        body = manifest.model_dump_json().encode()
        await blobs.put(tenant_id, manifest_path(datafile_id), _one(body), content_type="application/json")
        return manifest

    async def _reject(self, envelope: Envelope, datafile_id: str, rejected: DatafileRejected) -> None:
        outcome = events.DatafileRejected(reason=rejected.reason[:2000], member=_short(rejected.member))
        await self._decide(envelope, datafile_id, outcome)
        await self.context.blobs.delete_prefix(envelope.tenant_id, datafile_prefix(datafile_id))
        log.info("datafile_rejected", datafile_id=datafile_id, reason=rejected.reason, member=rejected.member)

    async def _decide(self, envelope: Envelope, datafile_id: str,
                      outcome: events.DatafileAccepted | events.DatafileRejected) -> list[Envelope]:
        return await execute(self.context.store, self.context.publisher, tenant_id=envelope.tenant_id,
                             stream_id=datafile_stream(datafile_id), evolve=evolve,
                             decide=lambda datafile: decide_datafile_outcome(datafile, outcome), causation=envelope)

    async def _settle(self, tenant_id: str, datafile_id: str) -> None:
        """An acceptance that came too late (deleted meanwhile) must not leave its files behind."""
        datafile = await self._load(tenant_id, datafile_id)
        if datafile is None or datafile.state is not DatafileState.READY:
            await self.context.blobs.delete_prefix(tenant_id, datafile_prefix(datafile_id))

    async def _load(self, tenant_id: str, datafile_id: str) -> Datafile | None:
        datafile, _ = await load(self.context.store, tenant_id, datafile_stream(datafile_id), evolve)
        return datafile


async def _one(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _short(member: str | None) -> str | None:
    return None if member is None else member[:1000]
