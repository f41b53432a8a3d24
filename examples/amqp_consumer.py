"""Example: follow a tenant's ElasticThought events straight from RabbitMQ (trusted in-house integrations).

    python examples/amqp_consumer.py --url amqp://guest:guest@127.0.0.1:5672/ \
        --queue acme-jobs --bind 'acme.job.*'

Declares a durable quorum queue (with a dead-letter queue beside it), binds it to the events
exchange with each `--bind` pattern (`<tenant>.<stream kind>.<EventType>`, `*` one word, `#` any
number), and prints one JSON line per event. Delivery is at least once, so events are deduplicated
by `event_id`; this example remembers the last ids in memory, a real integration records them
with its own effect (in the same database transaction) so a restart does not repeat work.
Docs: docs/integrations.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

SEEN_LIMIT = 100_000


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/", help="RabbitMQ URL")
    parser.add_argument("--exchange", default="elasticthought.events", help="the events topic exchange")
    parser.add_argument("--queue", required=True, help="this integration's own queue (durable)")
    parser.add_argument("--bind", action="append", required=True, help="routing key pattern, e.g. 'acme.job.*'")
    return parser.parse_args(list(argv))


class Deduplicator:
    """The last `limit` event ids seen: a redelivered event is acknowledged without acting twice."""

    def __init__(self, limit: int = SEEN_LIMIT) -> None:
        self.limit = limit
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        if event_id in self._seen:
            return False
        self._seen[event_id] = None
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return True


def handle(envelope: dict[str, Any], routing_key: str) -> None:
    """The integration's effect; here, one JSON line on stdout."""
    print(json.dumps({"event_id": envelope["event_id"], "type": envelope["type"], "tenant_id": envelope["tenant_id"],
                      "stream_id": envelope["stream_id"], "routing_key": routing_key, "data": envelope["data"]}),
          flush=True)


async def consume(url: str, exchange_name: str, queue_name: str, patterns: Sequence[str], stop: asyncio.Event) -> None:
    connection = await aio_pika.connect_robust(url, client_properties={"connection_name": f"example-{queue_name}"})
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=50)
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        # A message that fails is kept in `<queue>.dlq` for a person to look at, never dropped.
        await channel.declare_queue(f"{queue_name}.dlq", durable=True, arguments={"x-queue-type": "quorum"})
        queue = await channel.declare_queue(queue_name, durable=True, arguments={
            "x-queue-type": "quorum", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{queue_name}.dlq"})
        for pattern in patterns:
            await queue.bind(exchange, routing_key=pattern)
        seen = Deduplicator()

        async def on_message(message: AbstractIncomingMessage) -> None:
            # Acked when the block ends without an error; an error dead-letters the message.
            async with message.process(requeue=False):
                envelope = json.loads(message.body)
                if seen.first_time(envelope["event_id"]):
                    handle(envelope, message.routing_key or "")

        tag = await queue.consume(on_message)
        print(json.dumps({"ready": True, "queue": queue_name, "bindings": list(patterns)}), flush=True)
        await stop.wait()
        await queue.cancel(tag)


async def main_async(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await consume(args.url, args.exchange, args.queue, args.bind, stop)


def main(argv: Sequence[str]) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
