"""Trainers that arm their parent-death signal themselves: started without forking the worker,
dead when the worker is killed, and `elasticthought` arms before it does anything else."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.worker.training.trainer import Trainer, trainer_command
from shared.parent_death import request_env
from tests.conftest import REPO_ROOT
from tests.integration.worker.test_orphans import assert_trainer_dies_with_its_worker

# A worker that starts a trainer arming itself the way `elasticthought` does, then waits.
WORKER = """
import asyncio, signal, sys
from pathlib import Path
from services.worker.training.trainer import Trainer, TrainerCommand
from shared.parent_death import request_env

CHILD = "from shared.parent_death import arm_from_environment; arm_from_environment(); import time; time.sleep(120)"

async def main():
    command = TrainerCommand(argv=[sys.executable, "-c", CHILD], env=request_env(signal.{signal}), cwd=Path("."),
                             death_signal=signal.{signal}, arms_itself=True)
    trainer = await Trainer.start(command)
    await asyncio.sleep(1.0)  # the child armed itself by then
    print("TRAINER", trainer.pid, flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


@pytest.mark.parametrize("death_signal", ["SIGKILL", "SIGTERM"])
def test_a_trainer_that_arms_itself_dies_when_its_worker_is_killed(death_signal: str) -> None:
    assert_trainer_dies_with_its_worker(WORKER.replace("{signal}", death_signal))


def test_elasticthought_dies_at_once_when_its_parent_died_before_it_armed() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that is certainly not our child's parent
    env = {**os.environ, **request_env(signal.SIGTERM, parent=gone.pid)}
    done = subprocess.run([sys.executable, "-m", "elasticthought", "--help"], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGTERM, done
    assert "usage" not in done.stdout


def test_elasticthought_with_its_real_parent_runs_normally() -> None:
    env = {**os.environ, **request_env(signal.SIGTERM)}
    done = subprocess.run([sys.executable, "-m", "elasticthought", "--help"], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "usage" in done.stdout, done


async def test_a_trainer_command_is_started_without_a_preexec_hook(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """A preexec hook would make Python fork the whole worker (page tables of hundreds of MB) in the
    event loop for every trainer; the trainer's command line arms its death signal itself instead."""
    seen: dict[str, Any] = {}
    real = asyncio.create_subprocess_exec

    async def spy(*argv: str, **options: Any) -> asyncio.subprocess.Process:
        seen.update(options)
        return await real("true", **options)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    command = trainer_command(solver=tmp_path / "solver.prototxt", engine="torch", cwd=tmp_path, gpus=[])
    started = await Trainer.start(command)
    await started.wait()
    assert seen["preexec_fn"] is None and seen["start_new_session"] is True
    assert seen["env"]["ELASTICTHOUGHT_DIE_WITH_PARENT"] == f"{int(signal.SIGKILL)}:{os.getpid()}"
