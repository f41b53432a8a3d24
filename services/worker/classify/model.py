"""A loaded classifier: the deploy net on our torch engine with the snapshot's weights, ready to answer.

Both the API (a few images, synchronously) and the workers (classify jobs) use this one class, so
an image gets the same answer whichever path it takes. The stable interface:

- `await load_classifier(blobs, tenant_id, created)`: fetch the weights (and mean) the
  `ClassifierCreated` event names from the blob store, build the model off the event loop;
- `model.classify(images, top_k, names=...)`: image bytes -> top-k `Prediction`s per image, in
  input order; raises `ImageUnusable` naming the first image that does not decode;
- `model.prepare(data, name)` + `model.predict(inputs, top_k)`: the same in two steps, for a
  caller that wants to report bad images one by one and classify the rest.

The Input layer has a fixed batch size (layers size their tops once, at build), so the model keeps
one net per power-of-two batch size up to `max_batch`, built on first use; they share one set of
weight tensors. A batch is padded up to its net's size. Forward passes run one at a time under a
lock (a net holds its blob values between layers), under `torch.inference_mode`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from services.storage.images import ColorMode, ResizeMode
from services.worker.classify.deploy import OUTPUT
from services.worker.classify.errors import ClassifierLoadError
from services.worker.classify.preprocess import FloatCHW, ImageUnusable, Preprocessor
from services.worker.engines.torch.errors import NetDefinitionError
from services.worker.engines.torch.layers.inputs import Input
from services.worker.engines.torch.net import TorchNet
from services.worker.engines.torch.prototxt import parse_net_text
from shared.blobs import BlobNotFound, BlobStore
from shared.caffe.binaryproto import BlobProtoError, array_from_blob
from shared.caffe.proto import caffe_pb2
from shared.events.classify import ClassifierCreated

MAX_BATCH = 64

__all__ = ["ClassifierLoadError", "ClassifierModel", "ImageUnusable", "Prediction", "load_classifier"]


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float


class ClassifierModel:
    """Deploy net + weights + labels + preprocessing; thread-safe, CPU or CUDA."""

    def __init__(self, deploy_prototxt: str, weights: bytes, labels: Sequence[str], preprocessor: Preprocessor, *,
                 classifier_id: str = "", device: torch.device | str = "cpu", max_batch: int = MAX_BATCH) -> None:
        self.classifier_id = classifier_id
        self.labels = tuple(labels)
        self.preprocessor = preprocessor
        self.device = torch.device(device)
        self.max_batch = max_batch
        self._lock = threading.Lock()
        try:
            self._deploy = parse_net_text(deploy_prototxt, path="deploy.prototxt")
            self._input = _input_layer(self._deploy)
            first = self._build(1)
            first.load_blobs_from(_net_parameter(weights))
        except NetDefinitionError as e:
            raise ClassifierLoadError(classifier_id, f"the deploy net does not load: {e}") from None
        except ValueError as e:  # a caffemodel that is not one
            raise ClassifierLoadError(classifier_id, str(e)) from None
        self._nets: dict[int, TorchNet] = {1: first}
        self._check_shapes(first)

    @classmethod
    def from_created(cls, created: ClassifierCreated, weights: bytes, mean: bytes | None, *,
                     device: torch.device | str = "cpu", max_batch: int = MAX_BATCH) -> ClassifierModel:
        """The model a `ClassifierCreated` describes, from the bytes of its caffemodel and mean file."""
        image = created.image
        try:
            preprocessor = Preprocessor(
                height=image.height, width=image.width, resize_mode=ResizeMode(image.resize_mode),
                color=ColorMode(image.color), scale=created.input_scale, mean=_mean(mean),
                mean_values=tuple(created.mean_values), crop_size=created.crop_size)
        except (ValueError, BlobProtoError) as e:
            raise ClassifierLoadError(created.classifier_id, f"its preprocessing does not fit: {e}") from None
        return cls(created.deploy_prototxt, weights, created.labels, preprocessor,
                   classifier_id=created.classifier_id, device=device, max_batch=max_batch)

    # -- classifying --------------------------------------------------------------------------
    def classify(self, images: Sequence[bytes], top_k: int = 5, *,
                 names: Sequence[str] | None = None) -> list[list[Prediction]]:
        """Top-k predictions per image, best first; `names` (default: `#<n>`) name a bad image."""
        shown = names if names is not None else [f"#{n}" for n in range(1, len(images) + 1)]
        return self.predict([self.prepare(data, name) for data, name in zip(images, shown, strict=True)], top_k)

    def prepare(self, data: bytes, name: str) -> FloatCHW:
        """One image's net input; raises `ImageUnusable` naming it. Thread-safe, no lock."""
        return self.preprocessor(data, name)

    def predict(self, inputs: Sequence[FloatCHW], top_k: int = 5) -> list[list[Prediction]]:
        """Top-k predictions for prepared inputs, in order."""
        if not inputs:
            return []
        probabilities = self.probabilities(np.stack(inputs))
        k = max(1, min(top_k, len(self.labels)))
        values, indices = torch.from_numpy(probabilities).topk(k, dim=1)
        return [[Prediction(self.labels[i], float(p)) for p, i in zip(row_p, row_i, strict=True)]
                for row_p, row_i in zip(values.tolist(), indices.tolist(), strict=True)]

    def probabilities(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(N, classes) probabilities of an (N, C, H, W) batch, in chunks of at most `max_batch`."""
        parts = [self._forward(batch[start:start + self.max_batch]) for start in range(0, len(batch), self.max_batch)]
        return np.concatenate(parts)

    def _forward(self, chunk: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        count = len(chunk)
        size = min(self.max_batch, 1 << (count - 1).bit_length())
        if size > count:
            chunk = np.concatenate([chunk, np.zeros((size - count, *chunk.shape[1:]), dtype=np.float32)])
        with self._lock:
            net = self._net(size)  # built outside inference mode: its weights stay ordinary tensors
            with torch.inference_mode():
                out = net.forward({self._input: torch.from_numpy(chunk)}).outputs[OUTPUT]
                result: npt.NDArray[np.float32] = out[:count].reshape(count, -1).float().cpu().numpy()
        return result

    # -- nets per batch size ------------------------------------------------------------------
    def _net(self, size: int) -> TorchNet:
        net = self._nets.get(size)
        if net is None:
            net = self._nets[size] = self._build(size)
            _share_weights(net, self._nets[1])
        return net

    def _build(self, batch: int) -> TorchNet:
        deploy = caffe_pb2.NetParameter()
        deploy.CopyFrom(self._deploy)
        for layer in deploy.layer:
            if layer.type == "Input":
                for shape in layer.input_param.shape:
                    shape.dim[0] = batch
        net = TorchNet(deploy, "TEST", device=self.device, seed=0)
        net.eval()
        return net

    def _check_shapes(self, net: TorchNet) -> None:
        shapes = {top: shape for layer in net.layers for top, shape in zip(layer.param.top, layer.top_shapes,
                                                                            strict=False)}
        expected = (1, *self.preprocessor.shape)
        if shapes.get(self._input) != expected:
            raise ClassifierLoadError(self.classifier_id, f"the deploy net takes {list(shapes.get(self._input, ()))}, "
                                                          f"the images are {list(expected)}")
        if OUTPUT not in shapes:
            raise ClassifierLoadError(self.classifier_id, f"the deploy net has no '{OUTPUT}' output")
        classes = int(np.prod(shapes[OUTPUT][1:]))
        if classes != len(self.labels):
            raise ClassifierLoadError(self.classifier_id, f"the net scores {classes} classes but there are "
                                                          f"{len(self.labels)} labels")


async def load_classifier(blobs: BlobStore, tenant_id: str, created: ClassifierCreated, *,
                          device: torch.device | str = "cpu", max_batch: int = MAX_BATCH) -> ClassifierModel:
    """Fetch a classifier's files from the blob store and build its model in a thread (CPU work)."""
    weights = await _read(blobs, tenant_id, created.caffemodel_path, created.classifier_id)
    mean = await _read(blobs, tenant_id, created.mean_path, created.classifier_id) if created.mean_path else None
    return await asyncio.to_thread(ClassifierModel.from_created, created, weights, mean, device=device,
                                   max_batch=max_batch)


async def _read(blobs: BlobStore, tenant_id: str, path: str, classifier_id: str) -> bytes:
    try:
        return b"".join([chunk async for chunk in blobs.get(tenant_id, path)])
    except BlobNotFound:
        raise ClassifierLoadError(classifier_id, f"its file {path} is no longer stored") from None


def _net_parameter(weights: bytes) -> Any:
    try:
        return caffe_pb2.NetParameter.FromString(weights)
    except Exception as e:  # protobuf's DecodeError and friends: not a binary NetParameter
        raise ValueError("the weights are not a binary NetParameter (a .caffemodel file)") from e


def _mean(data: bytes | None) -> FloatCHW | None:
    if data is None:
        return None
    try:
        mean = array_from_blob(caffe_pb2.BlobProto.FromString(data))
    except BlobProtoError:
        raise
    except Exception as e:  # protobuf's DecodeError: not a BlobProto at all
        raise BlobProtoError("the mean file is not a binary BlobProto (.binaryproto)") from e
    image: FloatCHW = mean[0] if mean.ndim == 4 and mean.shape[0] == 1 else mean
    return image


def _input_layer(deploy: Any) -> str:
    inputs = [layer for layer in deploy.layer if layer.type == "Input"]
    if len(inputs) != 1 or len(inputs[0].top) != 1:
        raise NetDefinitionError("a deploy net has exactly one Input layer with one top (the images)")
    top: str = inputs[0].top[0]
    return top


def _share_weights(net: TorchNet, source: TorchNet) -> None:
    """Point every blob of `net` at the same tensor in `source`: one copy of the weights for all sizes."""
    for mine, theirs in zip(net.layers, source.layers, strict=True):
        if isinstance(mine, Input):
            continue
        for blob, shared in zip(mine.blobs, theirs.blobs, strict=True):
            blob.data = shared.data
