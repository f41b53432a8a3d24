"""Derive a classifier's deploy net from its training net, the way Caffe users write one by hand.

A training prototxt feeds images and labels from data layers and ends in a loss; the deploy net
that classifies takes one `Input` blob and ends in class probabilities. By hand, users copy the
TEST net, replace the data layers with `Input`, delete the loss and accuracy layers and add a
`Softmax` on the scores the loss consumed. Done here as a pure function on prototxt text:

- the TEST-phase net (include/exclude rules, as Caffe's Net::FilterNet decides them);
- data layers (Data, ImageData, DummyData, Input, ...) become one `Input` layer named `data` whose
  top is the blob the first data layer fed the images in, shaped (1, C, H, W) from the dataset (the
  crop size when the data layer crops);
- the scores are the first bottom of the SoftmaxWithLoss (else of the Accuracy layer); only the
  layers those scores depend on are kept, so losses, metrics, auxiliary heads and everything that
  reads a label are dropped; a layer that the scores depend on and that reads a label is an error;
- a `Softmax` layer named `prob` turns the scores into probabilities (when the scores already come
  out of a Softmax layer, that blob is renamed `prob` instead of adding a second one).

Layer names stay as they were, so a snapshot's weights load by name (Caffe's CopyTrainedLayersFrom).
Every refusal is a `DeployError` that says what is missing, for a 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import text_format

from services.worker.engines.torch.errors import NetDefinitionError, PrototxtError
from services.worker.engines.torch.netstate import filter_net
from services.worker.engines.torch.prototxt import parse_net_text
from services.worker.engines.torch.upgrade import upgrade_net
from shared.caffe.proto import caffe_pb2

SOURCE_TYPES = frozenset({"Data", "ImageData", "DummyData", "Input", "HDF5Data", "MemoryData", "WindowData",
                          "AnnotatedData", "VideoData"})
METRIC_TYPES = frozenset({"Accuracy"})
INPUT_LAYER = "data"
OUTPUT = "prob"


class DeployError(Exception):
    """Why no deploy net can be derived from a training net (the API answers 422)."""

    def __init__(self, reason: str, *, layer: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.layer = layer
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        return f"DeployError({self.reason!r}, layer={self.layer!r}, line={self.line!r}, column={self.column!r})"


@dataclass(frozen=True)
class InputTransform:
    """What the TEST net's data layer did to every image (Caffe's transform_param at TEST)."""

    scale: float = 1.0
    mean_file: bool = False  # subtract the dataset's mean image
    mean_values: tuple[float, ...] = ()
    crop_size: int = 0  # centre crop, 0: none


def test_net(net_text: str) -> Any:
    """The TEST-phase NetParameter of a training prototxt (current `layer` form)."""
    try:
        return filter_net(upgrade_net(parse_net_text(net_text, path="net.prototxt")), "TEST")
    except PrototxtError as e:
        raise DeployError(f"the training net does not parse: {e}", line=e.line, column=e.column) from None
    except NetDefinitionError as e:
        raise DeployError(f"the training net is not valid: {e.message}", layer=e.layer) from None


def input_transform(net_text: str) -> InputTransform:
    """How the TEST net's data layer transformed images: the preprocessing a classifier repeats."""
    source = _image_source(test_net(net_text))
    param = source.transform_param
    if param.HasField("mean_file") and param.mean_value:
        raise DeployError(f"data layer '{source.name}' gives both mean_file and mean_value", layer=source.name)
    return InputTransform(scale=float(param.scale), mean_file=param.HasField("mean_file"),
                          mean_values=tuple(float(v) for v in param.mean_value), crop_size=int(param.crop_size))


def derive_deploy(net_text: str, *, channels: int, height: int, width: int) -> str:
    """The deploy prototxt of a training prototxt, for images of (channels, height, width)."""
    net = test_net(net_text)
    source = _image_source(net)
    image_blob = source.top[0]
    labels = {top for layer in net.layer if layer.type in SOURCE_TYPES for top in layer.top} - {image_blob}
    scores, already_probabilities = _scores(net)
    kept = _needed_layers(net, scores, image_blob, labels)
    deploy = caffe_pb2.NetParameter(name=net.name)
    crop = int(source.transform_param.crop_size)
    _check_resize(source)
    shape = (1, channels, crop or height, crop or width)
    deploy.layer.add(name=INPUT_LAYER, type="Input", top=[image_blob]).input_param.shape.add(dim=list(shape))
    for layer in kept:
        copy = deploy.layer.add()
        copy.CopyFrom(layer)
        for field in ("include", "exclude", "blobs", "phase"):
            copy.ClearField(field)
    _finish_output(deploy, scores, already_probabilities)
    return str(text_format.MessageToString(deploy))


