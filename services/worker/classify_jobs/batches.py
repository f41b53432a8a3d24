"""Classify one batch of a job's images, isolating the ones that cannot be read. Blocking: run off the loop.

Each image is prepared (decoded, resized, transformed) on its own, so one that is not a usable
image costs only its own entry: it gets an `error` and no predictions. The prepared ones then go
through the net together (that is what makes many images fast). A failure of the net itself is
not about any image: it propagates and fails the job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
import structlog

from services.worker.classify.preprocess import ImageUnusable
from services.worker.classify_jobs.results import ClassifiedImage, LabelProbability

log = structlog.get_logger(__name__)

Prepared = npt.NDArray[np.float32]


class Scored(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def probability(self) -> float: ...


class Classifier(Protocol):
    """What a loaded classifier offers (`services.worker.classify.model.ClassifierModel`)."""

    def prepare(self, data: bytes, name: str) -> Prepared: ...

    def predict(self, inputs: Sequence[Prepared], top_k: int = 5) -> Sequence[Sequence[Scored]]: ...


def classify_batch(model: Classifier, names: Sequence[str], images: Sequence[bytes | str],
                   top_k: int) -> list[ClassifiedImage]:
    """One result per image, in order; an entry of `images` that is a `str` is an error already known."""
    errors: dict[int, str] = {}
    prepared: dict[int, Prepared] = {}
    for n, (name, image) in enumerate(zip(names, images, strict=True)):
        if isinstance(image, str):
            errors[n] = image
            continue
        try:
            prepared[n] = model.prepare(image, name)
        except ImageUnusable as e:
            errors[n] = e.reason
        except Exception as e:  # a decoder's surprise on one hostile file stays that file's problem
            log.warning("classify_image_unreadable", image=name, error=repr(e))
            errors[n] = f"cannot be read: {type(e).__name__}"
    scores = dict(zip(prepared, model.predict(list(prepared.values()), top_k), strict=True)) if prepared else {}
    return [ClassifiedImage(name=name, predictions=_labels(scores.get(n, ())), error=errors.get(n))
            for n, name in enumerate(names)]


def _labels(scores: Sequence[Scored]) -> list[LabelProbability]:
    return [LabelProbability(label=s.label, probability=float(s.probability)) for s in scores]
