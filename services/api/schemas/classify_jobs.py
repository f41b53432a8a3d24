"""Models of the classify-job routes (`/v1/classify-jobs`); the results document is the worker's own."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.api.schemas.jobs import PublicState
from services.worker.classify_jobs.results import ClassifiedImage, ClassifyResults, LabelProbability

__all__ = ["ClassifiedImage", "ClassifyJob", "ClassifyJobList", "ClassifyJobListQuery", "ClassifyResults",
           "LabelProbability"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassifyJobListQuery(_Model):
    state: PublicState | None = Field(default=None, description="only jobs in this state")
    classifier_id: str | None = Field(default=None, max_length=64, description="only jobs of this classifier")


class ClassifyJob(_Model):
    id: str
    state: PublicState
    classifier_id: str
    count: int = Field(description="images submitted")
    top_k: int
    priority: int
    queue_position: int | None = Field(description="1 = next of this tenant's jobs to run; null unless queued")
    worker_id: str | None
    attempt: int
    cancel_requested: bool
    error: str | None
    results: str | None = Field(description="where the results are once succeeded: GET this path")
    submitted_by: str
    submitted_at: datetime
    queued_at: datetime
    assigned_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None


class ClassifyJobList(_Model):
    items: list[ClassifyJob]
