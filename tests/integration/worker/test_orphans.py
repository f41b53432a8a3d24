"""A trainer outlives no worker: killing the worker with SIGKILL kills its trainer (PDEATHSIG)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

WORKER = """
import asyncio, signal, sys
from pathlib import Path
from services.worker.training.trainer import Trainer, TrainerCommand

async def main():
    command = TrainerCommand(argv=["sleep", "120"], env={}, cwd=Path("."), death_signal=signal.{signal})
    trainer = await Trainer.start(command)
    print("TRAINER", trainer.pid, flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for init, which may never reap here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("death_signal", ["SIGKILL", "SIGTERM"])
def test_the_trainer_dies_when_its_worker_is_killed(death_signal: str) -> None:
    assert_trainer_dies_with_its_worker(WORKER.replace("{signal}", death_signal))


def assert_trainer_dies_with_its_worker(worker_source: str) -> None:
    """Run `worker_source` (it prints `TRAINER <pid>`), kill it with SIGKILL, expect the trainer gone."""
    worker = subprocess.Popen([sys.executable, "-c", worker_source], stdout=subprocess.PIPE, cwd=REPO_ROOT,
                              text=True)
    assert worker.stdout is not None
    trainer = next(int(line.split()[1]) for line in worker.stdout if line.startswith("TRAINER "))
    try:
        assert running(trainer) and os.getpgid(trainer) == trainer  # its own process group
        worker.kill()
        worker.wait()
        deadline = time.monotonic() + 10
        while running(trainer):
            assert time.monotonic() < deadline, "the trainer outlived its killed worker"
            time.sleep(0.05)
    finally:
        if running(trainer):
            os.kill(trainer, signal.SIGKILL)
        worker.stdout.close()
