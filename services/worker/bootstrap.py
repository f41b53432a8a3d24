"""The worker's composition root: the one place that wires settings and backends into the service."""

from __future__ import annotations

from services.worker.capabilities import Capabilities, detect
from services.worker.classify_jobs.models import WorkerModels
from services.worker.classify_jobs.run import ClassifyContext
from services.worker.events import worker_stream
from services.worker.handlers import handler_table
from services.worker.service import WorkerService
from services.worker.training.dataset_cache import DatasetCache
from services.worker.training.executor import JobExecutor
from services.worker.training.run import RunContext
from services.worker.training.workspace import WorkspaceBuilder
from shared.blobs import BlobStore
from shared.bus import Bus
from shared.bus.outbox import EventPublisher
from shared.composition import Composed
from shared.eventstore import EventStore
from shared.runtime import Backends
from shared.settings import Settings


def bootstrap(
    settings: Settings, *, store: EventStore | None = None, bus: Bus | None = None, blobs: BlobStore | None = None,
) -> Composed:
    """A worker service; backends not given are opened from `settings` when it runs."""
    capabilities = detect(settings)

    def build(backends: Backends) -> WorkerService:
        return build_worker(settings, capabilities, backends)

    return Composed(worker_stream(capabilities.worker_id), settings, build, store=store, bus=bus, blobs=blobs)


def build_worker(settings: Settings, capabilities: Capabilities, backends: Backends) -> WorkerService:
    """The worker with its job executor, on open backends (tests build it directly too)."""
    root = settings.data_dir / "worker"
    workspaces = WorkspaceBuilder(backends.store, backends.blobs, DatasetCache(backends.blobs, root / "cache"),
                                  root / capabilities.worker_id / "jobs")
    context = RunContext(
        worker_id=capabilities.worker_id, store=backends.store, publisher=EventPublisher(backends.store, backends.bus),
        blobs=backends.blobs, workspaces=workspaces, stop_grace_s=settings.worker_stop_grace_s,
        log_flush_s=settings.worker_log_flush_s, log_flush_lines=settings.worker_log_flush_lines,
        trainer_threads=settings.worker_trainer_threads,
    )
    classify = ClassifyContext(context, WorkerModels(backends.blobs, settings.classifier_cache_size))
    executor = JobExecutor(context, slots=capabilities.slots, classify=classify)
    return WorkerService(capabilities, backends.store, backends.bus,
                         handler_table(executor, worker_id=capabilities.worker_id),
                         heartbeat_interval_s=settings.worker_heartbeat_interval_s,
                         queue_prefix=settings.queue_prefix, executor=executor)
