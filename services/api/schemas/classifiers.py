"""Models of the classifier routes (`/v1/classifiers`): create, show, classify.

A classify answer has one entry per image in input order, the same `ClassifiedImage` a classify job's
results hold, so clients read both alike (in a synchronous answer `error` is always null: an image
that cannot be read refuses the whole request with a 422 naming it).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from services.api.schemas.common import ApiModel
from services.api.schemas.jobs import ID_PATTERN
from services.worker.classify_jobs.results import ClassifiedImage, LabelProbability
from shared.events.data import ImageSpec

__all__ = [
    "ClassifiedImage",
    "Classifier",
    "ClassifierList",
    "ClassifyQuery",
    "ClassifyResponse",
    "ClassifyUrlsRequest",
    "CreateClassifierRequest",
    "InputTransform",
    "LabelProbability",
]

URL_SCHEMES = ("http", "https")


class CreateClassifierRequest(ApiModel):
    training_job_id: str = Field(pattern=ID_PATTERN)
    iteration: int | None = Field(default=None, ge=0, description=(
        "the snapshot to use; default: the last snapshot of a succeeded job"))
    name: str = Field(default="", max_length=200)


class InputTransform(ApiModel):
    """What is done to every image before the net sees it, after decoding and resizing as the dataset was."""

    shape: list[int] = Field(description="the net input (C, H, W); channels in BGR order for colour")
    scale: float = Field(description="multiplied in after subtracting the mean")
    mean: str | None = Field(description="`mean.binaryproto` (the dataset's mean image) when subtracted")
    mean_values: list[float] = Field(description="per-channel means subtracted instead of a mean image")
    crop_size: int = Field(description="centre crop taken before subtracting the mean; 0: none")


class Classifier(ApiModel):
    id: str
    name: str
    training_job_id: str
    iteration: int
    dataset_id: str
    labels: list[str] = Field(description="line i of labels.txt: the label of output i")
    image: ImageSpec = Field(description="how images are resized and coloured, as the dataset's were")
    input: InputTransform
    created_by: str
    created_at: datetime
    download: str = Field(description="GET this path for the tar.gz of deploy.prototxt, weights, labels and mean")


class ClassifierList(ApiModel):
    items: list[Classifier]


class ClassifyQuery(ApiModel):
    top_k: int = Field(default=5, ge=1, le=1000, description="labels per image, most probable first")
    run_async: bool = Field(default=False, alias="async", description=(
        "queue the images as a classify job (202 {id, state}, see /v1/classify-jobs) instead of answering "
        "now; a request with more than ET_CLASSIFY_SYNC_MAX_IMAGES images always is"))


class ClassifyUrlsRequest(ApiModel):
    """JSON body of a classify request: image URLs (http or https) the API fetches, SSRF-checked."""

    urls: list[str] = Field(min_length=1, max_length=1000)

    @field_validator("urls")
    @classmethod
    def _basic_urls(cls, values: list[str]) -> list[str]:
        for value in values:
            if len(value) > 4000:
                raise ValueError("a URL is longer than 4000 characters")
            parts = urlsplit(value)
            if parts.scheme.lower() not in URL_SCHEMES or not parts.netloc:
                raise ValueError(f"not an http(s) URL: {value[:200]!r}")
        return values


class ClassifyResponse(ApiModel):
    results: list[ClassifiedImage]
