"""The AMQP example consumer (examples/amqp_consumer.py) against a real RabbitMQ, fed by the project's bus.

The example runs as its own process, as an integration would; events are published through
`RabbitMQBus`, the adapter every service publishes with. It must print exactly the events its
binding selects (one tenant's job events), each once, although one is published twice.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from shared.bus.rabbitmq import RabbitMQBus
from shared.events import Envelope, Event, registry
from shared.events.data import DatasetFailed
from shared.events.training import TrainingJobCancelRequested, TrainingJobSucceeded

pytestmark = pytest.mark.rabbitmq

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "amqp_consumer.py"


@pytest.fixture
async def consumer(amqp_url: str, unique_name: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    queue = f"{unique_name}.acme-jobs"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--url", amqp_url, "--exchange", unique_name, "--queue", queue,
        "--bind", "acme.job.*", stdout=asyncio.subprocess.PIPE)
    try:
        ready = await _line(process)
        assert ready == {"ready": True, "queue": queue, "bindings": ["acme.job.*"]}
        yield process, unique_name
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            for name in (queue, f"{queue}.dlq"):
                await channel.queue_delete(name)
            await channel.exchange_delete(unique_name)


def _envelope(tenant_id: str, stream_id: str, event: Event) -> Envelope:
    return registry.envelope(event, tenant_id=tenant_id, stream_id=stream_id, stream_version=1)


async def _line(process: asyncio.subprocess.Process, timeout_s: float = 20.0) -> dict[str, Any]:
    assert process.stdout is not None
    raw = await asyncio.wait_for(process.stdout.readline(), timeout_s)
    assert raw, "the example exited early"
    found: dict[str, Any] = json.loads(raw)
    return found


async def test_the_example_consumer_receives_its_bound_events_once_each(
    consumer: tuple[asyncio.subprocess.Process, str], amqp_url: str,
) -> None:
    process, exchange = consumer
    succeeded = _envelope("acme", "job-j1", TrainingJobSucceeded(attempt=1, iteration=100))
    cancel = _envelope("acme", "job-j2", TrainingJobCancelRequested(requested_by="u1"))
    other_kind = _envelope("acme", "dataset-d1", DatasetFailed(reason="no images"))
    other_tenant = _envelope("globex", "job-j9", TrainingJobSucceeded(attempt=1, iteration=5))
    last = _envelope("acme", "job-j3", TrainingJobSucceeded(attempt=2, iteration=7))
    bus = await RabbitMQBus.connect(amqp_url, exchange=exchange, connection_name="test-amqp-example")
    try:
        await bus.publish([succeeded, other_kind, other_tenant, cancel])
        await bus.publish([succeeded])  # at least once: the same event again
        await bus.publish([last])
    finally:
        await bus.close()

    printed = [await _line(process) for _ in range(3)]
    assert [(p["event_id"], p["type"], p["routing_key"]) for p in printed] == [
        (str(succeeded.event_id), "TrainingJobSucceeded", "acme.job.TrainingJobSucceeded"),
        (str(cancel.event_id), "TrainingJobCancelRequested", "acme.job.TrainingJobCancelRequested"),
        (str(last.event_id), "TrainingJobSucceeded", "acme.job.TrainingJobSucceeded"),
    ]
    assert printed[0]["data"] == {"attempt": 1, "iteration": 100} and printed[0]["stream_id"] == "job-j1"
    with pytest.raises(TimeoutError):
        await _line(process, timeout_s=0.5)  # nothing else: not the duplicate, not the unbound events
