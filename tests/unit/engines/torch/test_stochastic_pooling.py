"""STOCHASTIC pooling against a line-by-line transcription of Caffe's CUDA kernels.

Real Caffe has no CPU implementation of STOCHASTIC pooling (its CPU path is NOT_IMPLEMENTED), so
the parity reference is pooling_layer.cu's StoPoolForwardTest / StoPoolForwardTrain /
StoPoolBackward written out below as plain loops over float32 values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from services.worker.engines.torch.layers.stochastic import pool_test, pool_train
from tests.unit.engines.torch.nets import build, run

FLT_MIN = np.float32(1.17549435e-38)
KERNEL, STRIDE = (3, 3), (2, 2)
OUT = (4, 4)  # 8x8 input: ceil((8 - 3) / 2) + 1 = 4, the last window clipped to one column/row less


def _caffe_windows(h: int, w: int) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """(ph, pw, positions in Caffe's loop order) for every output."""
    result = []
    for ph in range(OUT[0]):
        for pw in range(OUT[1]):
            hstart, wstart = ph * STRIDE[0], pw * STRIDE[1]
            hend, wend = min(hstart + KERNEL[0], h), min(wstart + KERNEL[1], w)
            result.append((ph, pw, [(y, x) for y in range(hstart, hend) for x in range(wstart, wend)]))
    return result


def caffe_test(bottom: np.ndarray) -> np.ndarray:
    n, c, h, w = bottom.shape
    top = np.zeros((n, c, *OUT), dtype=np.float32)
    for i in range(n):
        for j in range(c):
            for ph, pw, positions in _caffe_windows(h, w):
                cumsum, cumvalues = FLT_MIN, np.float32(0)
                for y, x in positions:
                    value = bottom[i, j, y, x]
                    cumsum = np.float32(cumsum + value)
                    cumvalues = np.float32(cumvalues + value * value)
                top[i, j, ph, pw] = cumvalues / cumsum
    return top


def caffe_train(bottom: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The forward output and, per output, the (y, x) it took (Caffe's rand_idx)."""
    n, c, h, w = bottom.shape
    top = np.zeros((n, c, *OUT), dtype=np.float32)
    taken = np.zeros((n, c, *OUT, 2), dtype=np.int64)
    for i in range(n):
        for j in range(c):
            for ph, pw, positions in _caffe_windows(h, w):
                cumsum = np.float32(0)
                for y, x in positions:
                    cumsum = np.float32(cumsum + bottom[i, j, y, x])
                threshold = np.float32(draws[i, j, ph, pw] * cumsum)
                cumsum = np.float32(0)
                for y, x in positions:
                    cumsum = np.float32(cumsum + bottom[i, j, y, x])
                    if cumsum >= threshold:
                        top[i, j, ph, pw] = bottom[i, j, y, x]
                        taken[i, j, ph, pw] = (y, x)
                        break
    return top, taken


def caffe_backward(shape: tuple[int, ...], taken: np.ndarray, top_diff: np.ndarray) -> np.ndarray:
    """StoPoolBackward: each bottom element sums the top diffs of the windows that took it."""
    diff = np.zeros(shape, dtype=np.float32)
    for i, j, ph, pw in np.ndindex(*top_diff.shape):
        y, x = taken[i, j, ph, pw]
        diff[i, j, y, x] += top_diff[i, j, ph, pw]
    return diff


def _activations(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.maximum(rng.normal(size=(2, 3, 8, 8)), 0).astype(np.float32)  # ReLU'd: many exact zeros
    values[0, 0, :3, :3] = 0  # a whole window of zeros
    return values


def test_test_phase_is_caffes_activation_weighted_average() -> None:
    bottom = _activations(0)
    ours = pool_test(torch.from_numpy(bottom), KERNEL, STRIDE, OUT).numpy()
    np.testing.assert_allclose(ours, caffe_test(bottom), rtol=2e-6, atol=1e-30)
    assert ours[0, 0, 0, 0] == 0.0


def test_train_phase_takes_the_value_caffe_takes_for_the_same_draws_and_routes_the_gradient_there() -> None:
    bottom = _activations(1)
    draws = (1.0 - np.random.default_rng(2).random((2, 3, *OUT))).astype(np.float32)
    draws[1, 2, 3, 3] = 1.0  # the threshold is the whole sum: the last non-zero value is taken
    expected, taken = caffe_train(bottom, draws)
    x = torch.from_numpy(bottom).requires_grad_()
    ours = pool_train(x, KERNEL, STRIDE, OUT, torch.from_numpy(draws))
    np.testing.assert_array_equal(ours.detach().numpy(), expected)
    top_diff = np.random.default_rng(3).normal(size=expected.shape).astype(np.float32)
    torch.autograd.backward(ours, torch.from_numpy(top_diff))
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), caffe_backward(bottom.shape, taken, top_diff), rtol=1e-6)


def test_train_phase_samples_each_position_in_proportion_to_its_value() -> None:
    net = build('layer { name: "p" type: "Pooling" bottom: "x" top: "y" '
                "pooling_param { pool: STOCHASTIC kernel_size: 2 stride: 2 } }", {"x": (1, 1, 2, 2)},
                phase="TRAIN", seed=7)
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    picks = [run(net, x=x)["y"].item() for _ in range(4000)]
    counts = {value: picks.count(value) / len(picks) for value in (1.0, 2.0, 3.0, 4.0)}
    assert sum(counts.values()) == 1.0  # every output is one of the window's values
    for value, share in counts.items():
        assert share == pytest.approx(value / 10, abs=0.03), counts


def test_a_net_samples_the_same_way_for_the_same_seed_and_averages_in_test_phase() -> None:
    layer = ('layer { name: "p" type: "Pooling" bottom: "x" top: "y" '
             "pooling_param { pool: STOCHASTIC kernel_size: 3 stride: 2 } }")
    x = torch.from_numpy(_activations(4))
    first, second = (build(layer, {"x": (2, 3, 8, 8)}, phase="TRAIN", seed=5) for _ in range(2))
    assert torch.equal(run(first, x=x)["y"], run(second, x=x)["y"])
    tested = build(layer, {"x": (2, 3, 8, 8)}, phase="TEST")
    assert torch.equal(run(tested, x=x)["y"], pool_test(x, KERNEL, STRIDE, OUT))
