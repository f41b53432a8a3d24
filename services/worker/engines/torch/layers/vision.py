"""Spatial layers: Convolution, Deconvolution, Pooling, LRN (2-D, NCHW), with Caffe's size rules.

Convolution maps directly onto torch's kernels (same weight layout). Pooling differs from torch
in corner cases (Caffe rounds output sizes up and clips the last window; AVE divides by the
window clipped to the padded input), so the fast torch path is used only where its size formula
provably equals Caffe's, and an exact padded fallback otherwise. STOCHASTIC pooling follows Caffe's
GPU kernels (layers/stochastic.py); on the CPU, convolution and pooling run channels-last
(layers/layout.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from services.worker.engines.torch.layers.base import BuildContext, Layer, Shape, spatial_pair
from services.worker.engines.torch.layers.layout import channels_last
from services.worker.engines.torch.layers.stochastic import pool_test, pool_train
from shared.caffe.proto import caffe_pb2

FLT_MAX = 3.4028234663852886e38
_MAX, _AVE, _STOCHASTIC = (caffe_pb2.PoolingParameter.MAX, caffe_pb2.PoolingParameter.AVE,
                           caffe_pb2.PoolingParameter.STOCHASTIC)


def _opt(message: Any, field: str) -> int | None:
    return int(getattr(message, field)) if message.HasField(field) else None


def _same(x: torch.Tensor) -> torch.Tensor:
    return x


class _ConvBase(Layer):
    """Shared parameter handling of Convolution and Deconvolution (n bottoms -> n tops, one weight)."""

    bottom_range = (1, None)
    top_range = (1, None)

    def __init__(self, param: Any, bottom_shapes: Sequence[Shape], ctx: BuildContext) -> None:
        super().__init__(param, bottom_shapes, ctx)
        p = param.convolution_param
        shape = self.bottom_shapes[0]
        if len(param.top) != len(param.bottom):
            raise self.fail("needs as many tops as bottoms")
        if any(s != shape for s in self.bottom_shapes):
            raise self.shape_error("all bottoms must have the same shape")
        if p.axis not in (1, -3) or len(shape) != 4:
            raise self.shape_error("only 2-D convolution of N x C x H x W blobs (axis 1) is supported")
        self.kernel = spatial_pair(p.kernel_size, None, _opt(p, "kernel_h"), _opt(p, "kernel_w"), None,
                                   "kernel_size", self)
        pad_h, pad_w = _opt(p, "pad_h"), _opt(p, "pad_w")
        if (pad_h is None) != (pad_w is None):  # Caffe's convolution reads a missing pad_h/pad_w as 0
            pad_h, pad_w = pad_h or 0, pad_w or 0
        self.pad = spatial_pair(p.pad, None, pad_h, pad_w, 0, "pad", self)
        self.stride = spatial_pair(p.stride, None, _opt(p, "stride_h"), _opt(p, "stride_w"), 1, "stride", self)
        self.dilation = spatial_pair(p.dilation, None, None, None, 1, "dilation", self)
        if min(self.kernel) <= 0 or min(self.stride) <= 0 or min(self.dilation) <= 0:
            raise self.fail("kernel, stride and dilation must be positive")
        self.groups = int(p.group)
        self.channels = shape[1]
        self.num_output = int(p.num_output)
        if self.num_output <= 0:
            raise self.fail("num_output must be positive")
        if self.channels % self.groups or self.num_output % self.groups:
            raise self.shape_error(
                f"group {self.groups} must divide both the input channels and num_output {self.num_output}"
            )
        self.bias_term = bool(p.bias_term)

    def _extent(self, axis: int) -> int:
        return self.dilation[axis] * (self.kernel[axis] - 1) + 1

    def _add_blobs(self, weight_shape: Shape, ctx: BuildContext) -> None:
        p = self.param.convolution_param
        self.add_blob(weight_shape, p.weight_filler, ctx)
        if self.bias_term:
            self.add_blob((self.num_output,), p.bias_filler, ctx)

    def _bias(self) -> torch.Tensor | None:
        return self.blobs[1] if self.bias_term else None


class Convolution(_ConvBase):
    type_name = "Convolution"

    def __init__(self, param: Any, bottom_shapes: Sequence[Shape], ctx: BuildContext) -> None:
        super().__init__(param, bottom_shapes, ctx)
        n, _, h, w = self.bottom_shapes[0]
        out = [
            (size + 2 * self.pad[i] - self._extent(i)) // self.stride[i] + 1 for i, size in enumerate((h, w))
        ]
        if min(out) <= 0:
            raise self.shape_error(f"kernel {self.kernel} with pad {self.pad} is larger than the input")
        self.top_shapes = [(n, self.num_output, out[0], out[1])] * len(param.top)
        self._add_blobs((self.num_output, self.channels // self.groups, *self.kernel), ctx)

    def forward(self, *bottoms: torch.Tensor) -> Sequence[torch.Tensor]:
        weight, bias = self.blobs[0], self._bias()
        # Channels-last (on the CPU) except for a single input channel: see layers/layout.py.
        prepare = channels_last if self.channels > 1 else _same
        return tuple(
            F.conv2d(prepare(x), weight, bias, self.stride, self.pad, self.dilation, self.groups)
            for x in bottoms
        )


class Deconvolution(_ConvBase):
    type_name = "Deconvolution"

    def __init__(self, param: Any, bottom_shapes: Sequence[Shape], ctx: BuildContext) -> None:
        super().__init__(param, bottom_shapes, ctx)
        n, _, h, w = self.bottom_shapes[0]
        out = [
            self.stride[i] * (size - 1) + self._extent(i) - 2 * self.pad[i] for i, size in enumerate((h, w))
        ]
        if min(out) <= 0:
            raise self.shape_error(f"pad {self.pad} leaves no output")
        self.top_shapes = [(n, self.num_output, out[0], out[1])] * len(param.top)
        self._add_blobs((self.channels, self.num_output // self.groups, *self.kernel), ctx)

    def forward(self, *bottoms: torch.Tensor) -> Sequence[torch.Tensor]:
        weight, bias = self.blobs[0], self._bias()
        return tuple(
            F.conv_transpose2d(x, weight, bias, self.stride, self.pad, 0, self.groups, self.dilation)
            for x in bottoms
        )


class Pooling(Layer):
    type_name = "Pooling"
    divisor: torch.Tensor
    top_range = (1, 1)

    def __init__(self, param: Any, bottom_shapes: Sequence[Shape], ctx: BuildContext) -> None:
        super().__init__(param, bottom_shapes, ctx)
        p = param.pooling_param
        shape = self.bottom_shapes[0]
        if len(shape) != 4:
            raise self.shape_error("Pooling needs a N x C x H x W bottom")
        n, c, h, w = shape
        self.method = p.pool
        if self.method not in (_MAX, _AVE, _STOCHASTIC):
            raise self.fail(f"unknown pooling method {self.method}")
        if p.global_pooling:
            if p.HasField("kernel_size") or p.HasField("kernel_h") or p.HasField("kernel_w"):
                raise self.fail("with global_pooling, the kernel size must not be given")
            self.kernel = (h, w)
        else:
            self.kernel = spatial_pair((), _opt(p, "kernel_size"), _opt(p, "kernel_h"), _opt(p, "kernel_w"),
                                       None, "kernel_size", self)
        self.pad = spatial_pair((), _opt(p, "pad"), _opt(p, "pad_h"), _opt(p, "pad_w"), 0, "pad", self)
        self.stride = spatial_pair((), _opt(p, "stride"), _opt(p, "stride_h"), _opt(p, "stride_w"), 1,
                                   "stride", self)
        if p.global_pooling and (self.pad != (0, 0) or self.stride != (1, 1)):
            raise self.fail("with global_pooling, pad must be 0 and stride 1")
        if self.pad[0] >= self.kernel[0] or self.pad[1] >= self.kernel[1]:
            raise self.fail(f"pad {self.pad} must be smaller than the kernel {self.kernel}")
        if self.method == _STOCHASTIC:
            if self.pad != (0, 0):
                raise self.fail("STOCHASTIC pooling takes no pad (Caffe's kernels place windows without it)")
            # TRAIN samples (from a generator seeded off the net's seed); TEST takes the weighted average.
            self.sampling = ctx.phase == caffe_pb2.TRAIN
            self.seed = int(torch.randint(0, 2**62, (1,), generator=ctx.data_generator))
            self.generators: dict[torch.device, torch.Generator] = {}
        self.ceil_mode = bool(p.ceil_mode)
        self.out = (self._pooled(h, 0), self._pooled(w, 1))
        if min(self.out) <= 0:
            raise self.shape_error(f"kernel {self.kernel} is larger than the padded input")
        self.top_shapes = [(n, c, *self.out)]
        torch_out = tuple(self._torch_pooled(size, i) for i, size in enumerate((h, w)))
        self.fast = torch_out == self.out and all(self.pad[i] <= self.kernel[i] // 2 for i in (0, 1))
        if not self.fast and self.method == _AVE:
            self.register_buffer("divisor", self._divisors(h, w), persistent=False)

    def _pooled(self, size: int, axis: int) -> int:
        """PoolingLayer::Reshape's output size, including the clip of a window starting in the padding."""
        k, p, s = self.kernel[axis], self.pad[axis], self.stride[axis]
        rounding = math.ceil if self.ceil_mode else math.floor
        pooled = int(rounding((size + 2 * p - k) / s)) + 1
        if p and (pooled - 1) * s >= size + p:
            pooled -= 1
        return pooled

    def _torch_pooled(self, size: int, axis: int) -> int:
        k, p, s = self.kernel[axis], self.pad[axis], self.stride[axis]
        if self.ceil_mode:
            pooled = -(-(size + 2 * p - k) // s) + 1
            return pooled - 1 if (pooled - 1) * s >= size + p else pooled
        return (size + 2 * p - k) // s + 1

    def _divisors(self, h: int, w: int) -> torch.Tensor:
        """Caffe's AVE divisor per output: the window clipped to the padded input."""
        sizes = []
        for axis, size in enumerate((h, w)):
            k, p, s = self.kernel[axis], self.pad[axis], self.stride[axis]
            sizes.append([min(o * s - p + k, size + p) - (o * s - p) for o in range(self.out[axis])])
        return torch.tensor(sizes[0], dtype=torch.float32)[:, None] * torch.tensor(sizes[1])[None, :]

    def forward(self, *bottoms: torch.Tensor) -> Sequence[torch.Tensor]:
        x = bottoms[0]
        if self.method == _STOCHASTIC:
            return (self._stochastic(x),)
        if self.fast:
            # torch's CPU pooling kernels are several times faster on channels-last data.
            x = channels_last(x)
        if self.method == _MAX:
            if self.fast:
                return (F.max_pool2d(x, self.kernel, self.stride, self.pad, ceil_mode=self.ceil_mode),)
            return (self._padded(x, -FLT_MAX, F.max_pool2d),)
        if self.fast:
            return (F.avg_pool2d(x, self.kernel, self.stride, self.pad, ceil_mode=self.ceil_mode),)
        sums = self._padded(x, 0.0, lambda t, k, s: F.avg_pool2d(t, k, s, divisor_override=1))
        return (sums / self.divisor,)

    def _stochastic(self, x: torch.Tensor) -> torch.Tensor:
        if not self.sampling:
            return pool_test(x, self.kernel, self.stride, self.out)
        generator = self.generators.get(x.device)
        if generator is None:
            generator = self.generators[x.device] = torch.Generator(device=x.device).manual_seed(self.seed)
        # 1 - U[0, 1) is U(0, 1], the range of Caffe's curand draws.
        draws = 1.0 - torch.rand(self.top_shapes[0], generator=generator, device=x.device, dtype=x.dtype)
        return pool_train(x, self.kernel, self.stride, self.out, draws)

    def _padded(self, x: torch.Tensor, value: float, pool: Any) -> torch.Tensor:
        """Pad explicitly (left by pad, right as far as the last window reaches), then pool unpadded."""
        right = [
            max(0, (self.out[i] - 1) * self.stride[i] + self.kernel[i] - size - self.pad[i])
            for i, size in enumerate(x.shape[2:])
        ]
        padded = F.pad(x, (self.pad[1], right[1], self.pad[0], right[0]), value=value)
        pooled: torch.Tensor = pool(padded, self.kernel, self.stride)
        return pooled[:, :, : self.out[0], : self.out[1]]


class LRN(Layer):
    """Local response normalisation; ACROSS_CHANNELS is torch's formula, WITHIN_CHANNEL Caffe's recipe."""

    type_name = "LRN"

    def __init__(self, param: Any, bottom_shapes: Sequence[Shape], ctx: BuildContext) -> None:
        super().__init__(param, bottom_shapes, ctx)
        p = param.lrn_param
        if len(self.bottom_shapes[0]) != 4:
            raise self.shape_error("LRN needs a N x C x H x W bottom")
        if p.local_size % 2 == 0:
            raise self.fail("LRN only supports odd values for local_size")
        self.size, self.alpha, self.beta, self.k = int(p.local_size), float(p.alpha), float(p.beta), float(p.k)
        self.across = p.norm_region == caffe_pb2.LRNParameter.ACROSS_CHANNELS
        self.top_shapes = [self.bottom_shapes[0]]

    def forward(self, *bottoms: torch.Tensor) -> Sequence[torch.Tensor]:
        x = bottoms[0]
        if self.across:  # torch's implementation views its input, so it must be NCHW-contiguous
            return (F.local_response_norm(x.contiguous(), self.size, self.alpha, self.beta, self.k),)
        # Caffe builds WITHIN_CHANNEL from Power(x^2) -> AVE pool (pad (n-1)/2) -> Power(1 + alpha*.)^-beta.
        average = F.avg_pool2d(x * x, self.size, 1, (self.size - 1) // 2, count_include_pad=True)
        return (x * torch.pow(1.0 + self.alpha * average, -self.beta),)


LAYERS: tuple[type[Layer], ...] = (Convolution, Deconvolution, Pooling, LRN)
