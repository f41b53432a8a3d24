"""CPU time of the deployment's processes, from /proc/<pid>/stat: what each service costs per job.

A process's own time (utime + stime) is the service's; its reaped children's (cutime + cstime)
are the trainers a worker started and waited for. Read before and after a phase, the difference
divided by the jobs says where a job's CPU goes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuTime:
    own_s: float
    children_s: float

    def __sub__(self, other: CpuTime) -> CpuTime:
        return CpuTime(self.own_s - other.own_s, self.children_s - other.children_s)


def cpu_time(pid: int) -> CpuTime | None:
    """The process's CPU seconds so far, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return CpuTime((utime + stime) / TICKS, (cutime + cstime) / TICKS)


def snapshot(pids: dict[str, int]) -> dict[str, CpuTime]:
    return {name: found for name, pid in pids.items() if (found := cpu_time(pid)) is not None}


def spent(before: dict[str, CpuTime], after: dict[str, CpuTime]) -> dict[str, CpuTime]:
    return {name: after[name] - before[name] for name in before if name in after}
