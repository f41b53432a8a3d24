"""Log line to SSE client: from the moment the trainer wrote a line to the moment a client of
`GET /v1/events` read the `TrainingLogAppended` event holding it.

The line's moment is its own glog timestamp (the trainer's clock); the arrival is the client's
clock on the same machine. On the way: the worker reads the trainer's output and appends lines in
batches (`ET_WORKER_LOG_FLUSH_S`, 0.2 s), the event is stored, the API notices it by polling the
tenant's log (`ET_API_STREAM_POLL_S`, 0.1 s) and writes it to the stream. The glog timestamp has
microseconds; the arrival is stamped when the benchmark's client parses the event, so on a busy
machine the client's own delay counts too. Lines without a glog prefix (the solver parameters
Caffe echoes) are counted and left out.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bench.pipeline.client import Api
from bench.pipeline.feed import Feed, Received
from bench.pipeline.glog import written_at
from bench.pipeline.workload import Tenant

LOG_APPENDED = "TrainingLogAppended"
JOBS_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class LineDelays:
    jobs: int
    seconds: list[float]
    without_timestamp: int


def line_delays(events: Iterable[Received], job_ids: Collection[str]) -> LineDelays:
    """Arrival minus glog time of every line of the given jobs' `TrainingLogAppended` events."""
    delays: list[float] = []
    without = 0
    for event in events:
        if event.type != LOG_APPENDED or event.job_id not in job_ids:
            continue
        year = datetime.datetime.fromtimestamp(event.arrived_at).year
        for line in event.data["lines"]:
            written = written_at(line, year)
            if written is None:
                without += 1
            else:
                delays.append(event.arrived_at - written)
    return LineDelays(len(job_ids), delays, without)


async def measure(api: Api, feed: Feed, tenant: Tenant, request: dict[str, str], jobs: int) -> LineDelays:
    """Submit `jobs` jobs at once, wait for all to end, and time every line they logged."""
    job_ids = [(await api.call("POST", "/v1/training-jobs", tenant.token, json=request))["id"] for _ in range(jobs)]
    await feed.wait_for(lambda: all(j in feed.ended for j in job_ids),
                        JOBS_TIMEOUT_S)
    return line_delays(feed.events, set(job_ids))
