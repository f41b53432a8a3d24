"""The limits a URL fetch runs under: address checks, size and rate, counted on the bytes received."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest

from services.storage.errors import DatafileRejected
from services.storage.fetch_policy import FetchPolicy, check_declared_size, guarded
from shared.addresses import parse_address
from shared.settings import Settings


async def chunks(*parts: bytes, pause_s: float = 0.0) -> AsyncIterator[bytes]:
    for part in parts:
        if pause_s:
            await asyncio.sleep(pause_s)
        yield part


async def drain(source: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in source])


def address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    parsed = parse_address(text)
    assert parsed is not None
    return parsed


def test_private_address_is_refused_naming_host_and_address() -> None:
    policy = FetchPolicy(max_bytes=10)
    with pytest.raises(DatafileRejected) as refused:
        policy.check_address("db.internal", address("10.1.2.3"))
    assert refused.value.reason == "refusing to fetch from db.internal (10.1.2.3): a private address"


def test_allowed_network_admits_only_its_own_addresses() -> None:
    policy = FetchPolicy(max_bytes=10, allowed_networks=(ipaddress.ip_network("10.9.0.0/16"),))
    policy.check_address("mirror", address("10.9.3.4"))
    with pytest.raises(DatafileRejected):
        policy.check_address("other", address("10.8.3.4"))


def test_allow_private_admits_every_address() -> None:
    FetchPolicy(max_bytes=10, allow_private=True).check_address("127.0.0.1", address("127.0.0.1"))


def test_settings_give_the_policy() -> None:
    settings = Settings(max_datafile_bytes=123, url_allowed_networks="10.0.0.0/8, fd00::/8", url_rate_window_s=7)
    policy = FetchPolicy.from_settings(settings)
    assert policy.max_bytes == 123 and policy.rate_window_s == 7 and not policy.allow_private
    assert policy.allowed_networks == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


async def test_body_within_limits_passes_unchanged() -> None:
    assert await drain(guarded(chunks(b"ab", b"cd"), FetchPolicy(max_bytes=4), "u")) == b"abcd"


async def test_body_over_the_limit_is_refused_at_the_first_byte_too_many() -> None:
    with pytest.raises(DatafileRejected) as refused:
        await drain(guarded(chunks(b"ab", b"cd", b"e"), FetchPolicy(max_bytes=4), "http://x/a"))
    assert refused.value.reason == "http://x/a is larger than the limit of 4 bytes"


async def test_body_slower_than_the_minimum_rate_is_refused() -> None:
    policy = FetchPolicy(max_bytes=1000, min_rate_bytes_s=1000, rate_window_s=0.05)
    with pytest.raises(DatafileRejected) as refused:
        await drain(guarded(chunks(*[b"x"] * 10, pause_s=0.02), policy, "http://x/slow"))
    assert "slower than the minimum of 1000 bytes/s" in refused.value.reason


async def test_fast_body_meets_the_rate_across_windows() -> None:
    policy = FetchPolicy(max_bytes=10**6, min_rate_bytes_s=1000, rate_window_s=0.01)
    body = await drain(guarded(chunks(*[b"x" * 1000] * 5, pause_s=0.005), policy, "u"))
    assert len(body) == 5000


def test_declared_size_over_the_limit_is_refused_before_downloading() -> None:
    check_declared_size(None, FetchPolicy(max_bytes=4), "u")
    check_declared_size(4, FetchPolicy(max_bytes=4), "u")
    with pytest.raises(DatafileRejected, match="is 5 bytes, more than the limit of 4 bytes"):
        check_declared_size(5, FetchPolicy(max_bytes=4), "u")
