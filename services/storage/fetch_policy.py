"""The limits a URL fetch runs under, and the byte stream guard that enforces them.

A user's URL is untrusted in every dimension: where it points (see `addresses`), how large its
body is (headers lie, so bytes are counted as they arrive), how long it takes, and how slowly it
drips. A body that never ends is stopped by whichever comes first: the size limit, the total time
limit, or the minimum rate, which an attacker trickling one byte a second cannot meet.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field

from services.storage.errors import DatafileRejected
from shared.addresses import IPAddress, refusal
from shared.settings import Settings

MAX_REDIRECTS = 5

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    timeout_s: float = 3600.0
    connect_timeout_s: float = 30.0
    min_rate_bytes_s: int = 1024
    rate_window_s: float = 30.0
    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = field(default=())  # private networks allowed all the same
    max_redirects: int = MAX_REDIRECTS

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        networks = tuple(ipaddress.ip_network(text.strip()) for text in settings.url_allowed_networks.split(",")
                         if text.strip())
        return cls(max_bytes=settings.max_datafile_bytes, timeout_s=settings.url_fetch_timeout_s,
                   connect_timeout_s=settings.url_connect_timeout_s, min_rate_bytes_s=settings.url_min_rate_bytes_s,
                   rate_window_s=settings.url_rate_window_s, allow_private=settings.allow_private_urls,
                   allowed_networks=networks)

    def check_address(self, host: str, address: IPAddress) -> None:
        """Refuse connecting to `address` (what `host` named) unless it is public or explicitly allowed."""
        if self.allow_private or any(address in network for network in self.allowed_networks):
            return
        reason = refusal(address)
        if reason is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise DatafileRejected(f"refusing to fetch from {shown}: {reason}")


async def guarded(chunks: AsyncIterable[bytes], policy: FetchPolicy, source: str) -> AsyncIterator[bytes]:
    """Pass `chunks` through, refusing more than `max_bytes` or a rate below the minimum."""
    received = 0
    window_start = time.monotonic()
    window_bytes = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > policy.max_bytes:
            raise DatafileRejected(f"{source} is larger than the limit of {policy.max_bytes} bytes")
        window_bytes += len(chunk)
        elapsed = time.monotonic() - window_start
        if elapsed >= policy.rate_window_s:
            if window_bytes < policy.min_rate_bytes_s * elapsed:
                raise DatafileRejected(
                    f"{source} sent {window_bytes} bytes in {elapsed:.0f} s, slower than the minimum of "
                    f"{policy.min_rate_bytes_s} bytes/s")
            window_start, window_bytes = time.monotonic(), 0
        yield chunk


def check_declared_size(declared: int | None, policy: FetchPolicy, source: str) -> None:
    """Refuse before downloading when the server admits the body is too large."""
    if declared is not None and declared > policy.max_bytes:
        raise DatafileRejected(f"{source} is {declared} bytes, more than the limit of {policy.max_bytes} bytes")
