"""The trainer child process: started in its own session, read line by line, stopped as a group.

The trainer (`python -m elasticthought train ...`) may start processes of its own (the caffe
engine runs Caffe's binary), so it leads a new session and process group (`start_new_session`),
and stopping it signals the whole group: SIGTERM, a grace period, then SIGKILL for what is left.

A worker killed with SIGKILL cannot stop anything. Its trainers must not train on forever for a
job the scheduler is about to requeue elsewhere, so each trainer asks the kernel to signal it when
its parent dies (`shared.parent_death`). The signal is SIGKILL for the torch engine (one process,
certain death) and SIGTERM for the caffe engine, whose runner forwards SIGTERM to the Caffe binary
it started; a death signal reaches only the direct child, not its own children. Our own command
line arms it itself, from its environment: arming it in a preexec hook instead would make every
start fork the whole worker in the event loop. Linux only: on other systems none is set.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from shared import parent_death

log = structlog.get_logger(__name__)

READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class TrainerCommand:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    death_signal: signal.Signals
    arms_itself: bool = False
    """The command arms `death_signal` from its environment (`parent_death.request_env`): no preexec hook."""


def trainer_command(
    *, solver: Path, engine: str, cwd: Path, gpus: Sequence[str], snapshot: Path | None = None,
    base_env: dict[str, str] | None = None, cpu_threads: int | None = None,
) -> TrainerCommand:
    """The `elasticthought train` command line for a job, seeing only its assigned GPUs.

    The assigned GPUs become devices 0..n-1 inside the child (CUDA_VISIBLE_DEVICES); a CPU job
    sees none at all (an empty CUDA_VISIBLE_DEVICES), so it can never touch another job's GPU.
    A CPU job gets `cpu_threads` OpenMP threads unless the worker's environment already chose
    (OMP_NUM_THREADS): trainers that each take every core collapse when several run at once (each
    parallel region waits for its descheduled threads; measured 3-9 vs 72-80 iterations/s).
    """
    argv = [sys.executable, "-m", "elasticthought", "train", "--solver", str(solver), "--engine", engine]
    if snapshot is not None:
        argv += ["--snapshot", str(snapshot)]
    if gpus:
        argv += ["--gpu", ",".join(str(i) for i in range(len(gpus)))]
    env = dict(os.environ if base_env is None else base_env)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    env["PYTHONUNBUFFERED"] = "1"  # log lines must reach us as they are printed
    if cpu_threads is not None and not gpus and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(cpu_threads)
    death = signal.SIGTERM if engine == "caffe" else signal.SIGKILL
    env.update(parent_death.request_env(death))  # `elasticthought` arms it first thing
    return TrainerCommand(argv=argv, env=env, cwd=cwd, death_signal=death, arms_itself=True)


class Trainer:
    """A started trainer: its output as lines, its exit status, and a group stop."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = process.pid
        self.pgid = process.pid  # a session leader's group id is its pid

    @classmethod
    async def start(cls, command: TrainerCommand) -> Trainer:
        process = await asyncio.create_subprocess_exec(
            *command.argv, cwd=command.cwd, env=command.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=None if command.arms_itself else parent_death.preexec(command.death_signal),
        )
        log.info("trainer_started", pid=process.pid, argv=command.argv[3:])
        return cls(process)

    async def lines(self) -> AsyncIterator[str]:
        """stdout and stderr interleaved, split into lines (any length; undecodable bytes replaced)."""
        assert self.process.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buffer = ""
        while chunk := await self.process.stdout.read(READ_CHUNK):
            buffer += decoder.decode(chunk)
            *complete, buffer = buffer.split("\n")
            for line in complete:
                yield line.rstrip("\r")
        buffer += decoder.decode(b"", final=True)
        if buffer:
            yield buffer.rstrip("\r")

    async def wait(self) -> int:
        return await self.process.wait()

    async def stop(self, grace_s: float) -> None:
        """SIGTERM to the group, up to `grace_s` to exit, then SIGKILL to whatever is left of it."""
        if self.process.returncode is None:
            signal_group(self.pgid, signal.SIGTERM)
            try:
                async with asyncio.timeout(grace_s):
                    await self.process.wait()
            except TimeoutError:
                log.warning("trainer_grace_expired", pid=self.pid, grace_s=grace_s)
        self.kill_leftovers()
        await self.process.wait()

    def kill_leftovers(self) -> None:
        """SIGKILL every process still in the trainer's group (the trainer's own children)."""
        signal_group(self.pgid, signal.SIGKILL)


def signal_group(pgid: int, signum: signal.Signals) -> bool:
    """Signal a process group; False when it no longer exists."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):  # gone (or the id now belongs to someone else)
        return False
    return True


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (a reused id)
        return True
    return True

