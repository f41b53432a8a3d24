"""The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""

from __future__ import annotations

import hashlib
import hmac
import re

from services.api.webhooks.signing import signature, verify

SECRET = "whsec_test-secret-0123456789"
BODY = b'{"id":"e1","type":"TrainingJobSucceeded"}'


def test_header_has_the_timestamp_and_the_hex_hmac_of_timestamp_dot_body() -> None:
    header = signature(SECRET, BODY, 1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)


def test_a_receiver_accepts_the_signed_body_and_refuses_any_change() -> None:
    header = signature(SECRET, BODY, 1_700_000_000)
    assert verify(SECRET, BODY, header, now=1_700_000_010)
    assert not verify(SECRET, BODY + b" ", header, now=1_700_000_010)
    assert not verify("another-secret-0123456789", BODY, header, now=1_700_000_010)
    forged = header.replace("t=1700000000", "t=1700000005")
    assert not verify(SECRET, BODY, forged, now=1_700_000_010)


def test_a_receiver_refuses_an_old_timestamp_or_a_malformed_header() -> None:
    header = signature(SECRET, BODY, 1_700_000_000)
    assert not verify(SECRET, BODY, header, now=1_700_000_000 + 301)
    for bad in ("", "t=abc,v1=00", "v1=" + "0" * 64, "t=1700000000", "t=1,t=2,v1=00"):
        assert not verify(SECRET, BODY, bad, now=1_700_000_000)
