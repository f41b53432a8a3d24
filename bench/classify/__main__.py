"""`python -m bench.classify`: classify latency over HTTP and batch throughput, one markdown table.

    python -m bench.classify [--requests N] [--batch B] [--seconds S] [--rounds R]

- latency: one image per request over real HTTP with the model warm (target p50 <= 30 ms for LeNet);
- throughput: `ClassifierModel.classify` on batches of B PNGs vs hand-written PyTorch on the same
  LeNet and weights (target >= 0.8x), plus the forward pass alone, side by side in one run.
The load average is printed with the table: timings on a shared machine mean little without it.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import torch

from bench.classify import latency, throughput
from bench.classify.lenet import DEPLOY, LABELS, caffemodel, digits, handwritten
from services.storage.images import ColorMode, ResizeMode
from services.worker.classify.model import ClassifierModel
from services.worker.classify.preprocess import Preprocessor

P50_TARGET_MS = 30.0
RATIO_TARGET = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed single-image requests")
    parser.add_argument("--batch", type=int, default=64, help="images per classify call in the throughput part")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one throughput round")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds")
    args = parser.parse_args()
    load_before = os.getloadavg()
    timed = asyncio.run(latency.measure(args.requests))
    weights = caffemodel()
    model = ClassifierModel(DEPLOY, weights, LABELS, Preprocessor(
        height=28, width=28, resize_mode=ResizeMode.SQUASH, color=ColorMode.GRAY, scale=0.00390625))
    module = handwritten(weights)
    images = digits(args.batch)
    throughput.check_same_answers(model, module, images)
    whole, forward = throughput.measure(model, module, images, batch=args.batch, seconds=args.seconds,
                                        rounds=args.rounds)
    load_after = os.getloadavg()
    print(f"LeNet, CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after\n")
    print("| measurement | ours | hand-written PyTorch | ratio | target |")
    print("|---|---:|---:|---:|---|")
    met = "met" if timed.p50_ms <= P50_TARGET_MS else "**missed**"
    print(f"| single image over HTTP, warm model: p50 / p95 / mean (ms), {timed.requests} requests "
          f"| {timed.p50_ms:.2f} / {timed.p95_ms:.2f} / {timed.mean_ms:.2f} | | | p50 <= {P50_TARGET_MS:g}: {met} |")
    for title, pair in ((f"classify {args.batch} PNGs -> top-5 (images/s)", whole),
                        (f"forward pass alone, batch {args.batch} (images/s)", forward)):
        target = f">= {RATIO_TARGET}: {'met' if pair.ratio >= RATIO_TARGET else '**missed**'}" \
            if pair is whole else ""
        print(f"| {title} | {pair.ours:,.0f} | {pair.theirs:,.0f} | {pair.ratio:.2f}x | {target} |")
    print("\nrounds (ours / hand-written, images/s): classify "
          + ", ".join(f"{a:,.0f}/{b:,.0f}" for a, b in whole.rounds) + "; forward "
          + ", ".join(f"{a:,.0f}/{b:,.0f}" for a, b in forward.rounds))


if __name__ == "__main__":
    main()
