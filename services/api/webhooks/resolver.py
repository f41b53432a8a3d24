"""A resolver that refuses non-public addresses at connect time, so DNS rebinding cannot reach inside.

A webhook's host was checked when it was registered, but a DNS name can point elsewhere by the time
a delivery is sent. aiohttp connects to exactly the addresses its resolver returns, so checking
them here leaves no window between the check and the connect. (IP-literal hosts skip resolvers and
are checked by the sender before each request.)
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from shared.addresses import parse_address, refusal


class AddressRefused(Exception):
    """Not an `OSError` on purpose: aiohttp passes other errors of a resolver through unchanged."""

    def __init__(self, host: str, address: str, why: str) -> None:
        self.host = host
        self.address = address
        self.why = why
        shown = host if host.strip("[]") == address else f"{host} ({address})"
        super().__init__(f"refusing to connect to {shown}: {why}")

    def __repr__(self) -> str:
        return f"AddressRefused({self.host!r}, {self.address!r}, {self.why!r})"


def check_address(host: str, text: str) -> None:
    """Raise `AddressRefused` unless `text` is a public unicast address."""
    address = parse_address(text)
    if address is None:
        raise AddressRefused(host, text, "the resolver did not answer an address")
    reason = refusal(address)
    if reason is not None:
        raise AddressRefused(host, text, reason)


class PublicOnlyResolver(AbstractResolver):
    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            check_address(host, result["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()
