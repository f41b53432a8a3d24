"""`AsyncClient`: the SDK on asyncio (httpx.AsyncClient), the same methods as `Client`, awaitable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import replace
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import httpx

from elasticthought.client import http
from elasticthought.client.api import Api
from elasticthought.client.calls import Call, Pause, Plan, Reply, Step
from elasticthought.client.errors import ConnectionFailed, ElasticThoughtError
from elasticthought.client.operation import AsyncRunner
from elasticthought.client.streams import StreamSpec
from elasticthought.client.uploads import async_chunks

T = TypeVar("T")


class AsyncClient(Api, AsyncRunner):
    """Every API operation as a coroutine: `await AsyncClient(url, token).get_training_job(id)`.

    Use `async with` (or `await aclose()`). Streams (`follow_training_log`, `events`) are async
    iterators; wrap them in `contextlib.aclosing` to close the connection as soon as you stop.
    """

    def __init__(self, url: str, token: str | None = None, *, timeout_s: float | None = http.DEFAULT_TIMEOUT_S,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.url = http.base_url(url)
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._http = httpx.AsyncClient(base_url=self.url, headers=http.default_headers(token),
                                       timeout=http.timeout(timeout_s), transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"

    # --- running plans ----------------------------------------------------------------------

    async def run_plan(self, plan: Plan[T]) -> T:
        try:
            step = next(plan)
            while True:
                try:
                    outcome = await self._perform(step)
                except ElasticThoughtError as e:  # the plan may handle it; if not, it comes back out
                    step = plan.throw(e)
                else:
                    step = plan.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            plan.close()

    async def _perform(self, step: Step) -> Reply | None:
        if isinstance(step, Pause):
            await self._sleep(step.seconds)
            return None
        return await self._execute(step)

    async def _execute(self, call: Call) -> Reply:
        async with self._open(call, limits=http.timeout(self.timeout_s)) as response:
            if call.save_to is not None:
                await self._save(call, response)
                return http.reply_of(response, None)
            await response.aread()
            return http.reply_of(response, http.decode(call, response))

    @asynccontextmanager
    async def _open(self, call: Call, *, limits: httpx.Timeout) -> AsyncIterator[httpx.Response]:
        """Send `call` and hold its answer open for streaming; an error answer raises its ApiError."""
        async with AsyncExitStack() as stack:
            files = stack.enter_context(ExitStack())
            kwargs: dict[str, Any] = http.request_kwargs(call, files)
            if call.upload is not None:
                kwargs["content"] = async_chunks(call.upload)
            request = self._http.build_request(**kwargs, timeout=limits)
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as e:
                raise http.connection_failed(self.url, e) from e
            stack.push_async_callback(response.aclose)
            try:
                if http.is_error(call, response):
                    await response.aread()
                    raise http.api_error(call, response)
                yield response
            except httpx.TransportError as e:
                raise http.connection_failed(self.url, e) from e

    async def _save(self, call: Call, response: httpx.Response) -> None:
        """Chunks go to the file through a thread: disk writes never block the event loop."""
        assert call.save_to is not None
        target, total, done = call.save_to, http.content_length(response.headers), 0
        part = http.partial_path(target)
        try:
            f: BinaryIO = await asyncio.to_thread(part.open, "wb")
            try:
                async for chunk in response.aiter_bytes():
                    await asyncio.to_thread(f.write, chunk)
                    done += len(chunk)
                    if call.progress is not None:
                        call.progress(done, total)
            finally:
                await asyncio.to_thread(f.close)
            await asyncio.to_thread(part.replace, target)
        finally:
            await asyncio.to_thread(part.unlink, missing_ok=True)

    # --- running streams --------------------------------------------------------------------

    async def run_stream(self, spec: StreamSpec[T]) -> AsyncGenerator[T, None]:
        decoder = spec.decoder()
        broken = 0
        while True:
            call = replace(spec.call, headers={**spec.call.headers, **decoder.resume_headers()})
            try:
                async with self._open(call, limits=http.timeout(self.timeout_s, streaming=True)) as response:
                    async for line in response.aiter_lines():
                        items = decoder.feed(line)
                        if items:
                            broken = 0
                        for item in items:
                            yield item
            except ConnectionFailed:
                if not spec.resumable or broken >= spec.max_reconnects:
                    raise
            else:
                if not spec.resumable:
                    return
            broken += 1
            if broken > spec.max_reconnects:
                raise ConnectionFailed(self.url, f"the stream closed {broken} times in a row")
            await self._sleep(decoder.retry_delay_s())
