"""Derived deploy nets load in real Caffe with the snapshot's weights and compute what our classifier model does."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from services.storage.images import ColorMode, ResizeMode
from services.worker.classify.deploy import derive_deploy
from services.worker.classify.model import ClassifierModel
from services.worker.classify.preprocess import Preprocessor
from services.worker.engines.torch.net import TorchNet
from services.worker.engines.torch.prototxt import parse_net_text
from tests.unit.worker.classify.nets import PHASED, V1_NET

pytestmark = [pytest.mark.caffe]

NETS = Path(__file__).resolve().parents[2] / "data" / "nets"


@pytest.mark.parametrize(("name", "net", "shape", "classes"), [
    ("lenet", (NETS / "lenet_train_test.prototxt").read_text(), (1, 28, 28), 10),
    ("cifar10_quick", (NETS / "cifar10_quick_train_test.prototxt").read_text(), (3, 32, 32), 10),
    ("phased", PHASED, (3, 12, 12), 3),
    ("v1", V1_NET, (1, 2, 3), 2),
])
def test_a_derived_deploy_net_loads_in_caffe_and_agrees_with_our_model(
        pycaffe: ModuleType, tmp_path: Path, name: str, net: str, shape: tuple[int, int, int], classes: int) -> None:
    deploy = derive_deploy(net, channels=shape[0], height=shape[1], width=shape[2])
    weights = TorchNet(parse_net_text(deploy), "TEST", seed=7).to_proto().SerializeToString()
    (tmp_path / "deploy.prototxt").write_text(deploy)
    (tmp_path / "weights.caffemodel").write_bytes(weights)
    caffe_net = pycaffe.Net(str(tmp_path / "deploy.prototxt"), str(tmp_path / "weights.caffemodel"), pycaffe.TEST)
    color = ColorMode.GRAY if shape[0] == 1 else ColorMode.RGB
    preprocessor = Preprocessor(height=shape[1], width=shape[2], resize_mode=ResizeMode.SQUASH, color=color,
                                crop_size=8 if name == "phased" else 0)
    model = ClassifierModel(deploy, weights, [str(n) for n in range(classes)], preprocessor, max_batch=4)
    batch = np.random.default_rng(2).normal(size=(5, *preprocessor.shape)).astype(np.float32)
    caffe_net.blobs["data"].reshape(*batch.shape)
    caffe_net.blobs["data"].data[...] = batch
    expected = caffe_net.forward()["prob"].reshape(len(batch), -1)
    assert expected.shape == (5, classes)
    np.testing.assert_allclose(model.probabilities(batch), expected, atol=1e-5)
