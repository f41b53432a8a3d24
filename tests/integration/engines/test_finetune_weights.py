"""`train --weights W` fine-tunes from W in both engines, as Caffe's CopyLayers does.

The weights come from a short training run, so their loss is far below a fresh initialisation's.
Fine-tuning from them must start exactly there: the first displayed loss (iteration 0, before any
update) equals the loss real Caffe computes for those weights on the same first batch, and the
test pass at iteration 0 scores those weights, not a fresh net.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from shared.caffe.datum_lmdb import write_datum_lmdb
from tests.integration.engines.jobs import Run, run_cli

pytestmark = [pytest.mark.caffe, pytest.mark.timeout(600)]

TEST_ITER = 3

NET = """name: "finetune"
layer {{ name: "data" type: "Data" top: "data" top: "label" include {{ phase: TRAIN }}
  transform_param {{ scale: 0.00390625 }}
  data_param {{ source: "{train}" batch_size: 16 backend: LMDB }} }}
layer {{ name: "data" type: "Data" top: "data" top: "label" include {{ phase: TEST }}
  transform_param {{ scale: 0.00390625 }}
  data_param {{ source: "{test}" batch_size: 10 backend: LMDB }} }}
layer {{ name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param {{ num_output: 6 kernel_size: 3 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "pool" type: "Pooling" bottom: "conv" top: "pool"
  pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}
layer {{ name: "relu" type: "ReLU" bottom: "pool" top: "pool" }}
layer {{ name: "ip" type: "InnerProduct" bottom: "pool" top: "ip"
  inner_product_param {{ num_output: 3 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "acc" type: "Accuracy" bottom: "ip" bottom: "label" top: "acc" include {{ phase: TEST }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }}
"""

SOLVER = """net: "net.prototxt"
test_iter: {test_iter}
test_interval: {test_interval}
base_lr: 0.05
momentum: 0.9
weight_decay: 0.0005
lr_policy: "fixed"
display: 1
average_loss: 1
max_iter: {max_iter}
snapshot: 0
snapshot_after_train: {snapshot_after_train}
snapshot_prefix: "source"
random_seed: 5
solver_mode: CPU
"""


@dataclass(frozen=True)
class Job:
    folder: Path
    weights: Path
    weights_loss: float  # real Caffe's loss of `weights` on the first training batch
    weights_scores: dict[str, float]  # real Caffe's mean TEST outputs of `weights` over TEST_ITER batches


def _write_data(folder: Path) -> None:
    """Three classes told apart by brightness: a few iterations learn them."""
    rng = np.random.default_rng(0)
    for name, count in (("train_lmdb", 96), ("test_lmdb", 30)):
        labels = rng.integers(0, 3, count)
        images = [(rng.random((1, 10, 10)) * 80 + 70 * label).astype(np.uint8) for label in labels]
        write_datum_lmdb(folder / name, images, [int(x) for x in labels])


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, pycaffe: ModuleType) -> Job:
    folder = tmp_path_factory.mktemp("finetune")
    _write_data(folder)
    net = folder / "net.prototxt"
    net.write_text(NET.format(train=folder / "train_lmdb", test=folder / "test_lmdb"))
    (folder / "source.prototxt").write_text(SOLVER.format(
        test_iter=1, test_interval=1000, max_iter=40, snapshot_after_train="true"))
    (folder / "tune.prototxt").write_text(SOLVER.format(
        test_iter=TEST_ITER, test_interval=1000, max_iter=1, snapshot_after_train="false"))
    source = run_cli("train", ["--solver=source.prototxt"], cwd=folder)
    assert source.code == 0, source.log[-2000:]
    weights = folder / "source_iter_40.caffemodel"
    train_net = pycaffe.Net(str(net), str(weights), pycaffe.TRAIN)
    loss = float(train_net.forward()["loss"])
    del train_net
    test_net = pycaffe.Net(str(net), str(weights), pycaffe.TEST)
    # forward() answers views of the output blobs, so each batch's values are read at once.
    batches = [{name: float(out[name]) for name in ("acc", "loss")}
               for out in (test_net.forward() for _ in range(TEST_ITER))]
    scores = {name: float(np.mean([b[name] for b in batches])) for name in ("acc", "loss")}
    del test_net
    return Job(folder, weights, loss, scores)


def _first_test_scores(run: Run) -> dict[str, float]:
    return {name: run.test_scores(name)[0] for name in ("acc", "loss")}


@pytest.mark.parametrize("engine", ["torch", "caffe"])
def test_fine_tuning_starts_from_the_loss_of_the_given_weights(job: Job, engine: str) -> None:
    tuned = run_cli("train", ["--solver=tune.prototxt", f"--weights={job.weights}", f"--engine={engine}"],
                    cwd=job.folder)
    assert tuned.code == 0, tuned.log[-2000:]
    assert tuned.losses()[0] == pytest.approx(job.weights_loss, rel=1e-4)
    for name, value in _first_test_scores(tuned).items():
        assert value == pytest.approx(job.weights_scores[name], rel=1e-4, abs=1e-6), name

    fresh = run_cli("train", ["--solver=tune.prototxt", f"--engine={engine}"], cwd=job.folder)
    assert fresh.code == 0, fresh.log[-2000:]
    print(f"{engine}: loss at iteration 0 fine-tuned {tuned.losses()[0]:.5f}, fresh {fresh.losses()[0]:.5f}")
    assert fresh.losses()[0] > 2 * job.weights_loss + 0.1
