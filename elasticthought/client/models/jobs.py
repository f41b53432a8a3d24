"""Training jobs, the queue, and what a job produced (metrics, snapshots)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from elasticthought.client.models.base import ClientModel

JOB_ENDS = ("succeeded", "failed", "cancelled")
SnapshotKind = Literal["caffemodel", "solverstate"]


class JobAccepted(ClientModel):
    id: str
    state: str


class TrainingJob(ClientModel):
    id: str
    state: str  # queued, running, succeeded, failed, cancelled
    solver_id: str
    dataset_id: str
    engine: str
    engine_used: str | None = None
    gpus: int
    assigned_gpus: list[str]
    priority: int
    queue_position: int | None = None
    iteration: int
    max_iter: int
    train_outputs: dict[str, float | None]
    test_outputs: dict[str, float | None]
    lr: float | None = None
    worker_id: str | None = None
    attempt: int
    cancel_requested: bool
    error: str | None = None
    snapshots: int
    submitted_by: str
    submitted_at: datetime
    queued_at: datetime
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class QueuedJob(ClientModel):
    id: str
    kind: str = "training"  # training or classify
    position: int
    priority: int
    engine: str
    gpus: int
    submitted_at: datetime
    queued_at: datetime


class TrainPoint(ClientModel):
    iteration: int
    outputs: dict[str, float | None]
    loss: float | None = None
    lr: float | None = None


class EvaluationPoint(ClientModel):
    iteration: int
    outputs: dict[str, float | None]
    loss: float | None = None


class LrPoint(ClientModel):
    iteration: int
    lr: float


class TrainingMetrics(ClientModel):
    id: str
    max_iter: int
    train: list[TrainPoint]
    test: list[EvaluationPoint]
    lr: list[LrPoint]


class Snapshot(ClientModel):
    iteration: int
    attempt: int
    saved_at: datetime
    caffemodel: str  # download path of the weights
    solverstate: str
