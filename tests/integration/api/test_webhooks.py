"""Webhooks over real HTTP: a real receiver server gets signed events, late, again, once; bad input is 422.

Every test runs the API app on the embedded backends with a receiver (an aiohttp server on
127.0.0.1, so private targets are allowed) and a retry base of hundredths of a second, so the
hour-long schedule takes seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from services.api.app import create_app
from shared.events import Envelope
from shared.runtime import Backends, open_backends
from shared.settings import Settings
from tests.contract.bus.rabbitmq_harness import RabbitMQHarness
from tests.integration.api.jobs_world import TenantUsers, World, settings_for
from tests.integration.api.webhook_receiver import Receiver

Delivery = dict[str, Any]


def webhook_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"webhook_allow_private": True, "webhook_retry_base_s": 0.05,
                              "webhook_timeout_s": 2.0, **overrides}
    return settings_for(data_dir, **values)


@asynccontextmanager
async def serving(settings: Settings, backends: Backends) -> AsyncIterator[World]:
    server = TestServer(create_app(settings, store=backends.store, bus=backends.bus, blobs=backends.blobs),
                        host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield World(backends, str(server.make_url("")).rstrip("/"), session)
    finally:
        await server.close()


@asynccontextmanager
async def webhook_world(data_dir: Path, **overrides: Any) -> AsyncIterator[World]:
    settings = webhook_settings(data_dir, **overrides)
    async with open_backends(settings) as backends, serving(settings, backends) as world:
        yield world


async def register(world: World, token: str, url: str, events: list[str], **body: Any) -> dict[str, Any]:
    status, created = await world.call("POST", "/v1/webhooks", token, json={"url": url, "events": events, **body})
    assert status == 201, created
    return dict(created)


async def deliveries(world: World, token: str, webhook_id: str, query: str = "") -> list[Delivery]:
    status, answer = await world.call("GET", f"/v1/webhooks/{webhook_id}/deliveries{query}", token)
    assert status == 200, answer
    return list(answer["items"])


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def succeeded_job(world: World, tenant: TenantUsers) -> Envelope:
    """A training job run to success as the scheduler and a worker record it; its TrainingJobSucceeded."""
    job_id = await world.submit(tenant)
    await world.assign(tenant.tenant_id, job_id)
    await world.run_to_snapshot(tenant.tenant_id, job_id)
    await world.succeed(tenant.tenant_id, job_id)
    stream = await world.backends.store.read_stream(tenant.tenant_id, f"job-{job_id}")
    return next(e for e in stream if e.type == "TrainingJobSucceeded")


async def test_a_receiver_gets_training_job_succeeded_signed_once(tmp_path: Path) -> None:
    receiver = await Receiver().start()
    try:
        async with webhook_world(tmp_path / "data") as world:
            tenant = await world.tenant("acme")
            created = await register(world, tenant.member, receiver.url, ["TrainingJobSucceeded"])
            secret = created["secret"]
            assert secret.startswith("whsec_") and len(secret) > 40
            succeeded = await succeeded_job(world, tenant)

            [received] = await receiver.wait_for(1)
            assert received.signed_with(secret)
            assert received.headers["Content-Type"] == "application/json"
            assert received.headers["X-ElasticThought-Event"] == "TrainingJobSucceeded"
            body = received.json()
            assert body["id"] == str(succeeded.event_id) and body["type"] == "TrainingJobSucceeded"
            assert (body["tenant_id"], body["stream_id"]) == (tenant.tenant_id, succeeded.stream_id)
            assert body["data"]["iteration"] == 100 and body["occurred_at"].startswith(str(succeeded.occurred_at.year))

            async def settled() -> bool:
                found = await deliveries(world, tenant.member, created["id"])
                return bool(found) and found[0]["state"] == "succeeded"

            await until(settled, what="the delivery to be recorded as succeeded")
            [item] = await deliveries(world, tenant.member, created["id"])
            assert received.headers["X-ElasticThought-Delivery"] == item["id"]
            assert (item["attempts"], item["last_status_code"], item["event_id"]) == (1, 200, str(succeeded.event_id))

            await world.backends.bus.publish([succeeded])  # the same event consumed again (a redelivery)
            await asyncio.sleep(0.5)
            assert len(receiver.received) == 1 and len(await deliveries(world, tenant.member, created["id"])) == 1

            listed = await world.call("GET", "/v1/webhooks", tenant.owner)
            shown = await world.call("GET", f"/v1/webhooks/{created['id']}", tenant.owner)
            assert shown[1]["deliveries"] == {"pending": 0, "succeeded": 1, "failed": 0}
            log = await world.backends.store.read_log(tenant.tenant_id)
            for text in (str(listed), str(shown), *(e.model_dump_json() for e in log)):
                assert secret not in text, "the secret is shown once and never listed or logged"
    finally:
        await receiver.stop()


async def test_a_receiver_that_is_down_for_a_while_gets_the_event_after_it_comes_back(tmp_path: Path) -> None:
    receiver = Receiver()  # its port is closed until it starts
    try:
        async with webhook_world(tmp_path / "data") as world:
            tenant = await world.tenant("acme")
            created = await register(world, tenant.member, receiver.url, ["TrainingJobSucceeded"],
                                     secret="my-own-secret-0123456789")
            assert created["secret"] is None, "a secret the user chose is not echoed"
            succeeded = await succeeded_job(world, tenant)

            async def failed_twice() -> bool:
                found = await deliveries(world, tenant.member, created["id"])
                return bool(found) and found[0]["attempts"] >= 2

            await until(failed_twice, what="two failed attempts")
            [pending] = await deliveries(world, tenant.member, created["id"])
            assert pending["state"] == "pending" and "cannot connect" in pending["last_error"]
            assert pending["next_attempt_at"] is not None

            await receiver.start()
            [received] = await receiver.wait_for(1)
            assert received.signed_with("my-own-secret-0123456789")
            assert received.json()["id"] == str(succeeded.event_id)
    finally:
        await receiver.stop()


async def test_a_receiver_that_stays_down_fails_visibly_and_redeliver_sends_it_again(tmp_path: Path) -> None:
    receiver = Receiver()
    try:
        async with webhook_world(tmp_path / "data", webhook_retry_base_s=0.01) as world:
            tenant = await world.tenant("acme")
            created = await register(world, tenant.member, receiver.url, ["DatasetBuilt"])
            await world.dataset(tenant.tenant_id)

            async def failed() -> bool:
                found = await deliveries(world, tenant.member, created["id"], "?state=failed")
                return bool(found)

            await until(failed, timeout_s=30, what="the delivery to give up")
            [item] = await deliveries(world, tenant.member, created["id"])
            assert item["state"] == "failed" and item["next_attempt_at"] is None
            assert item["attempts"] >= 8 and "gave up after" in item["failure_reason"]

            await receiver.start()
            status, answer = await world.call(
                "POST", f"/v1/webhooks/{created['id']}/deliveries/{item['id']}/redeliver", tenant.owner)
            assert (status, answer) == (202, {"id": item["id"], "state": "pending"})
            [received] = await receiver.wait_for(1)
            assert received.headers["X-ElasticThought-Delivery"] == item["id"]
            assert received.signed_with(created["secret"])

            async def succeeded() -> bool:
                return bool((await deliveries(world, tenant.member, created["id"]))[0]["state"] == "succeeded")

            await until(succeeded, what="the redelivery to succeed")
            for missing in ("0" * 16, "not-an-id"):
                status, _ = await world.call(
                    "POST", f"/v1/webhooks/{created['id']}/deliveries/{missing}/redeliver", tenant.owner)
                assert status == 404
    finally:
        await receiver.stop()


async def test_pending_deliveries_survive_a_restart_of_the_api(tmp_path: Path) -> None:
    receiver = Receiver()
    async with webhook_world(tmp_path / "data") as world:
        tenant = await world.tenant("acme")
        created = await register(world, tenant.member, receiver.url, ["DatasetBuilt"])
        await world.dataset(tenant.tenant_id)

        async def attempted() -> bool:
            found = await deliveries(world, tenant.member, created["id"])
            return bool(found) and found[0]["attempts"] >= 1

        await until(attempted, what="a failed attempt before the restart")
    await receiver.start()
    try:
        async with webhook_world(tmp_path / "data") as world:  # a new process: nothing in memory, same log
            [received] = await receiver.wait_for(1)
            assert received.json()["type"] == "DatasetBuilt" and received.signed_with(created["secret"])
    finally:
        await receiver.stop()


async def test_two_api_instances_deliver_each_event_once(tmp_path: Path) -> None:
    receiver = await Receiver().start()
    settings = webhook_settings(tmp_path / "data")
    try:
        async with open_backends(settings) as backends, serving(settings, backends) as first, \
                serving(settings, backends) as second:
            tenant = await first.tenant("acme")
            await register(second, tenant.member, receiver.url, ["DatasetBuilt"])
            for _ in range(6):
                await first.dataset(tenant.tenant_id)
            received = await receiver.wait_for(6)
            await asyncio.sleep(0.5)
            assert len(receiver.received) == 6
            assert len({r.json()["id"] for r in received}) == 6
    finally:
        await receiver.stop()


@pytest.mark.rabbitmq
async def test_two_api_instances_on_rabbitmq_deliver_each_event_once(tmp_path: Path, amqp_url: str,
                                                                     unique_name: str) -> None:
    """Production's shape: each instance its own broker connection, the `webhooks` queue shared."""
    receiver = await Receiver().start()
    rabbitmq = RabbitMQHarness(amqp_url, unique_name)
    settings = webhook_settings(tmp_path / "data", queue_prefix=f"{unique_name}.")
    try:
        async with open_backends(settings, bus=await rabbitmq.open()) as backends, \
                serving(settings, backends) as first, \
                serving(settings, replace(backends, bus=await rabbitmq.open())) as second:
            tenant = await first.tenant("acme")
            created = await register(second, tenant.member, receiver.url, ["DatasetBuilt"])
            for _ in range(4):
                await first.dataset(tenant.tenant_id)
            received = await receiver.wait_for(4)
            await asyncio.sleep(0.5)
            assert len(receiver.received) == 4 and len({r.json()["id"] for r in received}) == 4
            assert all(r.signed_with(created["secret"]) for r in received)
    finally:
        await receiver.stop()
        await rabbitmq.cleanup()


