"""The deployment's numbers in the Prometheus text exposition format (version 0.0.4), pure.

Written by hand rather than with prometheus_client: every value is computed from the read models
at scrape time (nothing is counted in process memory, so every API instance reports the same
numbers, and a restart loses nothing), which is a handful of lines of text.
"""

from __future__ import annotations

from collections import Counter

from services.api.projections.histogram import Histogram
from services.api.schemas.workers import Worker
from services.api.training.cluster import Cluster
from shared.domain.job import Status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "elasticthought"


def exposition(found: Cluster, workers: list[Worker]) -> str:
    lines: list[str] = []
    _queue_depth(lines, found)
    _jobs_by_state(lines, found)
    _dispatch_latency(lines, found)
    _slots(lines, workers)
    return "\n".join(lines) + "\n"


def _queue_depth(lines: list[str], found: Cluster) -> None:
    _header(lines, "queue_depth", "gauge", "Queued jobs (training and classify: one queue) per tenant")
    for tenant_id, view in sorted(found.jobs.items()):
        depth = sum(1 for job in view.queued() if not job.cancel_requested)
        lines.append(f'{PREFIX}_queue_depth{{tenant="{_label(tenant_id)}"}} {depth}')


def _jobs_by_state(lines: list[str], found: Cluster) -> None:
    _header(lines, "jobs", "gauge", "Training jobs by state, every tenant")
    counts: Counter[str] = Counter({status.public: 0 for status in Status})
    for view in found.jobs.values():
        counts.update(view.count_by_state())
    for state in sorted(counts):
        lines.append(f'{PREFIX}_jobs{{state="{state}"}} {counts[state]}')


def _dispatch_latency(lines: list[str], found: Cluster) -> None:
    name = f"{PREFIX}_dispatch_latency_seconds"
    _header(lines, "dispatch_latency_seconds", "histogram",
            "Time from a job being queued (submitted or requeued) to its assignment, by event times")
    merged = Histogram()
    for view in found.jobs.values():
        merged = merged.merged(view.dispatch_latency)
    for le, count in merged.cumulative():
        lines.append(f'{name}_bucket{{le="{le}"}} {count}')
    lines.append(f"{name}_sum {merged.total:.6f}")
    lines.append(f"{name}_count {merged.count}")


def _slots(lines: list[str], workers: list[Worker]) -> None:
    online = [w for w in workers if w.status == "online"]
    _header(lines, "slots", "gauge", "Training slots of online workers, busy or free")
    lines.append(f'{PREFIX}_slots{{state="busy"}} {sum(w.busy_slots for w in online)}')
    lines.append(f'{PREFIX}_slots{{state="free"}} {sum(w.free_slots for w in online)}')
    _header(lines, "workers", "gauge", "Workers by membership status")
    statuses = Counter(w.status for w in workers)
    for status in ("online", "offline", "lost"):
        lines.append(f'{PREFIX}_workers{{status="{status}"}} {statuses[status]}')


def _header(lines: list[str], name: str, kind: str, text: str) -> None:
    lines.append(f"# HELP {PREFIX}_{name} {text}")
    lines.append(f"# TYPE {PREFIX}_{name} {kind}")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
