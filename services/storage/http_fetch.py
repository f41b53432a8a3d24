"""Fetch an http(s) URL for a datafile without letting the URL reach inside the deployment.

Every connection goes through `CheckedResolver`: the host name is resolved once, every address
is checked, and aiohttp connects to exactly the addresses that were checked, so there is no window
for DNS rebinding between the check and the connect. Host names that are IP literals skip
resolvers, so they are checked before each request. Redirects are followed by hand (at most
`max_redirects`) so each hop is checked the same way; no proxy from the environment is used, and
the body is stored exactly as sent (no transparent decompression, which would be a bomb of its own).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import TypeVar

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from services.storage.errors import DatafileRejected
from services.storage.fetch_policy import FetchPolicy, check_declared_size, guarded
from shared.addresses import parse_address

T = TypeVar("T")
Sink = Callable[[AsyncIterable[bytes]], Awaitable[T]]

CHUNK = 256 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class CheckedResolver(AbstractResolver):
    """Resolves like the default resolver, then refuses the lookup if any address is not allowed."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = parse_address(result["host"])
            if address is None:  # a resolver answers addresses; anything else is not connectable
                raise DatafileRejected(f"refusing to fetch from {host}: it resolved to {result['host']!r}")
            self.policy.check_address(host, address)
        return results

    async def close(self) -> None:
        await self._inner.close()


async def fetch_http(url: str, policy: FetchPolicy, sink: Sink[T]) -> T:
    """Stream the body at `url` into `sink`; every refusal or failure is a `DatafileRejected`."""
    try:
        target = URL(url)
    except ValueError as e:
        raise DatafileRejected(f"not a valid URL: {url}") from e
    try:
        async with asyncio.timeout(policy.timeout_s):
            return await _fetch(target, policy, sink)
    except TimeoutError as e:
        raise DatafileRejected(f"the download of {url} did not finish within {policy.timeout_s:g} s") from e


async def _fetch(url: URL, policy: FetchPolicy, sink: Sink[T]) -> T:
    timeout = aiohttp.ClientTimeout(total=None, connect=policy.connect_timeout_s, sock_read=policy.rate_window_s)
    connector = aiohttp.TCPConnector(resolver=CheckedResolver(policy), use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False,
                                     trust_env=False) as session:
        for _ in range(policy.max_redirects + 1):
            _check_target(url, policy)
            try:
                async with session.get(url, allow_redirects=False, headers={"Accept-Encoding": "identity"}) as answer:
                    if answer.status in REDIRECTS and "Location" in answer.headers:
                        url = _next_hop(url, answer.headers["Location"])
                        continue
                    return await _drain(url, answer, policy, sink)
            except (aiohttp.ClientError, TimeoutError) as e:
                raise _failure(url, e, policy) from e
        raise DatafileRejected(f"{url} redirected more than {policy.max_redirects} times")


async def _drain(url: URL, answer: aiohttp.ClientResponse, policy: FetchPolicy, sink: Sink[T]) -> T:
    if answer.status != 200:
        raise DatafileRejected(f"{url} answered {answer.status} {answer.reason or ''}".rstrip())
    check_declared_size(answer.content_length, policy, str(url))
    return await sink(guarded(answer.content.iter_chunked(CHUNK), policy, str(url)))


def _check_target(url: URL, policy: FetchPolicy) -> None:
    if url.scheme not in ("http", "https") or not url.host:
        raise DatafileRejected(f"cannot fetch {url}: only http, https and s3 URLs with a host are supported")
    address = parse_address(url.host)
    if address is not None:
        policy.check_address(url.host, address)


def _next_hop(url: URL, location: str) -> URL:
    try:
        return url.join(URL(location))
    except ValueError as e:
        raise DatafileRejected(f"{url} redirected to an invalid location {location!r}") from e


def _failure(url: URL, error: BaseException, policy: FetchPolicy) -> DatafileRejected:
    """The reason a user sees for a network failure: what went wrong, with which host."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return DatafileRejected(f"cannot connect to {url.host}: {error.os_error.strerror or error.os_error}")
    if isinstance(error, (aiohttp.ServerTimeoutError, TimeoutError)):
        return DatafileRejected(f"{url} stopped sending data (nothing for {policy.rate_window_s:g} s)")
    if isinstance(error, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return DatafileRejected(f"the connection to {url.host} broke during the download: {error}")
    return DatafileRejected(f"cannot fetch {url}: {error}")