async def test_bad_webhook_input_is_422_naming_the_field_and_creates_nothing(tmp_path: Path) -> None:
    async with webhook_world(tmp_path / "data", webhook_allow_private=False) as world:
        tenant = await world.tenant("acme")
        public = "https://93.184.215.14/hooks"  # a public address literal: no DNS needed
        cases: list[tuple[dict[str, Any], str]] = [
            ({"url": "not a url", "events": ["*"]}, "url"),
            ({"url": "ftp://93.184.215.14/x", "events": ["*"]}, "url"),
            ({"url": "https://93.184.215.14/" + "x" * 2000, "events": ["*"]}, "url"),
            ({"url": "http://127.0.0.1:8080/hooks", "events": ["*"]}, "url"),
            ({"url": "http://localhost/hooks", "events": ["*"]}, "url"),
            ({"url": "http://[::1]/hooks", "events": ["*"]}, "url"),
            ({"url": "http://[::ffff:10.0.0.1]/hooks", "events": ["*"]}, "url"),
            ({"url": "http://169.254.169.254/latest/meta-data", "events": ["*"]}, "url"),
            ({"url": public, "events": ["NoSuchEvent"]}, "events"),
            ({"url": public, "events": ["Dataset.*"]}, "events"),
            ({"url": public, "events": []}, "events"),
            ({"url": public, "events": ["*"], "secret": "short"}, "secret"),
            ({"url": public, "events": ["*"], "colour": "red"}, "colour"),
        ]
        for body, field in cases:
            status, problem = await world.call("POST", "/v1/webhooks", tenant.member, json=body)
            assert status == 422, (body, problem)
            assert field in {e["field"] for e in problem["errors"]}, (body, problem)
        status, problem = await world.call("POST", "/v1/webhooks", tenant.member, json={"url": public,
                                                                                         "events": ["Nope*"]})
        assert "TrainingJobSucceeded" in problem["event_types"]
        assert (await world.call("GET", "/v1/webhooks", tenant.member)) == (200, {"items": []})
        assert [b async for b in world.backends.blobs.list(tenant.tenant_id, "webhooks/")] == []
        log = await world.backends.store.read_log(tenant.tenant_id)
        assert not [e for e in log if e.type.startswith("Webhook")]


