"""How far float32 rounding alone moves a CIFAR-10 quick loss curve: `python -m bench.engines.divergence`.

Our engine and real Caffe sum in different orders, so their float32 results differ in the last bit.
Whether a later gap between their loss curves is such rounding, amplified by training, or a real
difference in semantics is measured here with an ensemble: each engine trains from Caffe's initial
weights and from copies of them moved by one float32 ulp (at random, per value). Caffe against
itself from a one-ulp-moved start is the yardstick: a gap between the engines no larger than that is
rounding. Our engine in float64 shows how far either float32 curve is from the exact one.

Data: the parity test's deterministic synthetic CIFAR-shaped LMDB (400 train / 1,000 test images).
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

NETS = Path(__file__).resolve().parents[2] / "tests" / "data" / "nets"
TEST_BATCHES = 40


def synthetic_cifar(folder: Path, count: int, seed: int) -> Path:
    """Class-dependent colour blobs plus noise: deterministic, learnable, CIFAR-shaped (3x32x32).

    Writes `cifar_<seed>_lmdb` and, once per folder, `mean.binaryproto` of the first set written.
    """
    from shared.caffe.binaryproto import write_mean
    from shared.caffe.datum_lmdb import write_datum_lmdb

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    grid = np.mgrid[0:32, 0:32]
    images = []
    for label in labels:
        centre = np.array([6 + 2 * label, 26 - 2 * label])
        blob = np.exp(-((grid[0] - centre[0]) ** 2 + (grid[1] - centre[1]) ** 2) / 30.0)
        colour = np.array([label % 3, (label // 3) % 3, label % 2], dtype=np.float64)[:, None, None]
        image = 100 + 18 * blob[None] * (0.5 + colour / 2) + rng.normal(0, 45, (3, 32, 32))
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    path = folder / f"cifar_{seed}_lmdb"
    write_datum_lmdb(path, images, [int(x) for x in labels])
    if not (folder / "mean.binaryproto").exists():
        write_mean(folder / "mean.binaryproto", np.mean(np.stack(images).astype(np.float32), axis=0))
    return path


def ulp_moved(source: Path, target: Path, seed: int) -> None:
    """`source`'s weights, each moved by one float32 ulp up or down at random, saved as `target`."""
    from services.worker.engines.torch.snapshot import read_net_parameter

    net = read_net_parameter(source)
    rng = np.random.default_rng(seed)
    for layer in net.layer:
        for blob in layer.blobs:
            values = np.asarray(blob.data, dtype=np.float32)
            towards = np.where(rng.random(values.size) < 0.5, -np.inf, np.inf).astype(np.float32)
            del blob.data[:]
            blob.data.extend(np.nextafter(values, towards).tolist())
    target.write_bytes(net.SerializeToString())


@dataclass(frozen=True)
class Trajectory:
    """One training run: the loss of every iteration and the test accuracy at the end."""

    name: str
    losses: list[float]
    accuracy: float


def prepare(folder: Path, batch: int, iterations: int) -> None:
    """Data, net, solver and Caffe's initial weights (random_seed 1) in `folder`."""
    import re

    train = synthetic_cifar(folder, 400, seed=1)
    test = synthetic_cifar(folder, 1000, seed=2)
    text = (NETS / "cifar10_quick_train_test.prototxt").read_text()
    for old, new in (("cifar10_train_lmdb", train), ("cifar10_test_lmdb", test),
                     ("mean.binaryproto", folder / "mean.binaryproto")):
        text = text.replace(f'"{old}"', f'"{new}"')
    text = re.sub(r"batch_size: \d+", f"batch_size: {batch}", text)
    (folder / "net.prototxt").write_text(text)
    solver = [line for line in (NETS / "cifar10_quick_solver.prototxt").read_text().splitlines()
              if line.split(":")[0].strip() not in ("net", "max_iter", "display", "snapshot", "test_iter",
                                                    "test_interval")]
    solver += [f'net: "{folder / "net.prototxt"}"', f"max_iter: {iterations}", "display: 0", "snapshot: 0",
               f"test_iter: {TEST_BATCHES}", "test_interval: 1000000", "test_initialization: false",
               "snapshot_after_train: false", "random_seed: 1"]
    (folder / "solver.prototxt").write_text("\n".join(solver) + "\n")
    caffe = _pycaffe()
    caffe.set_random_seed(1)
    caffe.Net(str(folder / "net.prototxt"), caffe.TRAIN).save(str(folder / "init.caffemodel"))


def _pycaffe() -> ModuleType:
    os.environ.setdefault("GLOG_minloglevel", "2")
    from shared.caffe.paths import import_pycaffe

    caffe = import_pycaffe()
    caffe.set_mode_cpu()
    return caffe


def run_caffe(folder: Path, weights: Path, iterations: int, name: str) -> Trajectory:
    caffe = _pycaffe()
    solver = caffe.get_solver(str(folder / "solver.prototxt"))
    solver.net.copy_from(str(weights))
    losses = []
    for _ in range(iterations):
        solver.step(1)
        losses.append(float(solver.net.blobs["loss"].data))
    scorer = solver.test_nets[0]
    scorer.share_with(solver.net)
    accuracy = float(np.mean([float(scorer.forward()["accuracy"]) for _ in range(TEST_BATCHES)]))
    return Trajectory(name, losses, accuracy)


