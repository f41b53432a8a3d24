"""The classifier model: batched forwards equal single ones, top-k in order, clear refusals on load."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.storage.images import ColorMode, ResizeMode
from services.worker.classify.deploy import derive_deploy
from services.worker.classify.errors import ClassifierLoadError
from services.worker.classify.model import ClassifierModel
from services.worker.classify.preprocess import ImageUnusable, Preprocessor
from services.worker.engines.torch.net import TorchNet
from services.worker.engines.torch.prototxt import parse_net_text
from tests.unit.worker.classify.nets import V1_NET

LENET = (Path(__file__).resolve().parents[3] / "data" / "nets" / "lenet_train_test.prototxt").read_text()
DEPLOY = derive_deploy(LENET, channels=1, height=28, width=28)
LABELS = [f"digit {n}" for n in range(10)]
GRAY = Preprocessor(height=28, width=28, resize_mode=ResizeMode.SQUASH, color=ColorMode.GRAY, scale=1 / 256)


def weights(deploy: str = DEPLOY, seed: int = 4) -> bytes:
    data: bytes = TorchNet(parse_net_text(deploy), "TEST", seed=seed).to_proto().SerializeToString()
    return data


@pytest.fixture(scope="module")
def model() -> ClassifierModel:
    return ClassifierModel(DEPLOY, weights(), LABELS, GRAY, classifier_id="c1", max_batch=4)


def pngs(count: int) -> list[bytes]:
    rng = np.random.default_rng(8)
    found = []
    for _ in range(count):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, size=(28, 28), dtype=np.uint8)).save(buffer, format="PNG")
        found.append(buffer.getvalue())
    return found


def test_a_batch_gives_what_each_image_gives_alone_across_batch_sizes(model: ClassifierModel) -> None:
    images = pngs(9)  # chunks of 4, 4 and 1 (padded nets of 4 and 1)
    together = model.classify(images, top_k=10)
    alone = [model.classify([image], top_k=10)[0] for image in images]
    for mine, single in zip(together, alone, strict=True):
        assert [p.label for p in mine] == [p.label for p in single]
        assert [p.probability for p in mine] == pytest.approx([p.probability for p in single], abs=1e-6)
    three = model.classify(images[:3], top_k=10)  # padded up to the net of 4
    assert [p.label for p in three[2]] == [p.label for p in together[2]]


def test_predictions_are_the_top_k_most_probable_labels_in_order(model: ClassifierModel) -> None:
    everything = model.classify(pngs(1), top_k=1000)[0]  # more than there are labels
    assert sorted(p.label for p in everything) == sorted(LABELS)
    probabilities = [p.probability for p in everything]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    assert model.classify(pngs(1), top_k=3)[0] == everything[:3]


def test_a_bad_image_is_named(model: ClassifierModel) -> None:
    with pytest.raises(ImageUnusable) as refused:
        model.classify([*pngs(1), b"GIF89a broken"], names=["good.png", "bad.gif"])
    assert refused.value.name == "bad.gif"


def test_threads_classifying_at_once_get_their_own_answers(model: ClassifierModel) -> None:
    images = pngs(6)
    expected = [model.classify([image], top_k=2)[0] for image in images]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda image: model.classify([image], top_k=2)[0], images * 5))
    for n, answer in enumerate(answers):
        assert [p.label for p in answer] == [p.label for p in expected[n % 6]]


@pytest.mark.parametrize(("deploy", "data", "labels", "words"), [
    (DEPLOY, b"not protobuf at all \xff\xff", LABELS, "not a binary NetParameter"),
    (DEPLOY, None, LABELS[:9], "scores 10 classes but there are 9 labels"),
    (DEPLOY, "other", LABELS, "shape mismatch"),
    (DEPLOY.replace("dim: 28\n      dim: 28", "dim: 32\n      dim: 32"), None, LABELS, "the images are [1, 1, 28, 28]"),
])
def test_a_model_that_does_not_fit_is_refused_saying_why(deploy: str, data: bytes | str | None, labels: list[str],
                                                         words: str) -> None:
    if data is None:
        data = weights(deploy)
    elif data == "other":
        data = weights(derive_deploy(V1_NET, channels=1, height=28, width=28)).replace(b"ip1", b"ip2", 1)
    assert isinstance(data, bytes)
    with pytest.raises(ClassifierLoadError) as refused:
        ClassifierModel(deploy, data, labels, GRAY, classifier_id="c9")
    assert refused.value.classifier_id == "c9" and words in refused.value.reason
