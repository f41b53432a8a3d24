"""The storage service's handler table: event type name -> handlers.

Types not listed here (the storage service's own outcomes, for instance) are acked and logged by
the dispatcher, so events of the streams it is bound to never pile up.
"""

from __future__ import annotations

from services.storage.cleanup import Cleanup
from services.storage.context import StorageContext
from services.storage.datafile_ingest import DatafileIngest
from services.storage.dataset_build import DatasetBuild
from services.storage.snapshot_retention import SnapshotRetention
from shared.dispatch import HandlerTable


def handler_table(context: StorageContext) -> HandlerTable:
    ingest = DatafileIngest(context)
    build = DatasetBuild(context)
    cleanup = Cleanup(context)
    retention = SnapshotRetention(context)
    return {
        "DatafileUploaded": [ingest.on_uploaded],
        "DatafileUrlSubmitted": [ingest.on_url_submitted],
        "DatasetRequested": [build.on_requested],
        "DatafileDeleted": [cleanup.on_datafile_deleted],
        "DatasetDeleted": [cleanup.on_dataset_deleted],
        "SnapshotSaved": [retention.on_snapshot_saved],
        # the terminal events of a job stream (see `service.TOPICS`): its staged classify images go
        "TrainingJobFailed": [cleanup.on_job_ended],
        "TrainingJobCancelled": [cleanup.on_job_ended],
        "ClassifyJobSucceeded": [cleanup.on_job_ended],
    }
