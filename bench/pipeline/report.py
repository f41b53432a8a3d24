"""The pipeline benchmark's markdown tables: every mode side by side, with the issue's targets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.pipeline.drain import DrainResult
from bench.pipeline.fairness import SETTLED_JOBS
from bench.pipeline.latency import SERIES, Latencies
from bench.pipeline.loglines import LineDelays
from bench.pipeline.stats import spread, table

LATENCY_TARGET_MS = {"embedded": 50.0, "production": 150.0}
LOG_TARGET_MS = 500.0
FAIRNESS_TARGET_PCT = 10.0
MIB = 1024.0


@dataclass
class ModeResult:
    mode: str
    process: str
    """What the memory figures are of."""
    latency: Latencies | None = None
    log: tuple[str, LineDelays] | None = None
    drains: list[DrainResult] = field(default_factory=list)
    memory_kib: dict[str, int] = field(default_factory=dict)
    """Named RSS figures in KiB, in the order they were taken."""


def latency_table(results: list[ModeResult]) -> str:
    rows = []
    for r in results:
        if r.latency is None:
            continue
        for index, name in enumerate(SERIES):
            values = [sample[index] for sample in r.latency.samples]
            rows.append([r.mode, name, *spread(values)])
    notes = [f"{r.mode}: server p95 {_p95(r.latency)} ms vs target <= {LATENCY_TARGET_MS[r.mode]:.0f} ms: "
             f"{'met' if float(_p95(r.latency)) <= LATENCY_TARGET_MS[r.mode] else 'NOT met'}"
             for r in results if r.latency is not None]
    return table(["mode", "submit -> running, idle workers (ms)", "p50", "p95", "max"], rows, numeric_from=2) + \
        "\n\n" + "; ".join(notes)


def _p95(latency: Latencies | None) -> str:
    assert latency is not None
    return spread([s[0] for s in latency.samples])[1]


def log_table(results: list[ModeResult]) -> str:
    rows = []
    for r in results:
        found = [r.log] if r.log is not None else []
        found += [(f"during the {d.plan.shape} drain ({d.jobs} jobs)", d.lines) for d in r.drains]
        for what, lines in found:
            met = "met" if lines.seconds and float(spread(lines.seconds, 1000)[1]) <= LOG_TARGET_MS else "NOT met"
            rows.append([r.mode, what, str(lines.jobs), f"{len(lines.seconds):,}", *spread(lines.seconds, 1000),
                         f"{met}" if lines.seconds else "-"])
    return table(["mode", "trainer log line -> read from GET /v1/events (ms)", "jobs", "lines", "p50", "p95", "max",
                  f"p95 <= {LOG_TARGET_MS:.0f} ms"], rows, numeric_from=2)


def drain_table(results: list[ModeResult]) -> str:
    columns = [(r.mode, d) for r in results for d in r.drains]
    if not columns:
        return ""
    header = ["drain", *(f"{mode}, {d.plan.shape}" for mode, d in columns)]
    rows = [[name, *(cell(d) for _, d in columns)] for name, cell in _DRAIN_ROWS]
    return table(header, rows)


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def _cpu_per_job(drain: DrainResult) -> str:
    """Own CPU per service (the workers summed) and the trainers' (their children), in ms per job."""
    own: dict[str, float] = {}
    trainers = 0.0
    for name, used in drain.cpu.items():
        group = name if name in {"up", "api", "scheduler", "storage"} else "workers"
        own[group] = own.get(group, 0.0) + used.own_s
        trainers += used.children_s
    parts = [f"{name} {1000 * seconds / drain.jobs:.0f}" for name, seconds in own.items()]
    return ", ".join(parts) + f"; trainers {1000 * trainers / drain.jobs:.0f}"


def memory_table(results: list[ModeResult]) -> str:
    names = list(dict.fromkeys(name for r in results for name in r.memory_kib))
    header = ["RSS (MiB)", *(f"{r.mode}: {r.process}" for r in results)]
    rows = [[name, *(f"{r.memory_kib[name] / MIB:.0f}" if name in r.memory_kib else "-" for r in results)]
            for name in names]
    return table(header, rows)


_DRAIN_ROWS: list[tuple[str, Callable[[DrainResult], str]]] = [
    ("jobs (per tenant)", lambda d: f"{d.jobs:,} ({'/'.join(map(str, d.demands))})"),
    ("engine, net, iterations per job", lambda d: f"{d.plan.engine}, tiny, {d.plan.iterations}"),
    ("slots in all", lambda d: str(d.slots)),
    ("queued when released / assigned before", lambda d: f"{d.queued_at_release:,} / {d.assigned_before_release}"),
    ("release -> last job ended (s)", lambda d: f"{d.seconds:.1f}"),
    ("**jobs/s**", lambda d: f"**{d.jobs_per_s:.2f}**"),
    ("succeeded exactly once (events) / succeeded (API)",
     lambda d: f"{d.ledger.succeeded_once:,} / {d.api_succeeded:,}"),
    ("lost / succeeded twice / started twice / failed",
     lambda d: f"{len(d.ledger.lost)} / {len(d.ledger.succeeded_twice)} / {len(d.ledger.started_twice)} / "
               f"{len(d.ledger.ended_badly)}"),
    ("assigned more than once (requeued)", lambda d: str(len(d.ledger.reassigned))),
    ("fairness: largest lag behind/ahead of fair share (jobs)",
     lambda d: f"{d.fairness.max_lag.value:.2f} (k={d.fairness.max_lag.k})"),
    (f"**fairness: largest deviation, % of fair share (shares >= {SETTLED_JOBS:.0f} jobs)** "
     f"(target <= {FAIRNESS_TARGET_PCT:.0f}%)",
     lambda d: "-" if d.fairness.max_settled_pct is None else
     f"**{_pct(d.fairness.max_settled_pct.value)}** (k={d.fairness.max_settled_pct.k})"),
    ("slot busy (assigned -> ended / slots x drain time)", lambda d: _pct(100 * d.slot_busy)),
    ("assigned -> started p50 / p95 (ms)", lambda d: " / ".join(spread(d.assigned_to_started_s, 1000)[:2])),
    ("started -> succeeded p50 / p95 (ms)", lambda d: " / ".join(spread(d.started_to_ended_s, 1000)[:2])),
    ("CPU ms per job, by process (own time; trainers: reaped children)", _cpu_per_job),
]

