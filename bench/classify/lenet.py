"""The benchmark's model: Caffe's LeNet with seeded weights, as a deploy net and as plain PyTorch.

Weights are seeded fillers written as a real .caffemodel (timing does not depend on what the
weights learned); the hand-written module gets the very same tensors, so both sides compute the
same function and their answers are compared before any timing counts.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from bench.engines.handwritten import lenet
from services.worker.classify.deploy import derive_deploy
from services.worker.engines.torch.net import TorchNet
from services.worker.engines.torch.prototxt import parse_net_text
from shared.caffe.binaryproto import array_from_blob
from shared.caffe.proto import caffe_pb2

TRAIN_NET = (Path(__file__).resolve().parents[2] / "tests" / "data" / "nets" / "lenet_train_test.prototxt").read_text()
DEPLOY = derive_deploy(TRAIN_NET, channels=1, height=28, width=28)
LABELS = [str(n) for n in range(10)]
SCALE = 0.00390625


def caffemodel(seed: int = 1) -> bytes:
    data: bytes = TorchNet(parse_net_text(DEPLOY), "TEST", seed=seed).to_proto().SerializeToString()
    return data


def handwritten(weights: bytes) -> nn.Module:
    """`bench.engines.handwritten.lenet()` holding the caffemodel's blobs (conv, conv, ip, ip in order)."""
    module = lenet().eval()
    blobs = [torch.from_numpy(array_from_blob(blob)) for layer in caffe_pb2.NetParameter.FromString(weights).layer
             for blob in layer.blobs]
    with torch.no_grad():
        for parameter, blob in zip(module.parameters(), blobs, strict=True):
            parameter.copy_(blob.reshape(parameter.shape))
    return module


def digits(count: int, seed: int = 2) -> list[bytes]:
    """Noise digits as 28x28 gray PNGs (the bytes a client uploads)."""
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(count):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, size=(28, 28), dtype=np.uint8)).save(buffer, format="PNG")
        found.append(buffer.getvalue())
    return found
