"""Batch throughput: `ClassifierModel.classify` vs the same LeNet classified by hand-written PyTorch.

Both sides start from PNG bytes and end with the top-5 labels and probabilities, so both pay for
decoding: the hand-written side decodes with Pillow, scales, runs the module and takes softmax
and top-k, the way a PyTorch user would write it. A second pair times the forward pass alone
(prepared float batches in, probabilities out).

The sides alternate call by call within each round, so bursts of other work on a shared machine
hit both alike: the ratio is the median of the rounds' ratios. The images/s shown are each side's
best round (other work only ever slows a round down).
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from bench.classify.lenet import LABELS, SCALE
from services.worker.classify.model import ClassifierModel


@dataclass(frozen=True)
class Pair:
    ours: float  # images/s, best round
    theirs: float
    ratio: float  # median over rounds of ours / theirs, measured call by call alternately
    rounds: list[tuple[float, float]]


def by_hand(module: nn.Module) -> Callable[[list[bytes]], list[list[tuple[str, float]]]]:
    def classify(images: list[bytes]) -> list[list[tuple[str, float]]]:
        pixels = np.stack([np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32)
                           for data in images])
        with torch.inference_mode():
            scores = module(torch.from_numpy(pixels[:, None] * SCALE))
            values, indices = torch.softmax(scores, dim=1).topk(5, dim=1)
        return [[(LABELS[i], p) for p, i in zip(row_p, row_i, strict=True)]
                for row_p, row_i in zip(values.tolist(), indices.tolist(), strict=True)]

    return classify


def check_same_answers(model: ClassifierModel, module: nn.Module, images: list[bytes]) -> None:
    ours = [[(p.label, p.probability) for p in found] for found in model.classify(images, 5)]
    theirs = by_hand(module)(images)
    for mine, other in zip(ours, theirs, strict=True):
        if [label for label, _ in mine] != [label for label, _ in other]:
            raise AssertionError(f"the two sides disagree: {mine} vs {other}")


def measure(model: ClassifierModel, module: nn.Module, images: list[bytes], *, batch: int, seconds: float,
            rounds: int) -> tuple[Pair, Pair]:
    """(end to end from PNG bytes, forward pass only), images/s."""
    hand = by_hand(module)
    prepared = np.stack([model.prepare(data, "x") for data in images[:batch]])
    tensor = torch.from_numpy(prepared)

    def hand_forward() -> None:
        with torch.inference_mode():
            torch.softmax(module(tensor), dim=1)

    whole: list[tuple[float, float]] = []
    forward: list[tuple[float, float]] = []
    for _ in range(rounds):
        whole.append(_alternating(lambda: model.classify(images[:batch], 5), lambda: hand(images[:batch]), batch,
                                  seconds))
        forward.append(_alternating(lambda: model.probabilities(prepared), hand_forward, batch, seconds))
    return _pair(whole), _pair(forward)


def _alternating(ours: Callable[[], object], theirs: Callable[[], object], batch: int,
                 seconds: float) -> tuple[float, float]:
    """Images/s of each side, calling them in turn until `seconds` have passed."""
    ours(), theirs()  # warm: the net of this batch size is built on first use
    spent = [0.0, 0.0]
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for side, step in enumerate((ours, theirs)):
            begun = time.perf_counter()
            step()
            spent[side] += time.perf_counter() - begun
        calls += 1
    return batch * calls / spent[0], batch * calls / spent[1]


def _pair(rounds: list[tuple[float, float]]) -> Pair:
    return Pair(max(r[0] for r in rounds), max(r[1] for r in rounds),
                statistics.median(r[0] / r[1] for r in rounds), rounds)

