"""The API over a MongoDB it loses: 503 problem+json with Retry-After, not ready, and back when it returns.

The event store is the real MongoDB-wire server behind a TCP proxy that the test cuts; the bus and
blobs are the embedded ones (they are not what is under test).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from services.api.app import create_app
from shared.blobs.local import LocalBlobStore
from shared.bus.memory import MemoryBus
from shared.eventstore.factory import open_event_store
from shared.runtime import Backends
from shared.settings import Mode, Settings
from tests.integration.api.jobs_world import ADMIN_TOKEN, World
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.mongo, pytest.mark.timeout(60)]

TIMEOUT_S = 1.0  # ET_MONGO_TIMEOUT_S of the API under test: how long a call waits for the server


@asynccontextmanager
async def api_over_proxy(mongo_url: str, database: str, tmp_path: Path) -> AsyncIterator[tuple[World, TcpProxy]]:
    host, _, port = mongo_url.split("//", 1)[1].split("/", 1)[0].rpartition(":")
    proxy = await TcpProxy(host, int(port)).start()
    settings = Settings(mode=Mode.PRODUCTION, data_dir=tmp_path, mongo_url=proxy.url_for(mongo_url),
                        mongo_db=database, mongo_timeout_s=TIMEOUT_S, admin_token=SecretStr(ADMIN_TOKEN),
                        api_token_cache_s=0.0)
    store = await open_event_store(settings)
    blobs = LocalBlobStore(tmp_path / "blobs", url_base="http://127.0.0.1:1", url_secret=b"test")
    backends = Backends(store=store, bus=MemoryBus(), blobs=blobs)
    server = TestServer(create_app(settings, store=store, bus=backends.bus, blobs=blobs), host="127.0.0.1")
    try:
        await server.start_server()
        async with aiohttp.ClientSession() as session:
            yield World(backends, str(server.make_url("")).rstrip("/"), session), proxy
    finally:
        await server.close()
        await store.close()
        await proxy.close()
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
        async with client:
            await client.drop_database(database)


async def test_lost_event_store_answers_503_with_retry_after_and_recovers(
    mongo_url: str, unique_name: str, tmp_path: Path,
) -> None:
    async with api_over_proxy(mongo_url, unique_name.replace("-", "_"), tmp_path) as (world, proxy):
        tenant = await world.tenant("acme")
        status, _ = await world.call("GET", "/v1/training-jobs", tenant.member)
        assert status == 200

        proxy.refuse()
        started = time.monotonic()
        async with world.request("GET", "/v1/training-jobs", tenant.member) as response:
            assert response.status == 503
            assert response.content_type == "application/problem+json"
            assert int(response.headers["Retry-After"]) > 0
            body = await response.json(content_type=None)
        assert body["status"] == 503 and "event store is unavailable" in body["detail"]
        assert time.monotonic() - started < TIMEOUT_S + 4, "the request waited on the lost server too long"
        status, ready = await world.call("GET", "/readyz", None)
        assert status == 503 and "store" in ready["failed"]

        proxy.restore()
        status, _ = await world.call("GET", "/v1/training-jobs", tenant.member)
        assert status == 200
        status, ready = await world.call("GET", "/readyz", None)
        assert status == 200, ready
