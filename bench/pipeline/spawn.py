"""`python -m bench.pipeline.spawn`: what starting a trainer costs the worker's event loop, by how
the trainer's parent-death signal is armed.

A preexec hook (arming in the child between fork and exec) makes Python `fork()` the whole worker,
page tables and all, inside the event loop; a command that arms itself (`shared.parent_death`) is
started with `vfork()`, whose cost does not depend on the worker's size. The worker's size matters:
an embedded `up` process holds the API's torch import (about 300 MB). This measures
`Trainer.start` both ways, alternating, in a process padded to `--ballast-mib` of resident memory,
and prints the p50 / p95 and their ratio. The child is `/bin/true`: only the start is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import structlog

from bench.pipeline.memory import status_kib
from bench.pipeline.stats import spread, table
from services.worker.training.trainer import Trainer, TrainerCommand


async def start_ms(arms_itself: bool) -> float:
    command = TrainerCommand(argv=["/bin/true"], env=dict(os.environ), cwd=Path("."), death_signal=signal.SIGKILL,
                             arms_itself=arms_itself)
    began = time.perf_counter()
    trainer = await Trainer.start(command)
    took = (time.perf_counter() - began) * 1000
    await trainer.wait()
    return took


async def main(ballast_mib: int, samples: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # no line per start
    ballast = bytearray(os.urandom(1) * (ballast_mib * 1024 * 1024))  # touched, so resident
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(samples):
        for arms_itself in (False, True):
            times[arms_itself].append(await start_ms(arms_itself))
    rss = (status_kib(os.getpid(), "VmRSS") or 0) / 1024
    hook, itself = spread(times[False], digits=2), spread(times[True], digits=2)
    print(f"Trainer.start from a process of {rss:.0f} MiB resident, {samples} starts each, alternating; "
          f"load average {os.getloadavg()[0]:.2f}\n")
    print(table(["trainer start (ms)", "p50", "p95", "max"], [
        ["death signal armed in a preexec hook (fork)", *hook],
        ["death signal armed by the command itself (vfork)", *itself],
        ["ratio of p50s", f"{float(hook[0]) / max(float(itself[0]), 1e-6):.0f}x", "", ""],
    ]))
    del ballast


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline.spawn", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--ballast-mib", type=int, default=300, help="resident memory to pad the process to")
    parser.add_argument("--samples", type=int, default=30)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.ballast_mib, arguments.samples))
