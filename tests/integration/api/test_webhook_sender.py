"""The sender against real local servers: private targets refused at send time, no redirects, time-boxed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.api.webhooks.sender import Sender

HEADERS = {"Content-Type": "application/json"}


async def _ok(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("http://169.254.169.254/latest/meta-data")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(status=200)


BIG = 256 * 1024 * 1024
WRITTEN = web.AppKey("written", list)  # list[int]: bytes the big handler got out before the sender hung up
BIG_DONE = web.AppKey("big_done", asyncio.Event)


async def _big(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(status=500)
    await response.prepare(request)
    try:
        for _ in range(BIG // (1024 * 1024)):
            await response.write(b"x" * (1024 * 1024))
            request.app[WRITTEN][0] += 1024 * 1024
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        request.app[BIG_DONE].set()
    return response


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app[WRITTEN] = [0]
    app[BIG_DONE] = asyncio.Event()
    app.router.add_post("/ok", _ok)
    app.router.add_post("/redirect", _redirect)
    app.router.add_post("/slow", _slow)
    app.router.add_post("/big", _big)
    running = TestServer(app, host="127.0.0.1")
    await running.start_server()
    try:
        yield running
    finally:
        await running.close()




async def test_a_2xx_answer_is_success_and_a_redirect_is_a_failure_that_is_not_followed(server: TestServer) -> None:
    async with Sender(timeout_s=2.0, allow_private=True) as sender:
        ok = await sender.post(str(server.make_url("/ok")), b"{}", HEADERS)
        assert (ok.succeeded, ok.status_code, ok.error) == (True, 204, None)
        moved = await sender.post(str(server.make_url("/redirect")), b"{}", HEADERS)
        assert not moved.succeeded and moved.status_code == 302
        assert moved.error is not None and "redirects are not followed" in moved.error


async def test_a_slow_receiver_times_out_and_a_huge_error_body_is_not_read(server: TestServer) -> None:
    async with Sender(timeout_s=0.5, allow_private=True) as sender:
        slow = await sender.post(str(server.make_url("/slow")), b"{}", HEADERS)
        assert slow.status_code is None and slow.error == "no answer within 0.5 s"
        assert slow.duration_s < 2.0
        big = await sender.post(str(server.make_url("/big")), b"{}", HEADERS)
        assert big.status_code == 500 and big.error == "answered 500 Internal Server Error"
    await asyncio.wait_for(server.app[BIG_DONE].wait(), 10)
    written: list[int] = server.app[WRITTEN]
    assert written[0] < BIG // 4, "the sender closed the connection instead of reading the body"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_private_targets_are_refused_at_send_time_when_not_allowed(server: TestServer, host: str) -> None:
    url = f"http://{host}:{server.port}/ok"
    async with Sender(timeout_s=2.0, allow_private=False) as sender:
        refused = await sender.post(url, b"{}", HEADERS)
    assert refused.status_code is None and refused.error is not None
    assert "refusing to connect" in refused.error and "loopback" in refused.error
