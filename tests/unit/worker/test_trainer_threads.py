"""How many OpenMP threads a CPU trainer gets: its share of the cores, unless configured or pinned."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from services.worker.training.executor import trainer_threads
from services.worker.training.run import RunContext
from services.worker.training.trainer import trainer_command


def context(threads: int = 0) -> RunContext:
    unused: Any = None
    return RunContext(worker_id="w", store=unused, publisher=unused, blobs=unused, workspaces=unused,
                      trainer_threads=threads)


def test_each_slot_gets_its_share_of_the_cores_and_at_least_one_thread() -> None:
    cores = len(os.sched_getaffinity(0))
    assert trainer_threads(context(), 1) == cores
    assert trainer_threads(context(), cores) == 1
    assert trainer_threads(context(), cores * 4) == 1
    assert trainer_threads(context(), 0) == cores  # no slots: nothing runs, but never a division by zero


def test_a_configured_thread_count_wins_over_the_share() -> None:
    assert trainer_threads(context(threads=3), 64) == 3


def test_a_cpu_trainer_gets_the_threads_and_a_gpu_trainer_or_a_pinned_environment_does_not(tmp_path: Path) -> None:
    solver = tmp_path / "solver.prototxt"
    cpu = trainer_command(solver=solver, engine="torch", cwd=tmp_path, gpus=[], base_env={}, cpu_threads=2)
    assert cpu.env["OMP_NUM_THREADS"] == "2"
    gpu = trainer_command(solver=solver, engine="torch", cwd=tmp_path, gpus=["0"], base_env={}, cpu_threads=2)
    assert "OMP_NUM_THREADS" not in gpu.env
    pinned = trainer_command(solver=solver, engine="caffe", cwd=tmp_path, gpus=[],
                             base_env={"OMP_NUM_THREADS": "7"}, cpu_threads=2)
    assert pinned.env["OMP_NUM_THREADS"] == "7"
