"""The API app over real HTTP on the embedded backends: health, readiness, problem+json errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.api.app import create_app
from services.api.problems import PROBLEM_JSON
from services.api.tokens import new_token
from shared.runtime import open_backends
from shared.settings import Mode, Settings

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(mode=Mode.EMBEDDED, data_dir=tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    """The app opening its own backends from settings, as `elasticthought service api` does."""
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def test_healthz_answers_while_the_process_serves(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_checks_store_bus_and_blobs(client: Client) -> None:
    response = await client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {"status": "ready", "checks": {"store": "ok", "bus": "ok", "blobs": "ok"}}


async def test_readyz_is_503_naming_the_backend_that_failed(settings: Settings) -> None:
    async with open_backends(settings) as backends:
        app = create_app(settings, store=backends.store, bus=backends.bus, blobs=backends.blobs)
        async with TestClient(TestServer(app)) as client:
            await backends.store.close()
            response = await client.get("/readyz")
            assert response.status == 503
            assert response.content_type == PROBLEM_JSON
            body = await response.json()
            assert body["failed"] == ["store"]
            assert body["checks"]["bus"] == "ok" and body["checks"]["blobs"] == "ok"


async def test_a_request_the_event_store_cannot_serve_is_a_503_to_retry(settings: Settings) -> None:
    async with open_backends(settings) as backends:
        app = create_app(settings, store=backends.store, bus=backends.bus, blobs=backends.blobs)
        async with TestClient(TestServer(app)) as client:
            await backends.store.close()  # every call now raises StoreUnavailable, as an unreachable server does
            token = new_token("acme").text  # well formed, so checking it needs the store
            response = await client.get("/v1/training-jobs", headers={"Authorization": f"Bearer {token}"})
            assert response.status == 503
            assert response.content_type == PROBLEM_JSON
            assert int(response.headers["Retry-After"]) > 0
            assert "event store is unavailable" in (await response.json())["detail"]


async def test_unknown_route_is_a_problem_json_404(client: Client) -> None:
    response = await client.get("/v0/nothing-here")
    assert response.status == 404
    assert response.content_type == PROBLEM_JSON
    assert await response.json() == {"type": "about:blank", "title": "Not Found", "status": 404,
                                     "detail": "no route for /v0/nothing-here"}


async def test_wrong_method_is_a_problem_json_405_keeping_allow(client: Client) -> None:
    response = await client.post("/healthz")
    assert response.status == 405
    assert response.content_type == PROBLEM_JSON
    assert "GET" in response.headers["Allow"]
