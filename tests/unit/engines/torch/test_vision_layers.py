"""Convolution, Deconvolution, Pooling and LRN: Caffe's size rules and formulas."""

from __future__ import annotations

import pytest
import torch

from services.worker.engines.torch import NetDefinitionError
from tests.unit.engines.torch.nets import build, run


def shapes_of(layer: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    net = build(layer, {"x": shape})
    return net.describe()[-1][2][0]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("pool: MAX kernel_size: 3 stride: 2", (1, 1, 4, 4)),  # ceil((7-3)/2)+1 = 3 ... on 8: ceil(2.5)+1 = 4
        ("pool: MAX kernel_size: 3 stride: 2 pad: 1", (1, 1, 5, 5)),
        ("pool: MAX kernel_size: 2 stride: 2 pad: 1", (1, 1, 5, 5)),  # last window would start in padding: clipped
        ("pool: AVE global_pooling: true", (1, 1, 1, 1)),
        ("pool: MAX kernel_size: 3 stride: 2 ceil_mode: false", (1, 1, 3, 3)),
    ],
)
def test_pooling_output_sizes_round_like_caffe(params: str, expected: tuple[int, ...]) -> None:
    layer = f'layer {{ name: "p" type: "Pooling" bottom: "x" top: "y" pooling_param {{ {params} }} }}'
    assert shapes_of(layer, (1, 1, 8, 8)) == expected


def test_average_pooling_divides_by_the_window_clipped_to_the_padded_input() -> None:
    net = build('layer { name: "p" type: "Pooling" bottom: "x" top: "y" '
                "pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }", {"x": (1, 1, 4, 4)})
    y = run(net, x=torch.ones(1, 1, 4, 4))["y"]
    # Top-left window covers 2x2 real pixels of a 3x3 window: 4/9. The bottom-right window starts at
    # row 3 and is clipped to height + pad = 5, so it spans 2 rows and 2 columns: 1/4 of 4 cells, 1 real.
    assert y.shape == (1, 1, 3, 3)
    assert y[0, 0, 0, 0].item() == pytest.approx(4 / 9)
    assert y[0, 0, 2, 2].item() == pytest.approx(1 / 4)
    assert y[0, 0, 1, 1].item() == pytest.approx(1.0)


def test_max_pooling_with_pad_over_half_the_kernel_uses_the_exact_path() -> None:
    net = build('layer { name: "p" type: "Pooling" bottom: "x" top: "y" '
                "pooling_param { pool: MAX kernel_size: 3 pad: 2 } }", {"x": (1, 1, 3, 3)})
    x = torch.arange(9.0).reshape(1, 1, 3, 3) - 20
    y = run(net, x=x)["y"]
    assert y.shape == (1, 1, 5, 5)
    assert y[0, 0, 0, 0].item() == x[0, 0, 0, 0].item()  # only one real pixel in the corner window
    assert y[0, 0, 4, 4].item() == x[0, 0, 2, 2].item()


def test_convolution_forms_and_group_shapes() -> None:
    net = build('layer { name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 6 '
                "kernel_h: 3 kernel_w: 1 pad_h: 1 stride_h: 1 stride_w: 2 group: 2 } }",
                {"x": (2, 4, 5, 7)})
    assert net.describe()[-1][2] == [(2, 6, 5, 4)]
    assert tuple(net.learnable_params[0].param.shape) == (6, 2, 3, 1)


def test_deconvolution_output_size_and_weight_layout() -> None:
    net = build('layer { name: "d" type: "Deconvolution" bottom: "x" top: "y" convolution_param { num_output: 3 '
                "kernel_size: 4 stride: 2 pad: 1 } }", {"x": (1, 5, 6, 6)})
    assert net.describe()[-1][2] == [(1, 3, 12, 12)]
    assert tuple(net.learnable_params[0].param.shape) == (5, 3, 4, 4)


def test_lrn_within_channel_formula() -> None:
    net = build('layer { name: "n" type: "LRN" bottom: "x" top: "y" lrn_param { local_size: 3 alpha: 0.9 '
                "beta: 0.5 norm_region: WITHIN_CHANNEL } }", {"x": (1, 1, 3, 3)})
    x = torch.full((1, 1, 3, 3), 2.0)
    y = run(net, x=x)["y"]
    # centre: mean of 9 squares = 4 -> 2 * (1 + 0.9 * 4) ** -0.5 ; corner: 4 of 9 cells real -> mean 16/9
    assert y[0, 0, 1, 1].item() == pytest.approx(2 * (1 + 0.9 * 4) ** -0.5, rel=1e-6)
    assert y[0, 0, 0, 0].item() == pytest.approx(2 * (1 + 0.9 * 16 / 9) ** -0.5, rel=1e-6)


def test_lrn_across_channels_formula() -> None:
    net = build('layer { name: "n" type: "LRN" bottom: "x" top: "y" lrn_param { local_size: 3 alpha: 3 '
                "beta: 1 k: 2 } }", {"x": (1, 3, 1, 1)})
    x = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    y = run(net, x=x)["y"].flatten()
    assert y[1].item() == pytest.approx(2 / (2 + 3 / 3 * (1 + 4 + 9)), rel=1e-6)
    assert y[0].item() == pytest.approx(1 / (2 + 3 / 3 * (1 + 4)), rel=1e-6)


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ('type: "Pooling" pooling_param { kernel_size: 2 pad: 2 }', "pad .* must be smaller than the kernel"),
        ('type: "Pooling" pooling_param { global_pooling: true kernel_size: 2 }', "kernel size must not be given"),
        ('type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 2 pad: 1 }', "STOCHASTIC pooling takes no pad"),
        ('type: "Convolution" convolution_param { num_output: 3 kernel_size: 2 group: 2 }', "group 2 must divide"),
        ('type: "Convolution" convolution_param { num_output: 3 kernel_size: 9 }', "larger than the input"),
        ('type: "Convolution" convolution_param { num_output: 3 }', "kernel_size must be given"),
        ('type: "LRN" lrn_param { local_size: 4 }', "odd values"),
    ],
)
def test_bad_parameters_name_the_layer(layer: str, message: str) -> None:
    with pytest.raises(NetDefinitionError, match=message) as raised:
        build(f'layer {{ name: "bad" {layer} bottom: "x" top: "y" }}', {"x": (1, 3, 4, 4)})
    assert raised.value.layer == "bad"
    assert "'bad'" in str(raised.value)
