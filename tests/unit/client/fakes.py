"""A scripted API behind httpx.MockTransport: answers queued per route, every request recorded.

The SDK's transports run for real (httpx builds and sends the requests, reads the answers); only
the network is replaced, so a test sees exactly what would go on the wire.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from elasticthought.client import AsyncClient, Client

URL = "http://et.test"
TOKEN = "et_acme_tok_secret"
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()


@dataclass
class Sent:
    request: httpx.Request
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeApi:
    answers: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.answers.setdefault((method, path), []).extend(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(Sent(request, request.read()))
        queued = self.answers.get((request.method, request.url.path))
        if not queued:
            return problem(404, f"no route for {request.url.path}")
        answer = queued.pop(0) if len(queued) > 1 else queued[0]
        return answer(request) if callable(answer) else answer

    def client(self) -> Client:
        return Client(URL, TOKEN, transport=httpx.MockTransport(self.handle), sleep=self.sleeps.append)

    def async_client(self) -> AsyncClient:
        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        return AsyncClient(URL, TOKEN, transport=httpx.MockTransport(self.handle), sleep=sleep)


def problem(status: int, detail: str, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": "Problem", "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


def job(job_id: str = "j1", state: str = "queued", **changes: Any) -> dict[str, Any]:
    return {"id": job_id, "state": state, "solver_id": "s1", "dataset_id": "d1", "engine": "auto", "engine_used": None,
            "gpus": 0, "assigned_gpus": [], "priority": 0, "queue_position": 1, "iteration": 0, "max_iter": 100,
            "train_outputs": {}, "test_outputs": {}, "lr": None, "worker_id": None, "attempt": 0,
            "cancel_requested": False, "error": None, "snapshots": 0, "submitted_by": "u1", "submitted_at": NOW,
            "queued_at": NOW, "assigned_at": None, "started_at": None, "ended_at": None, **changes}


def classify_job(job_id: str = "c1", state: str = "queued", **changes: Any) -> dict[str, Any]:
    return {"id": job_id, "state": state, "classifier_id": "k1", "count": 2, "top_k": 1, "priority": 0,
            "queue_position": None, "worker_id": None, "attempt": 1, "cancel_requested": False, "error": None,
            "results": None, "submitted_by": "u1", "submitted_at": NOW, "queued_at": NOW, "assigned_at": None,
            "started_at": None, "ended_at": None, **changes}


def snapshot(iteration: int) -> dict[str, Any]:
    base = f"/v1/training-jobs/j1/snapshots/{iteration}"
    return {"iteration": iteration, "attempt": 1, "saved_at": NOW, "caffemodel": f"{base}/caffemodel",
            "solverstate": f"{base}/solverstate"}


class BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that sends `chunks`, then breaks like a dropped connection."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        raise httpx.ReadError("connection reset by peer")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        raise httpx.ReadError("connection reset by peer")


def sse(*events: tuple[int, str, dict[str, Any]]) -> bytes:
    out = ["retry: 250\n\n"]
    for position, kind, data in events:
        envelope = {"type": kind, "stream_id": "job-j1", "occurred_at": NOW, "data": data, "position": position}
        out.append(f"id: {position}\nevent: {kind}\ndata: {json.dumps(envelope)}\n\n")
    return "".join(out).encode()
