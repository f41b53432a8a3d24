"""The benchmark's HTTP client of the API: JSON calls that raise on errors, and state polling."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

POLL_S = 0.2
# TrainingLogAppended events can hold up to 128 KiB of lines: a server-sent `data:` line of that size
# must fit the reader's buffer.
READ_BUFSIZE = 4 * 1024 * 1024


class ApiCallFailed(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: object) -> None:
        super().__init__(f"{method} {path}: {status} {body}")
        self.method, self.path, self.status, self.body = method, path, status, body


class Api:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        async with self.session.request(method, self.url + path, headers=headers, **kwargs) as response:
            body = await response.json(content_type=None)
            if response.status >= 300:
                raise ApiCallFailed(method, path, response.status, body)
            return body

    async def wait_state(self, path: str, token: str, states: set[str], timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            body: dict[str, Any] = await self.call("GET", path, token)
            if body["state"] in states:
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} still {body['state']} after {timeout_s:.0f}s, wanted {sorted(states)}")
            await asyncio.sleep(POLL_S)


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(read_bufsize=READ_BUFSIZE, timeout=aiohttp.ClientTimeout(total=None, connect=30))
