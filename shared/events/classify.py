"""Classifier and classify-job events (tenant logs; streams `classifier-<id>`, `job-<id>`).

A classifier is a trained model made usable: the deploy net derived from a training job's net, one
of its snapshots, and what the dataset knows (labels, image shape, resize mode, mean). The API
creates it; both the API (a few images, synchronously) and the workers (classify jobs) load it.

A classify job shares the job stream and its lifecycle with training jobs, so the scheduler's
fairness, capacity matching, fencing by attempt and requeue apply to it unchanged: it starts with
`ClassifyJobSubmitted` instead of `TrainingJobSubmitted` and ends with `ClassifyJobSucceeded`
(results in the blob store) instead of `TrainingJobSucceeded`. Assignment, start, failure, cancel
and requeue use the job lifecycle events of `shared.events.training`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.events.base import Event
from shared.events.data import ImageSpec
from shared.events.registry import registry


@registry.event("ClassifierCreated", version=1)
class ClassifierCreated(Event):
    classifier_id: str
    name: str = Field(default="", max_length=200)
    training_job_id: str
    iteration: int = Field(ge=0)
    dataset_id: str
    labels: list[str] = Field(min_length=2)
    image: ImageSpec
    # the dataset's mean image (binaryproto blob key), subtracted before `input_scale`, as Caffe's
    # transform_param does; None when the training net used no mean_file
    mean_path: str | None = None
    mean_values: list[float] = Field(default_factory=list)  # transform_param.mean_value, per channel
    input_scale: float = 1.0  # transform_param.scale of the training net's TEST data layer
    # transform_param.crop_size of that layer: the net sees the centre crop_size x crop_size (0: no crop)
    crop_size: int = Field(default=0, ge=0)
    caffemodel_path: str  # the classifier's own copy of the snapshot's weights (blob key)
    deploy_prototxt: str = Field(max_length=100_000)
    created_by: str


@registry.event("ClassifierDeleted", version=1)
class ClassifierDeleted(Event):
    deleted_by: str


class ClassifyImageRef(BaseModel):
    """One input of a classify job: its name as the user gave it, and where the API staged its bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=1000)
    path: str  # blob key


@registry.event("ClassifyJobSubmitted", version=1)
class ClassifyJobSubmitted(Event):
    job_id: str
    classifier_id: str
    images: list[ClassifyImageRef] = Field(min_length=1)
    top_k: int = Field(ge=1, le=1000)
    priority: int = Field(default=0, ge=-100, le=100)
    submitted_by: str


@registry.event("ClassifyJobSucceeded", version=1)
class ClassifyJobSucceeded(Event):
    """The results lie at `results_path` (JSON: one entry per input image, in input order)."""

    attempt: int = Field(ge=1)
    results_path: str
    count: int = Field(ge=0)
