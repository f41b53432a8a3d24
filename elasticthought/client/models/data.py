"""Datafiles (archives of class folders) and the datasets built from them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from elasticthought.client.models.base import ClientModel

ResizeMode = Literal["squash", "crop", "fill", "half_crop"]
ColorMode = Literal["gray", "rgb"]
DATAFILE_ENDS = ("ready", "rejected")
DATASET_ENDS = ("ready", "failed")


class DatafileCreated(ClientModel):
    id: str
    state: str


class Datafile(ClientModel):
    id: str
    name: str
    source: str
    state: str  # pending, ready, rejected
    size: int | None = None
    sha256: str | None = None
    format: str | None = None
    classes: dict[str, int] | None = None
    image_count: int | None = None
    error: str | None = None
    error_member: str | None = None
    created_at: datetime


class ImageSpec(ClientModel):
    """How every image of a dataset is sized and coloured."""

    width: int = Field(ge=1)
    height: int = Field(ge=1)
    resize_mode: ResizeMode = "squash"
    color: ColorMode = "rgb"


class DatasetCreated(ClientModel):
    id: str
    state: str


class Dataset(ClientModel):
    id: str
    datafile_id: str
    state: str  # building, ready, failed
    test_fraction: float
    seed: int
    image: ImageSpec
    labels: list[str]
    counts: dict[str, dict[str, int]] | None = None
    shape: list[int] | None = None
    error: str | None = None
    created_at: datetime
