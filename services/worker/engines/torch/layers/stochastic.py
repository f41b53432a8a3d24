"""Stochastic pooling (Zeiler & Fergus) with the semantics of Caffe's CUDA kernels.

Caffe implements STOCHASTIC pooling on the GPU only (its CPU path is NOT_IMPLEMENTED), so the
reference is `StoPoolForwardTrain` / `StoPoolForwardTest` / `StoPoolBackward` in pooling_layer.cu:
each window starts at (ph * stride_h, pw * stride_w) and is clipped to the input, padding is not
used. TRAIN draws u in [0, 1) per output and picks the first position of the window, in row-major
order, at which the running sum reaches u * (window sum); the output is that value and the gradient
goes to that position alone. TEST outputs the activation-weighted average sum(x^2) / sum(x), the
denominator starting at FLT_MIN so an all-zero window gives 0. Inputs are meant to be
non-negative (after a ReLU), as in the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

FLT_MIN = 1.1754943508222875e-38


def windows(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
            out: tuple[int, int]) -> torch.Tensor:
    """(N, C, kh*kw, oh*ow): every window's values in row-major order; past the input edge, zeros.

    The zeros stand for the part of a window Caffe clips at the bottom/right edge (ceil rounding):
    they add nothing to a sum and, coming after the real values, never reach a threshold first.
    """
    n, c, h, w = x.shape
    bottom = max(0, (out[0] - 1) * stride[0] + kernel[0] - h)
    right = max(0, (out[1] - 1) * stride[1] + kernel[1] - w)
    padded = F.pad(x, (0, right, 0, bottom)) if bottom or right else x
    cols = F.unfold(padded.contiguous(), kernel, stride=stride)
    return cols.view(n, c, kernel[0] * kernel[1], out[0] * out[1])


def pool_test(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
              out: tuple[int, int]) -> torch.Tensor:
    """StoPoolForwardTest: sum(x^2) / (FLT_MIN + sum(x)) over each window."""
    cols = windows(x, kernel, stride, out)
    result = (cols * cols).sum(dim=2) / (cols.sum(dim=2) + FLT_MIN)
    return result.view(x.shape[0], x.shape[1], *out)


def pool_train(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int],
               draws: torch.Tensor) -> torch.Tensor:
    """StoPoolForwardTrain with the given uniform draws (N, C, oh, ow); differentiable in x."""
    cols = windows(x, kernel, stride, out)
    with torch.no_grad():
        running = cols.cumsum(dim=2)
        threshold = draws.reshape(cols.shape[0], cols.shape[1], 1, -1) * running[:, :, -1:, :]
        # The first position reaching the threshold (argmax of a bool finds the first True).
        chosen = (running >= threshold).to(torch.uint8).argmax(dim=2, keepdim=True)
    picked = cols.gather(2, chosen)
    return picked.view(x.shape[0], x.shape[1], *out)
