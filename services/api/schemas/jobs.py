"""Request and response models of the training-job routes (`/v1/training-jobs`, `/v1/queue`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.training import EngineChoice

PublicState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubmitTrainingJob(_Model):
    solver_id: str = Field(pattern=ID_PATTERN)
    dataset_id: str = Field(pattern=ID_PATTERN)
    engine: EngineChoice = "auto"
    gpus: int = Field(default=0, ge=0, le=16, description="GPUs the job needs; 0 runs it on a CPU slot")
    priority: int = Field(default=0, ge=-100, le=100, description="higher runs first among this tenant's jobs")


class JobAccepted(_Model):
    id: str
    state: PublicState


class JobListQuery(_Model):
    state: PublicState | None = Field(default=None, description="only jobs in this state")


class TrainingJob(_Model):
    id: str
    state: PublicState
    solver_id: str
    dataset_id: str
    engine: EngineChoice = Field(description="what was asked for")
    engine_used: Literal["torch", "caffe"] | None = Field(description="what the current attempt runs on")
    gpus: int = Field(description="GPUs asked for")
    assigned_gpus: list[str]
    priority: int
    queue_position: int | None = Field(description="1 = next of this tenant's jobs to run; null unless queued")
    iteration: int
    max_iter: int
    train_outputs: dict[str, float]
    test_outputs: dict[str, float]
    lr: float | None
    worker_id: str | None
    attempt: int
    cancel_requested: bool
    error: str | None
    snapshots: int
    submitted_by: str
    submitted_at: datetime
    queued_at: datetime
    assigned_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None


class TrainingJobList(_Model):
    items: list[TrainingJob]


class QueuedJob(_Model):
    id: str
    kind: Literal["training", "classify"] = Field(default="training", description=(
        "a training job (/v1/training-jobs) or a classify job (/v1/classify-jobs)"))
    position: int
    priority: int
    engine: EngineChoice
    gpus: int
    submitted_at: datetime
    queued_at: datetime


class Queue(_Model):
    items: list[QueuedJob]


class TrainPoint(_Model):
    iteration: int
    outputs: dict[str, float]
    loss: float | None
    lr: float | None


class EvaluationPoint(_Model):
    iteration: int
    outputs: dict[str, float]
    loss: float | None


class LrPoint(_Model):
    iteration: int
    lr: float


class TrainingMetrics(_Model):
    id: str
    max_iter: int
    train: list[TrainPoint]
    test: list[EvaluationPoint]
    lr: list[LrPoint]


class Snapshot(_Model):
    iteration: int
    attempt: int
    saved_at: datetime
    caffemodel: str = Field(description="download path of the weights")
    solverstate: str = Field(description="download path of the solver state")


class SnapshotList(_Model):
    items: list[Snapshot]


class LogQuery(_Model):
    follow: bool = Field(default=False, description="keep the response open and stream new lines until the job ends")