def run_ours(folder: Path, weights: Path, iterations: int, name: str, float64: bool = False) -> Trajectory:
    import torch

    from services.worker.engines.cli import torch_net_factory
    from services.worker.engines.torch.glog import GlogWriter
    from services.worker.engines.torch.prototxt import load_solver
    from services.worker.engines.torch.solver import Solver
    from shared.caffe.log import TestOutput, parse_log

    log = io.StringIO()
    solver = Solver(load_solver(str(folder / "solver.prototxt")),
                    torch_net_factory(torch.device("cpu"), str(folder), 1), log=GlogWriter(log))
    solver.copy_weights([str(weights)])
    if float64:
        _to_float64(solver)
    losses = []
    for _ in range(iterations):
        solver.step(1)
        losses.append(solver.last_loss)
    log.seek(0)
    log.truncate()
    solver.test(0)
    scores = [r for r in parse_log(log.getvalue().splitlines()) if isinstance(r, TestOutput)]
    accuracy = next(r.value for r in scores if r.name == "accuracy")
    return Trajectory(name, losses, accuracy)


def _to_float64(solver: Any) -> None:
    """Every net, parameter and history blob in float64; data-layer outputs are cast on the way in."""
    import torch

    def cast(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)

    for net in (solver.net, *solver.test_nets):
        net.double()
        for layer in net.layers:
            layer.register_forward_pre_hook(cast)
    solver.rule.history = [h.double() for h in solver.rule.history]


def smoothed(losses: Sequence[float], window: int = 10) -> list[float]:
    """Caffe's displayed loss with `average_loss: window` (mean of the last `window` iterations)."""
    return [float(np.mean(losses[max(0, i - window + 1): i + 1])) for i in range(len(losses))]


def deviation(a: Sequence[float], b: Sequence[float], start: int = 0, stop: int | None = None) -> float:
    pairs = list(zip(a, b, strict=True))[start:stop]
    return max(abs(x - y) / abs(y) for x, y in pairs)


def table(groups: dict[str, list[tuple[Trajectory, Trajectory]]], iterations: int) -> str:
    half = iterations // 2
    columns: list[tuple[str, Callable[[Trajectory, Trajectory], float]]] = [
        ("iterations 0-9", lambda a, b: deviation(a.losses, b.losses, 0, 10)),
        (f"0-{half - 1}", lambda a, b: deviation(a.losses, b.losses, 0, half)),
        (f"{half}-{iterations - 1}", lambda a, b: deviation(a.losses, b.losses, half, None)),
        ("average_loss 10 curve", lambda a, b: deviation(smoothed(a.losses), smoothed(b.losses))),
        ("test accuracy (points)", lambda a, b: 100 * abs(a.accuracy - b.accuracy)),
    ]
    lines = ["| pair (runs) | " + " | ".join(name for name, _ in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for label, pairs in groups.items():
        if not pairs:
            continue
        cells = []
        for name, measure in columns:
            values = [measure(a, b) for a, b in pairs]
            fmt = "{:.2f}" if "accuracy" in name else "{:.1e}"
            cells.append(fmt.format(statistics.median(values)) + " / " + fmt.format(max(values)))
        lines.append(f"| {label} ({len(pairs)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engines.divergence", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--moved", type=int, default=3, help="one-ulp-moved starts per engine")
    parser.add_argument("--folder", type=Path, help="work folder (default: a new temporary one)")
    options = parser.parse_args(argv)
    folder = options.folder or Path(tempfile.mkdtemp(prefix="divergence-"))
    folder.mkdir(parents=True, exist_ok=True)
    prepare(folder, options.batch, options.iterations)
    starts = [folder / "init.caffemodel"]
    for seed in range(options.moved):
        starts.append(folder / f"init_ulp{seed}.caffemodel")
        ulp_moved(starts[0], starts[-1], seed)
    caffe: list[Trajectory] = []
    ours: list[Trajectory] = []
    for index, start in enumerate(starts):
        for runs, run in ((caffe, run_caffe), (ours, run_ours)):
            runs.append(run(folder, start, options.iterations, f"{run.__name__}#{index}"))
            print(f"{runs[-1].name}: loss {runs[-1].losses[0]:.5f} -> {runs[-1].losses[-1]:.5f}, "
                  f"accuracy {runs[-1].accuracy:.4f}", file=sys.stderr)
    exact = run_ours(folder, starts[0], options.iterations, "ours float64", float64=True)
    groups = {
        "Caffe vs Caffe, one-ulp-moved start": list(itertools.combinations(caffe, 2)),
        "ours vs ours, one-ulp-moved start": list(itertools.combinations(ours, 2)),
        "ours vs Caffe": [(a, b) for a in ours for b in caffe],
        "ours vs Caffe, same start": [(ours[0], caffe[0])],
        "Caffe vs float64 (ours), same start": [(caffe[0], exact)],
        "ours vs float64 (ours), same start": [(ours[0], exact)],
    }
    print(f"CIFAR-10 quick, batch {options.batch}, {options.iterations} SGD iterations; relative loss "
          "deviation (median / max over pairs)\n")
    print(table(groups, options.iterations))
    print(f"\nload average: {os.getloadavg()[0]:.2f}; work folder {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
