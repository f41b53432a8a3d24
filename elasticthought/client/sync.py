"""`Client`: the SDK with blocking I/O (httpx.Client), for scripts and the CLI."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar

import httpx

from elasticthought.client import http
from elasticthought.client.api import Api
from elasticthought.client.calls import Call, Pause, Plan, Reply, Step
from elasticthought.client.errors import ConnectionFailed, ElasticThoughtError
from elasticthought.client.operation import SyncRunner
from elasticthought.client.streams import StreamSpec
from elasticthought.client.uploads import sync_chunks

T = TypeVar("T")


class Client(Api, SyncRunner):
    """Every API operation as a blocking method: `Client(url, token).get_training_job(id)`.

    Use it as a context manager (or call `close`) to release its connections. `transport` replaces
    the network (httpx.MockTransport in tests); `sleep` is what waits between polls.
    """

    def __init__(self, url: str, token: str | None = None, *, timeout_s: float | None = http.DEFAULT_TIMEOUT_S,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = http.base_url(url)
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.url, headers=http.default_headers(token),
                                  timeout=http.timeout(timeout_s), transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # --- running plans ----------------------------------------------------------------------

    def run_plan(self, plan: Plan[T]) -> T:
        try:
            step = next(plan)
            while True:
                try:
                    outcome = self._perform(step)
                except ElasticThoughtError as e:  # the plan may handle it; if not, it comes back out
                    step = plan.throw(e)
                else:
                    step = plan.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            plan.close()

    def _perform(self, step: Step) -> Reply | None:
        if isinstance(step, Pause):
            self._sleep(step.seconds)
            return None
        return self._execute(step)

    def _execute(self, call: Call) -> Reply:
        with self._open(call, limits=http.timeout(self.timeout_s)) as response:
            if call.save_to is not None:
                self._save(call, response)
                return http.reply_of(response, None)
            response.read()
            return http.reply_of(response, http.decode(call, response))

    @contextmanager
    def _open(self, call: Call, *, limits: httpx.Timeout) -> Iterator[httpx.Response]:
        """Send `call` and hold its answer open for streaming; an error answer raises its ApiError."""
        with ExitStack() as files:
            kwargs: dict[str, Any] = http.request_kwargs(call, files)
            if call.upload is not None:
                kwargs["content"] = sync_chunks(call.upload)
            request = self._http.build_request(**kwargs, timeout=limits)
            try:
                response = self._http.send(request, stream=True)
            except httpx.TransportError as e:
                raise http.connection_failed(self.url, e) from e
            try:
                if http.is_error(call, response):
                    response.read()
                    raise http.api_error(call, response)
                yield response
            except httpx.TransportError as e:
                raise http.connection_failed(self.url, e) from e
            finally:
                response.close()

    def _save(self, call: Call, response: httpx.Response) -> None:
        assert call.save_to is not None
        target, total, done = call.save_to, http.content_length(response.headers), 0
        part = http.partial_path(target)
        try:
            with part.open("wb") as f:
                for chunk in response.iter_bytes():
                    f.write(chunk)
                    done += len(chunk)
                    if call.progress is not None:
                        call.progress(done, total)
            part.replace(target)
        finally:
            part.unlink(missing_ok=True)

    # --- running streams --------------------------------------------------------------------

    def run_stream(self, spec: StreamSpec[T]) -> Generator[T, None, None]:
        decoder = spec.decoder()
        broken = 0
        while True:
            call = replace(spec.call, headers={**spec.call.headers, **decoder.resume_headers()})
            try:
                with self._open(call, limits=http.timeout(self.timeout_s, streaming=True)) as response:
                    for line in response.iter_lines():
                        items = decoder.feed(line)
                        if items:
                            broken = 0
                        yield from items
            except ConnectionFailed:
                if not spec.resumable or broken >= spec.max_reconnects:
                    raise
            else:
                if not spec.resumable:
                    return
            broken += 1
            if broken > spec.max_reconnects:
                raise ConnectionFailed(self.url, f"the stream closed {broken} times in a row")
            self._sleep(decoder.retry_delay_s())