async def test_another_tenants_webhook_is_404_and_a_deleted_one_receives_nothing(tmp_path: Path) -> None:
    receiver = await Receiver().start()
    try:
        async with webhook_world(tmp_path / "data") as world:
            alpha, beta = await world.tenant("alpha"), await world.tenant("beta")
            created = await register(world, alpha.member, receiver.url, ["DatasetBuilt"])
            hook = f"/v1/webhooks/{created['id']}"
            for method, path in (("GET", hook), ("DELETE", hook), ("GET", hook + "/deliveries"),
                                 ("POST", hook + "/deliveries/" + "0" * 16 + "/redeliver")):
                status, _ = await world.call(method, path, beta.owner)
                assert status == 404, (method, path)
            assert (await world.call("GET", "/v1/webhooks", beta.owner)) == (200, {"items": []})

            status, _ = await world.call("DELETE", hook, alpha.member)
            assert status == 204
            assert (await world.call("GET", hook, alpha.member))[0] == 404
            assert (await world.call("DELETE", hook, alpha.member))[0] == 404
            assert [b async for b in world.backends.blobs.list(alpha.tenant_id, "webhooks/")] == []
            await world.dataset(alpha.tenant_id)
            await asyncio.sleep(0.5)
            assert receiver.received == []
    finally:
        await receiver.stop()
