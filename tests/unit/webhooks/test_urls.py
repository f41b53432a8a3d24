"""Webhook URL rules: form, length, and public addresses only (IPv4, IPv6, mapped and wrapped alike)."""

from __future__ import annotations

import pytest

from services.api.webhooks.resolver import AddressRefused, PublicOnlyResolver, check_address
from services.api.webhooks.urls import Resolve, UrlRefused, check_url, parse_url


def resolving_to(*addresses: str) -> Resolve:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def _unresolvable(host: str, port: int) -> list[str]:
    raise OSError("Name or service not known")


@pytest.mark.parametrize(("url", "why"), [
    ("not a url", "whitespace"),
    ("ftp://example.com/hook", "http or https"),
    ("example.com/hook", "http or https"),
    ("http:///hook", "has no host"),
    ("https://user:pw@example.com/hook", "credentials"),
    ("https://example.com/\x00", "control characters"),
    ("https://example.com:99999/hook", "well-formed"),
    ("https://example.com/" + "a" * 2000, "longer than 2000"),
])
def test_malformed_urls_are_refused_naming_the_problem(url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as raised:
        parse_url(url)
    assert why in raised.value.why


def test_well_formed_urls_pass() -> None:
    assert parse_url("https://hooks.example.com:8443/et?x=1").host == "hooks.example.com"
    assert parse_url("http://[2606:4700:4700::1111]/hook").port == 80


@pytest.mark.parametrize(("url", "kind"), [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10:8080/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[::1]/hook", "loopback"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[fd00::5]/hook", "private"),
    ("http://[::ffff:10.0.0.1]/hook", "private"),  # IPv4-mapped
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://[2002:a9fe:a9fe::1]/hook", "link-local"),  # 6to4 around 169.254.169.254
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://100.64.0.1/hook", "not a public address"),
])
async def test_private_address_literals_are_refused(url: str, kind: str) -> None:
    with pytest.raises(UrlRefused) as raised:
        await check_url(url, allow_private=False, resolve=_unresolvable)
    assert kind in raised.value.why and "public addresses only" in raised.value.why


async def test_a_host_name_is_judged_by_every_address_it_resolves_to() -> None:
    url = "https://hooks.example.com/et"
    assert await check_url(url, allow_private=False, resolve=resolving_to("93.184.215.14")) == url
    with pytest.raises(UrlRefused, match=r"10\.0\.0\.8"):
        await check_url(url, allow_private=False, resolve=resolving_to("93.184.215.14", "10.0.0.8"))
    with pytest.raises(UrlRefused, match="::1"):
        await check_url(url, allow_private=False, resolve=resolving_to("::1"))
    with pytest.raises(UrlRefused, match="does not resolve"):
        await check_url(url, allow_private=False, resolve=_unresolvable)


async def test_the_deployment_may_allow_private_targets() -> None:
    assert await check_url("http://127.0.0.1:9/hook", allow_private=True) == "http://127.0.0.1:9/hook"
    with pytest.raises(UrlRefused):
        await check_url("ftp://127.0.0.1/hook", allow_private=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:192.168.1.1", "169.254.169.254", "not-an-ip"])
def test_the_send_time_check_refuses_what_a_name_resolves_to_now(address: str) -> None:
    with pytest.raises(AddressRefused) as raised:
        check_address("rebinding.example", address)
    assert raised.value.host == "rebinding.example"
    check_address("hooks.example.com", "93.184.215.14")


async def test_the_resolver_refuses_a_lookup_with_any_private_answer() -> None:
    resolver = PublicOnlyResolver()
    try:
        with pytest.raises(AddressRefused, match="loopback"):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()
