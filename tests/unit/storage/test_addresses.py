"""Which addresses a user's URL may reach: only public unicast ones, however they are spelled."""

from __future__ import annotations

import pytest

from shared.addresses import parse_address, refusal


@pytest.mark.parametrize(("text", "reason"), [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.0.0.7", "a private address"),
    ("172.16.5.4", "a private address"),
    ("192.168.1.1", "a private address"),
    ("fd12:3456::1", "a private address"),
    ("169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("224.0.0.251", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("100.64.0.1", "not a public address"),  # shared address space (carrier-grade NAT)
    ("::ffff:10.0.0.1", "a private address"),  # IPv4-mapped
    ("::ffff:127.0.0.1", "a loopback address"),
    ("2002:a9fe:a9fe::1", "a link-local address"),  # 6to4 wrapping 169.254.169.254
    ("[::1]", "a loopback address"),
    ("fe80::1%eth0", "a link-local address"),
])
def test_non_public_addresses_are_refused_with_their_kind(text: str, reason: str) -> None:
    address = parse_address(text)
    assert address is not None
    assert refusal(address) == reason


@pytest.mark.parametrize("text", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(text: str) -> None:
    address = parse_address(text)
    assert address is not None and refusal(address) is None


@pytest.mark.parametrize("text", ["example.com", "localhost", "", "1.2.3", "[not-an-ip]"])
def test_host_names_are_not_addresses(text: str) -> None:
    assert parse_address(text) is None
