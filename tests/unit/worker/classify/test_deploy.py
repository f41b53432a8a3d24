"""Deploy nets derived from training nets: what Caffe users would write by hand, or a clear refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format

from services.worker.classify.deploy import DeployError, InputTransform, derive_deploy, input_transform
from shared.caffe.proto import caffe_pb2
from tests.unit.worker.classify.nets import PHASED, V1_NET

NETS = Path(__file__).resolve().parents[3] / "data" / "nets"
LENET = (NETS / "lenet_train_test.prototxt").read_text()
CIFAR = (NETS / "cifar10_quick_train_test.prototxt").read_text()
LABEL_IN_SCORES = """
layer { name: "d" type: "Input" top: "data" top: "label" input_param { shape { dim: 1 dim: 4 } shape { dim: 1 } } }
layer { name: "cat" type: "Concat" bottom: "data" bottom: "label" top: "both" concat_param { axis: 1 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "both" bottom: "label" top: "loss" }
"""


def parsed(text: str) -> Any:
    return text_format.Parse(text, caffe_pb2.NetParameter())


def layers(text: str) -> list[tuple[str, str, list[str], list[str]]]:
    return [(layer.name, layer.type, list(layer.bottom), list(layer.top)) for layer in parsed(text).layer]


def input_shape(text: str) -> list[int]:
    return list(parsed(text).layer[0].input_param.shape[0].dim)


def test_lenet_becomes_the_deploy_net_caffe_ships_but_for_one_image_at_a_time() -> None:
    derived = parsed(derive_deploy(LENET, channels=1, height=28, width=28))
    shipped = parsed((NETS / "lenet_deploy.prototxt").read_text())
    shipped.layer[0].input_param.shape[0].dim[0] = 1
    assert derived == shipped


def test_cifar_quick_keeps_its_layers_and_ends_in_softmax_of_ip2() -> None:
    derived = derive_deploy(CIFAR, channels=3, height=32, width=32)
    assert input_shape(derived) == [1, 3, 32, 32]
    found = layers(derived)
    assert [name for name, *_ in found] == ["data", "conv1", "pool1", "relu1", "conv2", "relu2", "pool2", "conv3",
                                            "relu3", "pool3", "ip1", "ip2", "prob"]
    assert found[-1] == ("prob", "Softmax", ["ip2"], ["prob"])
    assert all(not layer.include and not layer.exclude for layer in parsed(derived).layer)


def test_phase_rules_pick_the_test_net_and_only_what_the_scores_depend_on() -> None:
    derived = derive_deploy(PHASED, channels=3, height=12, width=12)
    assert layers(derived) == [
        ("data", "Input", [], ["data"]),
        ("conv", "Convolution", ["data"], ["conv"]),
        ("relu", "ReLU", ["conv"], ["conv"]),  # TEST by its exclude rule; the TRAIN Dropout and debug stage are out
        ("ip", "InnerProduct", ["conv"], ["ip"]),  # the main head (loss weight 1), not the 0.3 auxiliary one
        ("prob", "Softmax", ["ip"], ["prob"]),
    ]
    assert input_shape(derived) == [1, 3, 8, 8]  # the TEST data layer's crop


def test_the_input_transform_is_the_test_data_layers() -> None:
    assert input_transform(PHASED) == InputTransform(scale=0.25, mean_file=False, mean_values=(10.0, 20.0, 30.0),
                                                     crop_size=8)
    assert input_transform(LENET) == InputTransform(scale=0.00390625)
    assert input_transform(CIFAR) == InputTransform(mean_file=True)
    assert input_transform(V1_NET) == InputTransform(scale=0.0078125)  # moved out of data_param, as Caffe does


def test_a_v1_net_is_upgraded_and_keeps_its_layer_names() -> None:
    derived = derive_deploy(V1_NET, channels=1, height=2, width=3)
    assert layers(derived) == [("data", "Input", [], ["data"]), ("ip1", "InnerProduct", ["data"], ["ip1"]),
                               ("relu1", "ReLU", ["ip1"], ["ip1"]), ("ip2", "InnerProduct", ["ip1"], ["ip2"]),
                               ("prob", "Softmax", ["ip2"], ["prob"])]
    assert input_shape(derived) == [1, 1, 2, 3]


def test_an_accuracy_on_softmax_output_is_renamed_prob_instead_of_a_second_softmax() -> None:
    net = LENET.replace('name: "loss"\n  type: "SoftmaxWithLoss"', 'name: "loss"\n  type: "SoftmaxWithLoss"\n'
                        '  include { phase: TRAIN }')
    net += 'layer { name: "soft" type: "Softmax" bottom: "ip2" top: "probabilities" include { phase: TEST } }\n'
    net = net.replace('bottom: "ip2"\n  bottom: "label"\n  top: "accuracy"',
                      'bottom: "probabilities"\n  bottom: "label"\n  top: "accuracy"')
    net = _move_last_layer_before(net, 'name: "accuracy"')
    found = layers(derive_deploy(net, channels=1, height=28, width=28))
    assert found[-1] == ("soft", "Softmax", ["ip2"], ["prob"])
    assert [t for _, t, _, _ in found].count("Softmax") == 1


@pytest.mark.parametrize(("net", "words"), [
    (LENET.split('layer {\n  name: "accuracy"')[0], "no classifier output found"),
    ("name: 'x' layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'ip' }", "no data layer"),
    ("name: 'x'\nlayer { name: 'a' type: }", "does not parse"),
    (LABEL_IN_SCORES, "reads the label blob 'label'"),
    (LENET.replace('"ip1"', '"prob"'), "already has a blob named 'prob'"),
    ('name: "x" layer { name: "d" type: "ImageData" top: "data" top: "label" image_data_param { source: "l" '
     'new_height: 10 new_width: 10 } } layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
     'inner_product_param { num_output: 2 } } layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" '
     'bottom: "label" }', "resizes images again"),
])
def test_nets_without_a_usable_classifier_output_are_refused_saying_why(net: str, words: str) -> None:
    with pytest.raises(DeployError) as refused:
        derive_deploy(net, channels=1, height=28, width=28)
    assert words in refused.value.reason


def test_a_parse_error_carries_line_and_column() -> None:
    with pytest.raises(DeployError) as refused:
        derive_deploy("name: 'x'\nlayer { name: 'a' type: }", channels=1, height=2, width=2)
    assert (refused.value.line, refused.value.column) == (2, 25)


def test_mean_file_and_mean_value_together_are_refused() -> None:
    with pytest.raises(DeployError, match="both mean_file and mean_value"):
        input_transform(CIFAR.replace('mean_file: "mean.binaryproto"', 'mean_file: "m" mean_value: 3'))


def _move_last_layer_before(net: str, marker: str) -> str:
    """Put the net's last layer right before the layer holding `marker` (Caffe runs layers in order)."""
    head, _, last = net.rpartition("layer {")
    before, _, after = head.partition("layer {\n  " + marker)
    return before + "layer {" + last + "layer {\n  " + marker + after
