"""Classify jobs and classification results (synchronous answers and classify jobs' results alike)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from elasticthought.client.models.base import ClientModel


class LabelScore(ClientModel):
    label: str
    probability: float


class ImageResult(ClientModel):
    """One input image: its top labels, most probable first, or why it could not be classified."""

    name: str
    predictions: list[LabelScore] = Field(default_factory=list)
    error: str | None = None


class ClassifyResults(ClientModel):
    job_id: str
    classifier_id: str
    top_k: int
    count: int
    failed: int
    results: list[ImageResult]


class ClassifyJob(ClientModel):
    id: str
    state: str  # queued, running, succeeded, failed, cancelled
    classifier_id: str
    count: int
    top_k: int
    priority: int
    queue_position: int | None = None
    worker_id: str | None = None
    attempt: int
    cancel_requested: bool
    error: str | None = None
    results: str | None = None  # the results' path once succeeded
    submitted_by: str
    submitted_at: datetime
    queued_at: datetime
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
