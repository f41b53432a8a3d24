"""The rules a webhook URL must meet when it is registered.

http or https, well formed, at most 2000 characters, a host, no credentials in it (the signature is
how a receiver knows the sender). Unless the deployment allows private targets
(`webhook_allow_private`), the host must resolve, and only to public addresses (`shared.addresses`):
a webhook must not turn the API into a way of reaching the deployment's own network. Resolving now
only gives the user an early, clear answer; the sender checks the addresses again at every attempt,
since a DNS name can point elsewhere by then.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from yarl import URL

from shared.addresses import IPAddress, parse_address, refusal
from shared.events.webhooks import MAX_URL_LENGTH

RESOLVE_TIMEOUT_S = 5.0

Resolve = Callable[[str, int], Awaitable[list[str]]]


class UrlRefused(ValueError):
    def __init__(self, url: str, why: str) -> None:
        self.url = url
        self.why = why
        super().__init__(f"url {url[:200]!r} {why}")

    def __repr__(self) -> str:
        return f"UrlRefused({self.url[:200]!r}, {self.why!r})"


def parse_url(text: str) -> URL:
    """The URL if its form is acceptable; raises `UrlRefused` naming what is wrong."""
    if len(text) > MAX_URL_LENGTH:
        raise UrlRefused(text, f"is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise UrlRefused(text, "contains whitespace or control characters")
    try:
        url = URL(text)
        port = url.port
    except ValueError:
        raise UrlRefused(text, "is not a well-formed URL") from None
    if url.scheme not in ("http", "https"):
        raise UrlRefused(text, "must be an http or https URL")
    if not url.host or port is None:
        raise UrlRefused(text, "has no host")
    if url.user is not None or url.password is not None:
        raise UrlRefused(text, "must not carry credentials (receivers check the signature instead)")
    return url


async def check_url(text: str, *, allow_private: bool, resolve: Resolve | None = None) -> str:
    """`text` if it is an acceptable webhook URL now; raises `UrlRefused`."""
    url = parse_url(text)
    if allow_private:
        return text
    host, port = url.raw_host or "", url.port or 0
    literal = parse_address(host)
    if literal is not None:
        _check_public(text, host, [literal])
        return text
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            found = await (resolve or resolve_host)(host, port)
    except (OSError, TimeoutError):
        raise UrlRefused(text, f"names a host that does not resolve: {host}") from None
    addresses = [parse_address(a) for a in found]
    _check_public(text, host, [a for a in addresses if a is not None])
    if not found or None in addresses:
        raise UrlRefused(text, f"names a host that does not resolve to addresses: {host}")
    return text


def _check_public(text: str, host: str, addresses: list[IPAddress]) -> None:
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            shown = host if host.strip("[]") == str(address) else f"{host} ({address})"
            raise UrlRefused(text, f"points to {shown}, {reason}: webhooks go to public addresses only")


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