def _image_source(net: Any) -> Any:
    for layer in net.layer:
        if layer.type in SOURCE_TYPES:
            if not layer.top:
                raise DeployError(f"data layer '{layer.name}' has no top blob", layer=layer.name)
            return layer
    raise DeployError("the TEST net has no data layer (Data, ImageData, Input, ...): nothing says where images "
                      "enter the net")


def _scores(net: Any) -> tuple[str, bool]:
    """The blob of class scores, and whether a Softmax layer already made it probabilities.

    With several losses (GoogLeNet's auxiliary heads weigh 0.3, its main head 1) the heaviest wins,
    the last of equals (the deepest head); without a loss in TEST, the last Accuracy layer's scores.
    """
    indexed = list(enumerate(net.layer))
    losses = [(_weight(layer), index, layer) for index, layer in indexed if layer.type == "SoftmaxWithLoss"]
    metrics = [(0.0, index, layer) for index, layer in indexed if layer.type in METRIC_TYPES]
    candidates = [c for c in (losses or metrics) if c[2].bottom]
    if not candidates:
        raise DeployError("no classifier output found: the TEST net has no SoftmaxWithLoss or Accuracy layer whose "
                          "first bottom would be the class scores")
    _, _, layer = max(candidates, key=lambda c: (c[0], c[1]))
    blob = layer.bottom[0]
    return blob, _last_writer_type(net, blob, before=layer) == "Softmax"


def _weight(layer: Any) -> float:
    return float(layer.loss_weight[0]) if layer.loss_weight else 1.0


def _last_writer_type(net: Any, blob: str, *, before: Any) -> str | None:
    found = None
    for layer in net.layer:
        if layer is before:
            break
        if blob in layer.top:
            found = layer.type
    return found


def _needed_layers(net: Any, scores: str, image_blob: str, labels: set[str]) -> list[Any]:
    """The layers the scores depend on, in order, walking back from the scores to the image blob.

    Walking backwards handles in-place layers (ReLU on `ip1`): the writer of a needed blob is kept
    and its bottoms become needed, and an earlier writer of the same blob is needed only through it.
    The walk starts at the first loss or metric that reads the scores: what comes after it never
    reached them.
    """
    needed, kept = {scores}, []
    position = _first_use(net, scores)
    for layer in reversed(list(net.layer)[:position]):
        if layer.type in SOURCE_TYPES or not needed.intersection(layer.top):
            continue
        tainted = labels.intersection(layer.bottom)
        if tainted:
            raise DeployError(f"the class scores '{scores}' depend on layer '{layer.name}', which reads the label "
                              f"blob '{sorted(tainted)[0]}'", layer=layer.name)
        needed.update(layer.bottom)
        kept.append(layer)
    if image_blob not in needed:
        raise DeployError(f"the class scores '{scores}' do not depend on the image blob '{image_blob}'")
    return kept[::-1]


def _first_use(net: Any, scores: str) -> int:
    """Index of the first layer that consumes the scores as a loss or metric: the net is cut there."""
    for index, layer in enumerate(net.layer):
        if (layer.type == "SoftmaxWithLoss" or layer.type in METRIC_TYPES) and layer.bottom[:1] == [scores]:
            return index
    return len(net.layer)  # pragma: no cover - `_scores` found such a layer


def _finish_output(deploy: Any, scores: str, already_probabilities: bool) -> None:
    blobs = {blob for layer in deploy.layer for blob in (*layer.top, *layer.bottom)}
    if already_probabilities:
        if scores != OUTPUT and OUTPUT in blobs:
            raise DeployError(f"the net already has a blob named '{OUTPUT}' that is not its output")
        for layer in deploy.layer:
            layer.bottom[:] = [OUTPUT if b == scores else b for b in layer.bottom]
            layer.top[:] = [OUTPUT if t == scores else t for t in layer.top]
        return
    if OUTPUT in blobs:
        raise DeployError(f"the net already has a blob named '{OUTPUT}'; the deploy net's output needs that name")
    deploy.layer.add(name=OUTPUT, type="Softmax", bottom=[scores], top=[OUTPUT])


def _check_resize(source: Any) -> None:
    """An ImageData layer that resizes again would need a second resize the dataset never did."""
    if source.type == "ImageData" and (source.image_data_param.new_height or source.image_data_param.new_width):
        raise DeployError(f"data layer '{source.name}' resizes images again (new_height/new_width): classifiers use "
                          "the dataset's image size; remove them and size the dataset instead", layer=source.name)
