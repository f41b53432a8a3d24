"""What a training job produced: its log (whole or followed live), metrics, snapshots."""

from __future__ import annotations

from pathlib import Path

from elasticthought.client.calls import Call, Plan, Progress, fetch, fetch_items, query, segment, send, text
from elasticthought.client.errors import NotFound
from elasticthought.client.models.jobs import Snapshot, SnapshotKind, TrainingMetrics
from elasticthought.client.streams import LineDecoder, StreamSpec


def get_training_log(job_id: str) -> Plan[str]:
    """Every line the trainer printed so far, across attempts."""
    return text(Call("GET", f"/v1/training-jobs/{segment(job_id)}/log", expect="text"))


def follow_training_log(job_id: str) -> StreamSpec[str]:
    """The log's lines from the first, then live as the trainer prints them; ends when the job ends."""
    call = Call("GET", f"/v1/training-jobs/{segment(job_id)}/log", params=query(follow=True), expect="text")
    return StreamSpec(call, LineDecoder)


def get_training_metrics(job_id: str) -> Plan[TrainingMetrics]:
    """Every parsed output (loss, accuracy, ...) and learning rate, by iteration."""
    return fetch(Call("GET", f"/v1/training-jobs/{segment(job_id)}/metrics"), TrainingMetrics)


def list_snapshots(job_id: str) -> Plan[list[Snapshot]]:
    """The job's snapshots in iteration order."""
    return fetch_items(Call("GET", f"/v1/training-jobs/{segment(job_id)}/snapshots"), Snapshot)


def download_snapshot(job_id: str, iteration: int | None = None, kind: SnapshotKind = "caffemodel", *,
                      to: str | Path, progress: Progress | None = None) -> Plan[Path]:
    """Stream a snapshot's weights (caffemodel) or solver state into the file `to`; returns its path.

    Without `iteration`, the latest snapshot. The file appears only once complete."""
    if iteration is None:
        snapshots = yield from list_snapshots(job_id)
        if not snapshots:
            raise NotFound(404, detail=f"training job {job_id} has no snapshots yet")
        iteration = snapshots[-1].iteration
    target = Path(to)
    yield from send(Call("GET", f"/v1/training-jobs/{segment(job_id)}/snapshots/{iteration}/{segment(kind)}",
                         save_to=target, progress=progress))
    return target
