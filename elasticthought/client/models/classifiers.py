"""Classifiers: a trained snapshot made usable, with the labels and input transform of its dataset."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from elasticthought.client.models.base import ClientModel
from elasticthought.client.models.classify import ImageResult
from elasticthought.client.models.data import ImageSpec


class InputTransform(ClientModel):
    """What is done to every image before the net sees it (after resizing as the dataset was)."""

    shape: list[int]
    scale: float
    mean: str | None = None
    mean_values: list[float] = Field(default_factory=list)
    crop_size: int = 0


class Classifier(ClientModel):
    id: str
    name: str
    training_job_id: str
    iteration: int
    dataset_id: str
    labels: list[str]
    image: ImageSpec
    input: InputTransform
    created_by: str
    created_at: datetime
    download: str  # path of the tar.gz


class ClassifyResponse(ClientModel):
    """A synchronous classify answer: one entry per image, in input order."""

    results: list[ImageResult]
