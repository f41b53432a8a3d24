"""A real HTTP server on 127.0.0.1 that records the webhook requests it receives."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDict


@dataclass(frozen=True)
class Received:
    headers: CIMultiDict[str]  # case-insensitive, as HTTP headers are
    body: bytes

    def json(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found

    def signed_with(self, secret: str, *, tolerance_s: int = 120) -> bool:
        """Checked the way the integration docs tell receivers to check it, independently of the sender's code."""
        parts = dict(part.split("=", 1) for part in self.headers["X-ElasticThought-Signature"].split(","))
        expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + self.body, hashlib.sha256).hexdigest()
        return abs(time.time() - int(parts["t"])) <= tolerance_s and hmac.compare_digest(expected, parts["v1"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Receiver:
    """Answers `status` to every POST on `/hooks/et`; can be started late, stopped and started again."""

    def __init__(self, port: int | None = None, *, status: int = 200) -> None:
        self.port = port or free_port()
        self.status = status
        self.received: list[Received] = []
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/et"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks/et", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int, timeout_s: float = 15.0) -> list[Received]:
        async with asyncio.timeout(timeout_s):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return list(self.received)

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(CIMultiDict(request.headers), await request.read()))
        self._arrived.set()
        return web.Response(status=self.status, text="thanks")
