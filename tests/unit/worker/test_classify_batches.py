"""One batch of a classify job: unreadable images get their own error, the rest are classified together. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from services.worker.classify.preprocess import ImageUnusable
from services.worker.classify_jobs.batches import Prepared, classify_batch
from services.worker.classify_jobs.results import ClassifiedImage, LabelProbability


@dataclass(frozen=True)
class Score:
    label: str
    probability: float


class FakeModel:
    """Scores an image by its first byte; `bad` is not an image, `odd` surprises the decoder."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def prepare(self, data: bytes, name: str) -> Prepared:
        if data == b"bad":
            raise ImageUnusable(name, "not an image (unknown format)")
        if data == b"odd":
            raise OSError("decoder exploded")
        return np.full((1, 2, 2), data[0], dtype=np.float32)

    def predict(self, inputs: Sequence[Prepared], top_k: int = 5) -> list[list[Score]]:
        self.batches.append(len(inputs))
        return [[Score(f"l{int(x[0, 0, 0])}", 0.75), Score("other", 0.25)][:top_k] for x in inputs]


def test_every_readable_image_is_classified_in_one_model_call_in_input_order() -> None:
    model = FakeModel()
    results = classify_batch(model, ["a", "b", "c"], [b"\x01", b"\x02", b"\x03"], 2)
    assert model.batches == [3]
    assert [r.name for r in results] == ["a", "b", "c"]
    assert results[1] == ClassifiedImage(name="b", predictions=[LabelProbability(label="l2", probability=0.75),
                                                             LabelProbability(label="other", probability=0.25)])


def test_an_unusable_image_gets_its_own_error_and_the_others_are_still_classified() -> None:
    model = FakeModel()
    results = classify_batch(model, ["a", "bad.png", "weird", "gone", "d"],
                             [b"\x01", b"bad", b"odd", "the staged image is gone", b"\x04"], 1)
    assert model.batches == [2]
    assert [(r.name, r.error) for r in results if r.error] == [
        ("bad.png", "not an image (unknown format)"), ("weird", "cannot be read: OSError"),
        ("gone", "the staged image is gone")]
    assert [r.predictions[0].label for r in results if not r.error] == ["l1", "l4"]
    assert all(r.predictions == [] for r in results if r.error)


def test_a_batch_of_only_unreadable_images_does_not_call_the_model() -> None:
    model = FakeModel()
    assert [r.error for r in classify_batch(model, ["x"], [b"bad"], 1)] == ["not an image (unknown format)"]
    assert model.batches == []


def test_a_failure_of_the_model_itself_is_not_blamed_on_an_image() -> None:
    class Broken(FakeModel):
        def predict(self, inputs: Sequence[Prepared], top_k: int = 5) -> list[list[Score]]:
            raise RuntimeError("shape mismatch in ip1")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        classify_batch(Broken(), ["a"], [b"\x01"], 1)
