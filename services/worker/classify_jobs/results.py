"""The results document of a classify job, as the worker writes it and the API serves it.

One entry per input image, in input order. An image that cannot be read (truncated, not an image
after all) gets an `error` and no predictions instead of failing the whole job: the other images'
answers are still worth having, and the user sees exactly which input was bad.

Each attempt writes its own key (`results_path`): a written-off attempt that finishes late can
never overwrite what the live attempt wrote; only the path that `ClassifyJobSucceeded` names counts.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelProbability(_Model):
    label: str
    probability: float


class ClassifiedImage(_Model):
    name: str = Field(description="the image's name as it was submitted")
    predictions: list[LabelProbability] = Field(description="the top_k labels, most probable first; empty on error")
    error: str | None = Field(default=None, description="why this image could not be classified")


class ClassifyResults(_Model):
    job_id: str
    classifier_id: str
    top_k: int
    count: int = Field(description="images submitted (= len(results))")
    failed: int = Field(description="images that could not be classified (their entries carry an error)")
    results: list[ClassifiedImage]


def results_path(job_id: str, attempt: int) -> str:
    """The blob key (inside the tenant) of one attempt's results."""
    return f"jobs/{job_id}/results/{attempt}.json"


def inputs_prefix(job_id: str) -> str:
    """Where the API stages a classify job's images (removed once the job has ended)."""
    return f"jobs/{job_id}/inputs/"


def input_path(job_id: str, index: int) -> str:
    return f"{inputs_prefix(job_id)}{index:06d}"
