"""Which network addresses a user's URL may make a service connect to.

A URL a user submits (a datafile to fetch, a webhook to post to) is reached from inside the
deployment, next to its databases, brokers and cloud metadata endpoints. Only globally routable
unicast addresses are allowed by default; every private, loopback, link-local, multicast, reserved,
unspecified or shared (CGNAT) address is refused, for IPv4 and IPv6 alike, and an IPv4 address
hidden in IPv6 (mapped, 6to4, Teredo) is judged as the IPv4 address it carries, so wrapping cannot
sneak a private target through.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> IPAddress | None:
    """The address `text` spells (brackets and an IPv6 zone allowed), or None for a host name."""
    candidate = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def refusal(address: IPAddress) -> str | None:
    """Why connecting to `address` is refused, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)  # connecting to it is connecting to the IPv4 address
    for embedded in _embedded_ipv4(address):
        reason = refusal(embedded)
        if reason is not None:
            return reason
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [address.sixtofour]
    if address.teredo is not None:
        found.append(address.teredo[1])
    return [embedded for embedded in found if embedded is not None]
