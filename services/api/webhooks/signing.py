"""The signature of a webhook request: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

The timestamp is inside the signed text, so a receiver that rejects old timestamps also rejects a
captured request replayed later; `v1` names the scheme so another can be added beside it.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-ElasticThought-Signature"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does: the header parses, its time is recent, and a v1 digest matches."""
    fields = [part.partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in fields if key == "t"]
    digests = [value for key, _, value in fields if key == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > tolerance_s:
        return False
    expected = signature(secret, body, int(stamps[0])).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, digest) for digest in digests)
